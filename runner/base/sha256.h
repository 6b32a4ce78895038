// SHA-256 of saved originals and of the files a probe checks, through OpenSSL's EVP
// interface (libcrypto): the digest every distribution already trusts and audits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "runner/base/status.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace firedrill {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The digest in lower-case hex; kInternal when OpenSSL failed at any step (it can only run
  // out of memory). The object must not be updated or finished again afterwards.
  Result<std::string> FinishHex();

  // The digest of `data` in lower-case hex, "" if OpenSSL failed.
  static std::string HexOf(std::string_view data);

 private:
  EVP_MD_CTX* ctx_;
  bool failed_ = false;
};

}  // namespace firedrill
