// A probe's sampling loop: one thread that calls a function at a fixed rate until told to
// stop. An overrun sample delays the next one and never stacks them.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

#include "runner/base/env.h"
#include "runner/base/values.h"

namespace firedrill {

class Sampler {
 public:
  using Fn = std::function<bool()>;  // returns false to stop sampling

  // Starts sampling now. REQUIRES: `env` and `stop` outlive the sampler.
  Sampler(Env* env, Millis interval, const std::atomic<bool>* stop, Fn fn);
  // Waits for the loop to end: set `stop` first (or let `fn` return false).
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

 private:
  void Loop();

  Env* env_;
  Millis interval_;
  const std::atomic<bool>* stop_;
  Fn fn_;
  std::thread thread_;
};

}  // namespace firedrill
