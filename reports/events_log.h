// DIR/events.jsonl: a training session's timeline as it happens, one JSON object a line
// ({"t_ms", "type", "name", "detail"}, the report's timeline entries), appended and flushed
// with each event, so that `firedrill train --observe DIR` (a game master's view) can
// follow it from another terminal while the trainee works.
#pragma once

#include <optional>
#include <string>

#include "runner/base/status.h"
#include "runner/engine/timeline.h"

namespace firedrill {

class EventsLog {
 public:
  EventsLog() = default;
  ~EventsLog();
  EventsLog(const EventsLog&) = delete;
  EventsLog& operator=(const EventsLog&) = delete;

  // Creates (or truncates) `path`, mode 0644.
  Status Open(const std::string& path);
  // One line, in one write. A failure is kept (error()) and later events are dropped: the
  // session must go on without its observer.
  void Append(const Event& e);
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string error_;
};

// The event of one line; nullopt for a line that is not one (cut short, not JSON).
std::optional<Event> ParseEventLine(const std::string& line);

}  // namespace firedrill
