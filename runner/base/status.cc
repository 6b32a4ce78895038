#include "runner/base/status.h"

namespace firedrill {

std::string Status::ToString() const {
  const char* name = "ok";
  switch (code_) {
    case Code::kOk:
      return "ok";
    case Code::kInvalid:
      name = "invalid";
      break;
    case Code::kUnsupported:
      name = "unsupported";
      break;
    case Code::kNotFound:
      name = "not found";
      break;
    case Code::kIo:
      name = "i/o error";
      break;
    case Code::kTimeout:
      name = "timeout";
      break;
    case Code::kFailed:
      name = "failed";
      break;
    case Code::kInternal:
      name = "internal error";
      break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace firedrill
