// SHA-256 (FIPS 180-4) for the file probe's checksum test. None of the project's
// dependencies offers a digest, and OpenSSL is not one of them, so this small, tested
// implementation stands in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace firedrill {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Finishes the hash. The object must not be updated or finished again afterwards.
  Digest Finish();

  static std::string Hex(const Digest& d);  // lower-case
  static std::string HexOf(std::string_view data);

 private:
  void Block(const uint8_t* p);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace firedrill
