#include "runner/base/sha256.h"

#include <openssl/evp.h>

namespace firedrill {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  failed_ = ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1;
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(const void* data, size_t size) {
  if (!failed_ && size > 0) failed_ = EVP_DigestUpdate(ctx_, data, size) != 1;
}

Result<std::string> Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (failed_ || EVP_DigestFinal_ex(ctx_, digest, &len) != 1) {
    failed_ = true;
    return Status::Internal("OpenSSL could not compute a SHA-256 digest (out of memory?)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

std::string Sha256::HexOf(std::string_view data) {
  Sha256 h;
  h.Update(data);
  auto hex = h.FinishHex();
  return hex.ok() ? *hex : "";
}

}  // namespace firedrill
