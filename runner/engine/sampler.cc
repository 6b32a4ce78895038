#include "runner/engine/sampler.h"

#include <algorithm>
#include <system_error>

namespace firedrill {

Sampler::Sampler(Env* env, Millis interval, const std::atomic<bool>* stop, Fn fn)
    : env_(env), interval_(interval), stop_(stop), fn_(std::move(fn)) {}

Result<std::unique_ptr<Sampler>> Sampler::Start(Env* env, Millis interval,
                                                const std::atomic<bool>* stop, Fn fn) {
  std::unique_ptr<Sampler> s(new Sampler(env, interval, stop, std::move(fn)));
  try {
    s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  } catch (const std::system_error& e) {
    return Status::Failed(std::string("cannot start a sampling thread: ") + e.what() +
                          " (the process or thread limit?)");
  }
  return s;
}

Sampler::~Sampler() {
  quit_ = true;
  if (thread_.joinable()) thread_.join();
}

void Sampler::Loop() {
  int64_t next = env_->NowMs();
  while (!Stopping()) {
    if (!fn_()) return;
    next += interval_.count();
    int64_t now = env_->NowMs();
    if (next < now) next = now;
    // Sleep in short slices so a stop is noticed quickly.
    while (!Stopping() && env_->NowMs() < next) {
      env_->SleepMs(std::min<int64_t>(10, next - env_->NowMs()));
    }
  }
}

}  // namespace firedrill
