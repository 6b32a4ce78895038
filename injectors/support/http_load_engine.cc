#include "injectors/support/http_load_engine.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <thread>
#include <vector>

#include "injectors/support/http_load_worker.h"
#include "runner/base/curl.h"
#include "runner/base/text.h"

namespace firedrill {
namespace {

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatMs(double micros) {
  double ms = micros / 1000;
  if (ms < 10) return fmt::format("{:.2f} ms", ms);
  if (ms < 100) return fmt::format("{:.1f} ms", ms);
  return fmt::format("{:.0f} ms", ms);
}

// Besides the load's sockets: the process's other descriptors may grow while it runs
// (probes' connections, log files, children's pipes).
constexpr int64_t kSpareDescriptors = 256;

int64_t OpenDescriptors() {
  std::error_code ec;
  int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace

namespace load {

std::string ErrorWords(int system_errno, const std::string& otherwise) {
  return system_errno != 0 ? ErrnoText(system_errno) : otherwise;
}

bool IsLocalShortage(int system_errno) {
  return system_errno == EMFILE || system_errno == ENFILE || system_errno == ENOBUFS ||
         system_errno == ENOMEM || system_errno == EADDRNOTAVAIL;
}

}  // namespace load

void HttpLoadStats::Merge(const HttpLoadStats& o) {
  requests += o.requests;
  transport_errors += o.transport_errors;
  server_errors += o.server_errors;
  local_errors += o.local_errors;
  connections += o.connections;
  late += o.late;
  unsent += o.unsent;
  latency.Merge(o.latency);
  intended.Merge(o.intended);
  if (first_error.empty()) first_error = o.first_error;
  if (first_local_error.empty()) first_local_error = o.first_local_error;
  if (stopped_early.empty()) stopped_early = o.stopped_early;
}

std::string DescriptorShortfall(int64_t connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return "";
  const int64_t needed = OpenDescriptors() + connections + kSpareDescriptors;
  if (lim.rlim_max == RLIM_INFINITY || static_cast<int64_t>(lim.rlim_max) >= needed) return "";
  return fmt::format(
      "{} connections need {} file descriptors with what this process has open, and it may "
      "open at most {} (RLIMIT_NOFILE hard limit): lower concurrency, or raise the limit "
      "(ulimit -Hn, LimitNOFILE= under systemd)",
      connections, Thousands(static_cast<uint64_t>(needed)), Thousands(lim.rlim_max));
}

Status ReserveDescriptors(int64_t connections) {
  if (std::string why = DescriptorShortfall(connections); !why.empty()) {
    return Status::Failed(why);
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return Status::Ok();
  const auto needed = static_cast<rlim_t>(OpenDescriptors() + connections + kSpareDescriptors);
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    lim.rlim_cur = needed;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      return Status::Failed("cannot raise RLIMIT_NOFILE to " + std::to_string(needed) + ": " +
                            ErrnoText(errno));
    }
  }
  return Status::Ok();
}

struct HttpLoad::Impl {
  HttpLoadSpec spec;
  std::vector<std::unique_ptr<load::Worker>> workers;
  std::vector<std::thread> threads;
  load::Clock::time_point started{};
  std::vector<double> cpu_seconds;  // each thread's own, written as it ends
  bool joined = false;
  HttpLoadStats stats;

