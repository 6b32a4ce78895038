#include "runner/engine/sampler.h"

#include <algorithm>

namespace firedrill {

Sampler::Sampler(Env* env, Millis interval, const std::atomic<bool>* stop, Fn fn)
    : env_(env), interval_(interval), stop_(stop), fn_(std::move(fn)) {
  thread_ = std::thread([this] { Loop(); });
}

Sampler::~Sampler() {
  if (thread_.joinable()) thread_.join();
}

void Sampler::Loop() {
  int64_t next = env_->NowMs();
  while (!stop_->load()) {
    if (!fn_()) return;
    next += interval_.count();
    int64_t now = env_->NowMs();
    if (next < now) next = now;
    // Sleep in short slices so a stop is noticed quickly.
    while (!stop_->load() && env_->NowMs() < next) {
      env_->SleepMs(std::min<int64_t>(10, next - env_->NowMs()));
    }
  }
}

}  // namespace firedrill
