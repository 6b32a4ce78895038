// The run's timeline: every transition with a monotonic timestamp in ms since the drill
// started. Thread-safe; an optional sink sees each event as it is added (the live
// terminal view), which is the only way anything outside the engine hears of it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "runner/base/env.h"
#include "runner/base/redact.h"

namespace firedrill {

struct Event {
  int64_t t_ms = 0;
  std::string type;  // phase, service.started, probe.pass, fault.injected, ...
  std::string name;
  std::string detail;
};

class Timeline {
 public:
  using Sink = std::function<void(const Event&)>;

  explicit Timeline(Env* env) : env_(env), origin_ms_(env->NowMs()) {}

  // Milliseconds since the timeline was created.
  int64_t Now() const { return env_->NowMs() - origin_ms_; }
  // The run's time of a moment on the Env's clock (ProbeOutcome::observed_at_ms).
  int64_t FromEnvMs(int64_t env_ms) const { return env_ms - origin_ms_; }
  // The Env's clock at the origin: what turns the run's times back into that clock's.
  int64_t origin_env_ms() const { return origin_ms_; }

  // Stamps the event now and returns its time.
  int64_t Add(std::string type, std::string name, std::string detail = "");
  void AddAt(int64_t t_ms, std::string type, std::string name, std::string detail = "");

  std::vector<Event> Events() const;
  void SetSink(Sink sink);
  // Names and details pass through `r` (not owned) as they are added, before the sink.
  void SetRedactor(const Redactor* r);

 private:
  Env* env_;
  int64_t origin_ms_;
  mutable std::mutex mu_;
  std::vector<Event> events_;
  Sink sink_;
  const Redactor* redactor_ = nullptr;
};

}  // namespace firedrill
