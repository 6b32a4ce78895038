#include "reports/events_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "runner/base/atomic_file.h"
#include "runner/base/text.h"
#include "runner/base/utf8.h"

namespace firedrill {

EventsLog::~EventsLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status EventsLog::Open(const std::string& path) {
  fd_ =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) return Status::Io("cannot create " + path + ": " + ErrnoText(errno));
  return Status::Ok();
}

void EventsLog::Append(const Event& e) {
  if (fd_ < 0 || !error_.empty()) return;
  const nlohmann::json j = {{"t_ms", e.t_ms},
                            {"type", ValidUtf8(e.type)},
                            {"name", ValidUtf8(e.name)},
                            {"detail", ValidUtf8(e.detail)}};
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // Appended whole (O_APPEND): a reader takes what is before the last newline.
  if (Status st = WriteAll(fd_, line.data(), line.size(), "events.jsonl"); !st.ok()) {
    error_ = st.message();
  }
}

std::optional<Event> ParseEventLine(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("t_ms") || !j["t_ms"].is_number_integer() ||
      !j.contains("type") || !j["type"].is_string()) {
    return std::nullopt;
  }
  Event e;
  e.t_ms = j["t_ms"].get<int64_t>();
  e.type = j["type"].get<std::string>();
  e.name = j.value("name", std::string());
  e.detail = j.value("detail", std::string());
  return e;
}

}  // namespace firedrill
