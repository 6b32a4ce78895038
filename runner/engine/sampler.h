// A probe's sampling loop: one thread that calls a function at a fixed rate until told to
// stop. An overrun sample delays the next one and never stacks them.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "runner/base/env.h"
#include "runner/base/status.h"
#include "runner/base/values.h"

namespace firedrill {

class Sampler {
 public:
  using Fn = std::function<bool()>;  // returns false to stop sampling

  // Starts sampling now. A thread that cannot be created (the process or thread limit) is
  // kFailed saying so, never an exception: the run must still roll back and report.
  // REQUIRES: `env` and `stop` outlive the sampler.
  static Result<std::unique_ptr<Sampler>> Start(Env* env, Millis interval,
                                                const std::atomic<bool>* stop, Fn fn);
  // Stops the loop (whatever `stop` says) and waits for it.
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

 private:
  Sampler(Env* env, Millis interval, const std::atomic<bool>* stop, Fn fn);
  void Loop();
  bool Stopping() const { return stop_->load() || quit_.load(); }

  Env* env_;
  Millis interval_;
  const std::atomic<bool>* stop_;
  std::atomic<bool> quit_{false};
  Fn fn_;
  std::thread thread_;
};

}  // namespace firedrill
