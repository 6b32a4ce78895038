// SHA-256 (OpenSSL underneath) against the FIPS 180-2 vectors and, for every padding
// boundary, against the system's sha256sum: the wrapper's streaming and hex are what is tested.
#include "runner/base/sha256.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace firedrill {
namespace {

TEST(Sha256Test, Fips180Vectors) {
  EXPECT_EQ(Sha256::HexOf(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::HexOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::HexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// The FIPS one-million-'a' vector, fed in uneven pieces so that every buffering path runs.
TEST(Sha256Test, MillionAsInUnevenPieces) {
  const std::string a(1000000, 'a');
  Sha256 h;
  size_t at = 0;
  for (size_t piece = 1; at < a.size(); piece = piece * 7 % 191 + 1) {
    size_t n = std::min(piece, a.size() - at);
    h.Update(a.data() + at, n);
    at += n;
  }
  auto hex = h.FinishHex();
  ASSERT_TRUE(hex.ok()) << hex.status().ToString();
  EXPECT_EQ(*hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths 0..200 cross 55/56 and 63/64 (where padding needs a second block) several
// times; coreutils' sha256sum is the reference.
TEST(Sha256Test, EveryLengthMatchesSha256sum) {
  if (access("/usr/bin/sha256sum", X_OK) != 0) GTEST_SKIP() << "no sha256sum";
  char tmpl[] = "/tmp/fd-sha-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};

  std::string script;
  std::string data;
  for (int len = 0; len <= 200; ++len) {
    std::ofstream(dir + "/" + std::to_string(len), std::ios::binary) << data;
    data += static_cast<char>('!' + (len * 31) % 90);
  }
  std::string cmd = "cd " + dir + " && for i in $(seq 0 200); do sha256sum $i; done";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[256];
  int checked = 0;
  while (fgets(line, sizeof(line), p)) {
    std::string s(line);
    std::string want = s.substr(0, 64);
    int len = std::stoi(s.substr(66));
    EXPECT_EQ(Sha256::HexOf(std::string_view(data).substr(0, len)), want) << "length " << len;
    ++checked;
  }
  pclose(p);
  EXPECT_EQ(checked, 201);
}

}  // namespace
}  // namespace firedrill