  void JoinAll() {
    for (auto& w : workers) w->Stop();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
};

HttpLoad::HttpLoad(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpLoad::~HttpLoad() {
  if (impl_) Stop();
}

Result<std::unique_ptr<HttpLoad>> HttpLoad::Start(HttpLoadSpec spec,
                                                  std::function<bool()> cancelled) {
  FD_RETURN_IF_ERROR(InitCurl());
  auto parsed = ParseDrillUrl(spec.url);
  if (!parsed.ok()) return Status::Invalid("URL " + spec.url + " " + parsed.status().message());
  const bool tls = UrlPart(parsed->get(), CURLUPART_SCHEME) == "https";
  auto impl = std::make_unique<Impl>();
  impl->spec = std::move(spec);
  const HttpLoadSpec& s = impl->spec;
  const int64_t threads = std::clamp<int64_t>(s.threads, 1, s.concurrency);
  impl->started = load::Clock::now();
  for (int64_t i = 0; i < threads; ++i) {
    load::WorkerSpec w;
    w.load = &impl->spec;
    w.connections = s.concurrency / threads + (i < s.concurrency % threads ? 1 : 0);
    // Each worker's share of the rate, in step with its share of the connections; their
    // schedules are staggered so that together they send one request every 1 / rate.
    w.rate = static_cast<double>(s.rate) * static_cast<double>(w.connections) /
             static_cast<double>(s.concurrency);
    w.start = impl->started;
    if (s.rate > 0) {
      w.start += std::chrono::nanoseconds(
          std::llround(static_cast<double>(i) * 1e9 / static_cast<double>(s.rate)));
    }
    w.cancelled = cancelled;
    auto made = tls ? load::MakeCurlWorker(std::move(w)) : load::MakeBeastWorker(std::move(w));
    if (!made.ok()) return made.status();
    impl->workers.push_back(std::move(*made));
  }
  impl->cpu_seconds.assign(impl->workers.size(), 0);
  for (size_t i = 0; i < impl->workers.size(); ++i) {
    try {
      // The thread's CPU clock starts with it, so its reading at the end is the whole
      // load's cost on this thread: what the benchmark divides by the requests.
      impl->threads.emplace_back([raw = impl->workers[i].get(), cpu = &impl->cpu_seconds[i]] {
        raw->Run();
        timespec ts{};
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) {
          *cpu = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
        }
      });
    } catch (const std::system_error& e) {
      impl->JoinAll();
      return Status::Internal(std::string("cannot start a load thread: ") + e.what());
    }
  }
  return std::unique_ptr<HttpLoad>(new HttpLoad(std::move(impl)));
}

HttpLoadStats HttpLoad::Stop() {
  if (!impl_->joined) {
    impl_->JoinAll();
    impl_->joined = true;
    load::Clock::time_point end = impl_->started;
    for (auto& w : impl_->workers) {
      impl_->stats.Merge(w->stats());
      end = std::max(end, w->ended());
    }
    impl_->stats.seconds = std::chrono::duration<double>(end - impl_->started).count();
    for (double c : impl_->cpu_seconds) impl_->stats.cpu_seconds += c;
  }
  return impl_->stats;
}

std::string DescribeHttpLoad(const HttpLoadStats& s) {
  double rate = s.seconds > 0 ? static_cast<double>(s.requests) / s.seconds : 0;
  std::string out = fmt::format("{} requests in {:.1f}s ({:.1f} req/s), ", Thousands(s.requests),
                                s.seconds, rate);
  uint64_t errors = s.transport_errors + s.server_errors;
  if (errors == 0) {
    out += "0 errors";
  } else {
    out += fmt::format(
        "{} errors ({} transport{}, {} HTTP 5xx)", Thousands(errors), Thousands(s.transport_errors),
        s.first_error.empty() ? "" : ": " + OneLine(s.first_error, 60), Thousands(s.server_errors));
  }
  if (s.latency.count() > 0) {
    out += ", p50 " + FormatMs(s.latency.Percentile(0.5)) + ", p99 " +
           FormatMs(s.latency.Percentile(0.99));
  }
  if (s.intended.count() > 0) {
    out += " (from due time: p99 " + FormatMs(s.intended.Percentile(0.99)) + ", max " +
           FormatMs(static_cast<double>(s.intended.max())) + ")";
  }
  if (s.late > 0 || s.unsent > 0) {
    out += fmt::format(", {} sent late, {} never sent", Thousands(s.late), Thousands(s.unsent));
  }
  if (s.local_errors > 0) {
    out += fmt::format(", {} not sent for want of local resources ({}; not the server's fault)",
                       Thousands(s.local_errors), OneLine(s.first_local_error, 60));
  }
  out += fmt::format("; {} connection{} opened", Thousands(s.connections),
                     s.connections == 1 ? "" : "s");
  if (!s.stopped_early.empty()) out += "; load stopped early: " + s.stopped_early;
  return out;
}

}  // namespace firedrill
