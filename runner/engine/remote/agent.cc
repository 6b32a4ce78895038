#include "runner/engine/remote/agent.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "injectors/fault_registry.h"
#include "probes/probe_registry.h"
#include "runner/base/event_loop.h"
#include "runner/base/net.h"
#include "runner/base/proc.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/drill/expand.h"
#include "runner/engine/remediation_plan.h"
#include "runner/engine/remote/protocol.h"
#include "runner/engine/services.h"
#include "runner/engine/timeline.h"
#include "runner/engine/workdir.h"
#include "runner/journal/journal.h"
#include "runner/loader/loader.h"

namespace firedrill {
namespace {

using nlohmann::json;

class Agent {
 public:
  explicit Agent(const AgentOptions& o) : o_(o), env_(Env::Default()), timeline_(env_) {}

  int Serve();

 private:
  // Requests that change the host run one at a time, in order, on the worker.
  void Worker();
  void Handle(const json& req);
  json Hello(const json& req);
  json Peers(const json& req);
  json StartService(const json& req);
  json PrepareFault(const json& req);
  json InjectFault(const json& req);
  json RollbackFault(const json& req);
  json Control(const json& req);
  // A remediation step of this host's, on a thread of its own (it may take its whole
  // timeout, and the host's faults must still roll back meanwhile); journaled while it runs.
  void Exec(const json& req);
  void Sample(const json& req);
  // Samples a probe on this host's own clock from now on, every `every_ms`, and streams
  // each result as {"event": "sample"}: the timing is the host's, not the connection's.
  void StartSchedule(const json& req);
  struct Schedule {
    std::mutex mu;
    Probe* probe = nullptr;
    std::string key;
    int64_t every_ms = 0;
    int64_t next_ms = 0;
    bool busy = false;
    std::unique_ptr<RunTimer> timer;
    // By the host's clock: each sample's start after its slot, and |gap between two
    // starts - every_ms| (µs), at most kKept of each.
    int64_t last_start_us = 0;
    std::vector<int64_t> late_us, jitter_us;
    int64_t samples = 0, skipped = 0;
  };
  static constexpr size_t kKept = 200000;
  // What this host's schedules did, for the controller's timeline.
  json ScheduleFigures();
  void Tick(Schedule& s);
  // Rolls back every fault still in place, stops the services, undoes what the journal
  // still holds and closes it. Returns what could not be put back.
  std::vector<std::string> RevertAll(const std::string& why);
  [[noreturn]] void DeadMan(const std::string& why);
  // This host's service logs (the end of each, at most 1 MiB), for the controller's report.
  json ServiceLogs() const;
  void Watchdog();

  void Reply(const json& req, json body) {
    body["id"] = req.value("id", int64_t{0});
    if (!body.contains("ok")) body["ok"] = true;
    Write(body);
  }
  void Error(const json& req, const std::string& why) {
    Reply(req, {{"ok", false}, {"error", why}});
  }
  void Write(const json& msg) {
    WriteRaw(msg.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  }
  // A scheduled sample's result: batched, and sent by the watchdog every 50 ms. A hundred
  // samples a second as a hundred writes would each cross sshd, the network and two ssh
  // processes on their own; their moments travel inside them, so nothing is lost by
  // sending them together.
  void Queue(const json& msg) {
    std::string line = msg.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::lock_guard lock(batch_mu_);
    batch_ += line;
  }
  void Flush() {
    std::string out;
    {
      std::lock_guard lock(batch_mu_);
      out.swap(batch_);
    }
    if (!out.empty()) WriteRaw(out);
  }
  void WriteRaw(const std::string& line) {
    std::lock_guard lock(out_mu_);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(o_.out_fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the controller is gone; the lease decides what happens next
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  void Log(const std::string& line) {
    std::ofstream(o_.dir + "/agent.log", std::ios::app)
        << FormatWallTime(env_->WallNow()) << " " << line << "\n";
  }
  static std::string FormatWallTime(std::chrono::system_clock::time_point t) {
    std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }
  Result<std::unique_ptr<Probe>> MakeProbe(const ProbeSpec& p) {
    const ProbeKind* k = FindProbeKind(p.kind);
    if (!k) return Status::Internal("unknown probe kind " + p.kind);
    if (std::string why = WhyNotRunnable(*k); !why.empty()) {
      return Status::Unsupported("probe kind " + p.kind + " on host " + o_.host + ": " + why);
    }
    return k->make(p.params, ctx_);
  }

  AgentOptions o_;
  Env* env_;
  Timeline timeline_;
  std::optional<Scenario> drill_;
  std::string workdir_;
  Expander expander_;
  NetworkPolicy network_;
  std::map<std::string, std::string> host_addresses_;
  RunContext ctx_;
  std::atomic<bool> cancel_{false};
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Services> services_;
  std::map<std::string, std::unique_ptr<Probe>> probes_;  // by the probe's line:column
  std::deque<FaultSpec> specs_;                           // faults keep references to theirs
  std::map<std::string, std::unique_ptr<Fault>> faults_;  // "NAME" or "NAME#peer"
  std::vector<std::string> injected_;                     // in the order injected
  std::mutex schedules_mu_;
  std::map<std::string, std::unique_ptr<Schedule>> schedules_;  // by probe

  std::mutex out_mu_;
  std::mutex batch_mu_;
  std::string batch_;
  std::mutex fault_mu_;  // the host changes one thing at a time
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<json> queue_;
  bool closing_ = false;
  std::atomic<int64_t> lease_ms_{0};
  std::atomic<int64_t> last_renew_ms_{0};
  std::atomic<bool> hello_done_{false};
  std::atomic<bool> reverting_{false};
  std::atomic<bool> any_service_{false};
  int64_t polls_ = 0;  // the watchdog's own
};

json Agent::Hello(const json& req) {
  const std::string text = req.value("drill", std::string());
  const std::string file = req.value("file", std::string("drill.yaml"));
  // The controller's ${env:NAME} values: a drill means the operator's environment wherever
  // its commands run.
  if (req.contains("env") && req["env"].is_object()) {
    for (const auto& [k, v] : req["env"].items()) {
      if (v.is_string()) ::setenv(k.c_str(), v.get<std::string>().c_str(), 1);
    }
  }
  // The drill is validated again here, where it acts: the blast radius is this host's own.
  LoadOptions opts{.require_runnable = true};
  // The controller's reading of hosts_from: neither the inventory nor Ansible need be here.
  if (req.contains("inventory") && req["inventory"].is_string() &&
      !req["inventory"].get<std::string>().empty()) {
    opts.inventory_json = req["inventory"].get<std::string>();
  }
  LoadResult loaded = LoadScenarioText(text, file, opts);
  if (!loaded.ok()) {
    std::string why = loaded.errors.empty() ? "not a drill" : loaded.errors[0].ToString();
    return {{"ok", false}, {"error", "on host " + o_.host + ": " + why}};
  }
  drill_ = std::move(*loaded.scenario);
  workdir_ = o_.dir + "/work";
  std::error_code ec;
  std::filesystem::create_directories(workdir_, ec);
  ::chmod(workdir_.c_str(), 0700);

  std::map<std::string, int> ports;
  if (req.contains("ports") && req["ports"].is_object()) {
    for (const auto& [k, v] : req["ports"].items()) {
      if (v.is_number_integer()) ports[k] = v.get<int>();
    }
  }
  expander_ = Expander(workdir_, ports);
  expander_.SetHosts(&host_addresses_);
  auto j = CreateRunJournal(o_.dir + "/state",
                            RunIdentity{.drill_name = drill_->name,
                                        .drill_file = file,
                                        .started_at = env_->WallNow(),
                                        .workdir = workdir_},
                            FaultUndoKinds());
  if (!j.ok()) {
    return {{"ok", false},
            {"error", "on host " + o_.host +
                          ": cannot create the rollback journal: " + j.status().message()}};
  }
  journal_ = std::move(*j);
  auto loop = EventLoop::Start(env_, 2, 2);
  if (!loop.ok()) return {{"ok", false}, {"error", loop.status().message()}};
  loop_ = std::move(*loop);
  ctx_.env = env_;
  ctx_.expander = &expander_;
  ctx_.workdir = workdir_;
  ctx_.cancel = &cancel_;
  ctx_.journal = journal_.get();
  ctx_.loop = loop_.get();
  ctx_.allow_processes = drill_->settings.allow_processes;
  ctx_.network = &network_;
  ctx_.host_addresses = &host_addresses_;
  std::vector<std::string> allow = drill_->settings.allow_paths;
  if (allow.empty()) allow.push_back(workdir_);
  for (const auto& a : allow) {
    auto e = expander_.Expand(a);
    if (!e.ok()) return {{"ok", false}, {"error", "settings.allow_paths: " + e.status().message()}};
    ctx_.allow_paths.push_back(*e);
  }
  services_ = std::make_unique<Services>(env_, &timeline_, workdir_, workdir_ + "/logs");
  services_->SetJournal(journal_.get(), drill_->settings.stop_grace);
  ctx_.services = services_.get();
  // What happens to this host's services reaches the controller's timeline.
  timeline_.SetSink([this](const Event& e) {
    if (e.type.rfind("service.", 0) != 0) return;
    Write({{"event", "timeline"},
           {"type", e.type},
           {"name", e.name},
           {"detail", e.detail},
           {"t_us", MonotonicUs()}});
  });

  // Every probe of this host is built now, so that a sample costs a sample and nothing
  // else; a service's ready check runs where the service does.
  Status st;
  ForEachProbe(*drill_, [&](const ProbeSpec& p, const ServiceSpec* service) {
    const bool here = (p.params.Has("host") && p.params.String("host") == o_.host) ||
                      (service && service->host == o_.host);
    if (!here || !st.ok()) return;
    auto made = MakeProbe(p);
    if (!made.ok()) {
      st = made.status();
      return;
    }
    probes_[ProbeKey(p.mark)] = std::move(*made);
  });
  if (!st.ok()) return {{"ok", false}, {"error", "on host " + o_.host + ": " + st.message()}};

  lease_ms_ = req.value("lease_ms", int64_t{0});
  last_renew_ms_ = env_->NowMs();
  hello_done_ = true;
  // The address the controller reached this host at (sshd's own record of the
  // connection): the one its peers are partitioned from.
  std::string address;
  if (const char* c = getenv("SSH_CONNECTION")) {
    std::istringstream words(c);
    std::string client, cport, server;
    words >> client >> cport >> server;
    address = server;
  }
  Log("serving run of drill " + drill_->name + " for host " + o_.host + "; lease " +
      FormatDuration(Millis(lease_ms_.load())) + "; journal " + journal_->path());
  return {{"now_us", MonotonicUs()}, {"pid", static_cast<int64_t>(getpid())},
          {"address", address},      {"journal", journal_->path()},
          {"workdir", workdir_},     {"version", FIREDRILL_VERSION}};
}

json Agent::Peers(const json& req) {
  if (req.contains("hosts") && req["hosts"].is_object()) {
    for (const auto& [name, addr] : req["hosts"].items()) {
      if (!addr.is_string() || addr.get<std::string>().empty()) continue;
      host_addresses_[name] = addr.get<std::string>();
      if (Status st = network_.AllowHost(addr.get<std::string>()); !st.ok()) {
        return {{"ok", false}, {"error", "host " + name + ": " + st.message()}};
      }
    }
  }
  return json::object();
}

json Agent::StartService(const json& req) {
  const std::string name = req.value("service", std::string());
  const ServiceSpec* svc = nullptr;
  for (const auto& s : drill_->services)
    if (s.name == name && s.host == o_.host) svc = &s;
  if (!svc) return {{"ok", false}, {"error", "no service " + name + " on host " + o_.host}};
  auto run = expander_.Expand(svc->run);
  if (!run.ok())
    return {{"ok", false}, {"error", "service " + name + ": " + run.status().message()}};
  Status st = services_->Start(*svc, *run);
  if (!st.ok()) return {{"ok", false}, {"error", st.message()}};
  any_service_ = true;
  if (!svc->ready) return {{"detail", "started"}};
  Probe& probe = *probes_[ProbeKey(svc->ready->mark)];
  const int64_t start = env_->NowMs();
  std::string last;
  // Bounded by `within`; a service that dies meanwhile ends the wait at once.
  while (env_->NowMs() - start <= svc->ready_within.count()) {
    ProbeOutcome out = probe.Sample({});
    if (out.passed) {
      return {
          {"detail", "after " + FormatDuration(Millis(env_->NowMs() - start)) + ": " + out.detail}};
    }
    last = out.detail;
    services_->Poll();
    if (!services_->ProcessGroup(name)) {
      return {{"ok", false},
              {"error", "service " + name + " on host " + o_.host +
                            " exited before it was ready (its log: " + workdir_ + "/logs)"}};
    }
    env_->SleepMs(std::min<int64_t>(drill_->settings.probe_interval.count(), 200));
  }
  return {{"ok", false},
          {"error", "service " + name + " on host " + o_.host + " was not ready within " +
                        FormatDuration(svc->ready_within) + ": " + last}};
}

json Agent::PrepareFault(const json& req) {
  const std::string name = req.value("fault", std::string());
  const bool peer = req.value("peer", false);
  const FaultSpec* spec = nullptr;
  for (const auto& f : drill_->faults)
    if (f.name == name) spec = &f;
  if (!spec) return {{"ok", false}, {"error", "no fault " + name}};
  FaultSpec copy = *spec;
  if (peer) {
    // The other side of a partition between two hosts: the same rules, here, against the
    // host the fault names.
    if (!copy.with.Has("peer") || copy.with.String("peer") != o_.host) {
      return {{"ok", false}, {"error", "fault " + name + " is not against host " + o_.host}};
    }
    copy.with.Set("peer", Param{copy.host, copy.with.MarkOf("peer")});
  } else if (copy.host != o_.host) {
    return {{"ok", false}, {"error", "fault " + name + " is not on host " + o_.host}};
  }
  copy.host = o_.host;
  specs_.push_back(std::move(copy));
  const FaultAction* a = FindFaultAction(specs_.back().action);
  std::string why = a ? WhyNotRunnable(*a) : "unknown action";
  if (!why.empty())
    return {{"ok", false}, {"error", specs_.back().action + " on host " + o_.host + ": " + why}};
  auto made = a->make(specs_.back(), ctx_);
  if (!made.ok()) return {{"ok", false}, {"error", made.status().message()}};
  if (Status st = (*made)->Prepare(); !st.ok()) return {{"ok", false}, {"error", st.message()}};
  const bool reversible = (*made)->Reversible();
  faults_[name + (peer ? "#peer" : "")] = std::move(*made);
  return {{"reversible", reversible}};
}

json Agent::InjectFault(const json& req) {
  const std::string key =
      req.value("fault", std::string()) + (req.value("peer", false) ? "#peer" : "");
  auto it = faults_.find(key);
  if (it == faults_.end()) return {{"ok", false}, {"error", "fault " + key + " was not prepared"}};
  Fault& f = *it->second;
  const int64_t started = MonotonicUs();
  auto res = f.Inject();
  if (!res.ok()) return {{"ok", false}, {"error", res.status().message()}};
  injected_.push_back(key);
  json figures = json::object();
  for (const auto& [k, v] : f.figures()) figures[k] = v;
  json out = {
      {"detail", *res}, {"figures", figures}, {"started_us", started}, {"t_us", MonotonicUs()}};
  if (f.effective_at_ms()) out["effective_us"] = *f.effective_at_ms() * 1000;
  return out;
}

json Agent::RollbackFault(const json& req) {
  const std::string key =
      req.value("fault", std::string()) + (req.value("peer", false) ? "#peer" : "");
  auto it = std::find(injected_.begin(), injected_.end(), key);
  if (it == injected_.end()) return {{"detail", "nothing to undo: never injected here"}};
  Fault& f = *faults_[key];
  auto res = f.Rollback();
  if (!res.ok()) return {{"ok", false}, {"error", res.status().message()}};
  injected_.erase(it);
  json figures = json::object();
  for (const auto& [k, v] : f.figures()) figures[k] = v;
  return {{"detail", *res}, {"figures", figures}, {"t_us", MonotonicUs()}};
}

json Agent::Control(const json& req) {
  auto r = services_->Control(req.value("verb", std::string()), req.value("service", std::string()),
                              drill_->settings.stop_grace);
  if (!r.ok()) return {{"ok", false}, {"error", r.status().message()}};
  return {{"detail", *r}};
}

void Agent::Exec(const json& req) {
  const int64_t i = req.value("step", int64_t{-1});
  const auto& steps = drill_->recovery.remediation;
  if (i < 0 || i >= static_cast<int64_t>(steps.size()) || steps[i].host != o_.host) {
    return Error(req, "no remediation step " + std::to_string(i) + " on host " + o_.host);
  }
  auto text = expander_.Expand(steps[i].run);
  if (!text.ok()) return Error(req, text.status().message());
  std::thread([this, req, script = *text, timeout = steps[i].timeout] {
    auto r = RunRemediationScript(script, workdir_, timeout, journal_.get(), &cancel_);
    if (!r.ok()) return Error(req, r.status().message());
    Reply(req,
          {{"exit_code", r->exit_code}, {"detail", r->Describe()}, {"out", OneLine(r->out, 100)}});
  }).detach();
}

void Agent::Sample(const json& req) {
  auto it = probes_.find(req.value("probe", std::string()));
  if (it == probes_.end()) {
    Error(req, "no probe at " + req.value("probe", std::string()) + " on host " + o_.host);
    return;
  }
  SampleVars vars;
  if (req.contains("seq") && req["seq"].is_number_integer()) vars.seq = req["seq"].get<int64_t>();
  const int64_t started = MonotonicUs();
  it->second->SampleAsync(vars, *loop_, [this, req, started](ProbeOutcome out) {
    json body = {{"passed", out.passed},
                 {"detail", out.detail},
                 {"started_us", started},
                 {"t_us", MonotonicUs()}};
    if (out.value) body["value"] = *out.value;
    if (out.observed_at_ms) body["observed_us"] = *out.observed_at_ms * 1000;
    Reply(req, std::move(body));
  });
}

void Agent::StartSchedule(const json& req) {
  const std::string key = req.value("probe", std::string());
  const int64_t every = req.value("every_ms", int64_t{0});
  auto it = probes_.find(key);
  if (it == probes_.end() || every <= 0) {
    Error(req, "no probe at " + key + " on host " + o_.host + " to schedule every " +
                   std::to_string(every) + " ms");
    return;
  }
  std::lock_guard lock(schedules_mu_);
  if (!schedules_.count(key)) {
    auto s = std::make_unique<Schedule>();
    s->probe = it->second.get();
    s->key = key;
    s->every_ms = every;
    s->next_ms = env_->NowMs();
    Schedule* raw = s.get();
    schedules_[key] = std::move(s);
    std::lock_guard sl(raw->mu);
    raw->timer = loop_->At(raw->next_ms, [this, raw] { Tick(*raw); });
  }
  Reply(req, json::object());
}

void Agent::Tick(Schedule& s) {
  bool take = false;
  const int64_t started = MonotonicUs();
  {
    std::lock_guard lock(s.mu);
    if (reverting_) return;
    const int64_t now = env_->NowMs();
    // A sample still running keeps its slot: never two of one probe at once.
    if (!s.busy) {
      take = s.busy = true;
      ++s.samples;
      if (s.late_us.size() < kKept)
        s.late_us.push_back(std::max<int64_t>(0, started - s.next_ms * 1000));
      if (s.last_start_us > 0 && s.jitter_us.size() < kKept) {
        s.jitter_us.push_back(std::abs(started - s.last_start_us - s.every_ms * 1000));
      }
      s.last_start_us = started;
    }
    // Fixed rate, never stacked: slots already past are skipped, not made up.
    s.next_ms += s.every_ms;
    while (s.next_ms <= now) {
      s.next_ms += s.every_ms;
      ++s.skipped;
    }
    s.timer = loop_->At(s.next_ms, [this, &s] { Tick(s); });
  }
  if (!take) return;
  s.probe->SampleAsync({}, *loop_, [this, &s, started](ProbeOutcome out) {
    json ev = {{"event", "sample"},    {"probe", s.key},        {"passed", out.passed},
               {"detail", out.detail}, {"started_us", started}, {"t_us", MonotonicUs()}};
    if (out.value) ev["value"] = *out.value;
    if (out.observed_at_ms) ev["observed_us"] = *out.observed_at_ms * 1000;
    Queue(ev);
    std::lock_guard lock(s.mu);
    s.busy = false;
  });
}

json Agent::ScheduleFigures() {
  std::vector<int64_t> late, jitter;
  int64_t samples = 0, skipped = 0, probes = 0;
  {
    std::lock_guard lock(schedules_mu_);
    for (auto& [key, s] : schedules_) {
      std::lock_guard sl(s->mu);
      ++probes;
      samples += s->samples;
      skipped += s->skipped;
      late.insert(late.end(), s->late_us.begin(), s->late_us.end());
      jitter.insert(jitter.end(), s->jitter_us.begin(), s->jitter_us.end());
    }
  }
  auto pct = [](std::vector<int64_t>& v) {
    if (v.empty()) return json::array();
    std::sort(v.begin(), v.end());
    auto at = [&](double p) {
      size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
      return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
    };
    return json::array({at(50), at(99), v.back()});
  };
  return {{"probes", probes},
          {"samples", samples},
          {"skipped", skipped},
          {"late_us", pct(late)},
          {"jitter_us", pct(jitter)}};
}

std::vector<std::string> Agent::RevertAll(const std::string& why) {
  std::lock_guard lock(fault_mu_);
  std::vector<std::string> left;
  if (reverting_.exchange(true)) return left;
  Log("reverting: " + why);
  cancel_ = true;
  for (auto it = injected_.rbegin(); it != injected_.rend(); ++it) {
    auto res = faults_[*it]->Rollback();
    Log("fault " + *it + ": " + (res.ok() ? *res : "FAILED: " + res.status().message()));
    if (!res.ok()) left.push_back("fault " + *it + ": " + res.status().message());
  }
  injected_.clear();
  if (services_) {
    for (auto& l : services_->StopAll(drill_ ? drill_->settings.stop_grace : Millis(5000))) {
      Log("left: " + l);
      left.push_back(l);
    }
  }
  if (journal_) {
    for (const auto& e : journal_->Pending()) {
      auto u = journal_->Undo(e.id, ctx_.undo());
      Log("journal " + e.owner + ": " + (u.ok() ? *u : "FAILED: " + u.status().message()));
      if (!u.ok()) left.push_back(e.owner + ": " + u.status().message());
    }
    if (journal_->Pending().empty()) {
      if (Status st = journal_->Close(); !st.ok()) left.push_back("journal: " + st.message());
    } else {
      left.push_back("the journal on host " + o_.host + " keeps what is left: " + journal_->path());
    }
  }
  Log(left.empty() ? "reverted: nothing left"
                   : "reverted with " + std::to_string(left.size()) + " thing(s) left");
  return left;
}

json Agent::ServiceLogs() const {
  json logs = json::object();
  if (!drill_) return logs;
  constexpr std::streamoff kCap = 1 << 20;
  for (const auto& s : drill_->services) {
    if (s.host != o_.host) continue;
    for (const char* stream : {"out", "err"}) {
      const std::string file = s.name + "." + stream + ".log";
      std::ifstream in(workdir_ + "/logs/" + file, std::ios::binary | std::ios::ate);
      if (!in) continue;
      const std::streamoff size = in.tellg();
      in.seekg(std::max<std::streamoff>(0, size - kCap));
      std::stringstream text;
      text << in.rdbuf();
      logs[file] = text.str();
    }
  }
  return logs;
}

void Agent::DeadMan(const std::string& why) {
  if (reverting_.load()) {
    // A teardown is reverting the host already; its end ends the process.
    while (true) env_->SleepMs(1000);
  }
  auto left = RevertAll(why);
  _exit(left.empty() ? 3 : 4);
}

void Agent::Watchdog() {
  while (true) {
    env_->SleepMs(50);
    {
      std::lock_guard lock(queue_mu_);
      if (closing_) return;
    }
    if (!hello_done_) continue;
    Flush();
    const int64_t lease = lease_ms_.load();
    if (lease > 0 && env_->NowMs() - last_renew_ms_.load() > lease) {
      DeadMan("the lease lapsed: no renewal from the controller for " +
              FormatDuration(Millis(lease)));
    }
    // Polling reads /proc for the services' escaped daemons: only a host with services
    // pays for it, every other round (100 ms, as the controller does).
    if (services_ && any_service_ && !reverting_ && (++polls_ % 2) == 0) services_->Poll();
  }
}

void Agent::Handle(const json& req) {
  const std::string op = req.value("op", std::string());
  if (op != "hello" && !hello_done_) return Error(req, "hello first");
  if (op == "hello") {
    if (hello_done_) return Error(req, "hello twice");
    return Reply(req, Hello(req));
  }
  if (op == "peers") return Reply(req, Peers(req));
  if (op == "start") return Reply(req, StartService(req));
  if (op == "control") return Reply(req, Control(req));
  if (op == "exec") return Exec(req);
  if (op == "prepare" || op == "inject" || op == "rollback") {
    std::lock_guard lock(fault_mu_);
    if (reverting_) return Error(req, "host " + o_.host + " is being reverted");
    if (op == "prepare") return Reply(req, PrepareFault(req));
    if (op == "inject") return Reply(req, InjectFault(req));
    return Reply(req, RollbackFault(req));
  }
  if (op == "teardown") {
    // The controller is here and asking: the lease no longer matters, and the dead-man
    // must not race this teardown.
    lease_ms_ = 0;
    json schedules = ScheduleFigures();
    auto left = RevertAll("teardown");
    Reply(req, {{"left", left}, {"logs", ServiceLogs()}, {"schedules", schedules}});
    Log("teardown done");
    _exit(left.empty() ? 0 : 4);
  }
  Error(req, "unknown op '" + op + "'");
}

void Agent::Worker() {
  while (true) {
    json req;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;
      req = std::move(queue_.front());
      queue_.pop_front();
    }
    Handle(req);
  }
}

int Agent::Serve() {
  std::error_code ec;
  std::filesystem::create_directories(o_.dir, ec);
  // The ssh session may end under it (that is what the lease is for): a write to it must
  // fail, not kill the process; and a hang-up is the lease's to judge.
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  BecomeSubreaper();
  std::thread worker([this] { Worker(); });
  std::thread watchdog([this] { Watchdog(); });
  std::string buf;
  char chunk[65536];
  while (true) {
    ssize_t n = ::read(o_.in_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      json req = json::parse(buf.begin() + start, buf.begin() + nl, nullptr, false);
      if (req.is_discarded() || !req.is_object()) continue;
      const std::string op = req.value("op", std::string());
      // Renewals and samples never wait behind a slow injection.
      if (op == "renew") {
        last_renew_ms_ = env_->NowMs();
        Reply(req, {{"now_us", MonotonicUs()}});
      } else if (op == "sample" && hello_done_) {
        Sample(req);
      } else if (op == "schedule" && hello_done_) {
        StartSchedule(req);
      } else {
        std::lock_guard lock(queue_mu_);
        queue_.push_back(std::move(req));
        queue_cv_.notify_one();
      }
    }
    buf.erase(0, start);
  }
  // The controller's end closed: it died, or the connection did.
  if (lease_ms_.load() > 0) DeadMan("the controller's connection closed");
  Log(hello_done_ ? "the controller's connection closed; the dead-man is off (settings.lease: 0s), "
                    "so this host's journal waits for `firedrill rollback`"
                  : "the controller's connection closed before the run began");
  // Nothing may be stopped on the way out: the services and the journal are
  // `firedrill rollback`'s now.
  _exit(hello_done_ ? 4 : 0);
}

}  // namespace

int RunAgent(const AgentOptions& options) {
  // Never destroyed: the process ends with _exit, and the services must not be stopped
  // by a destructor on the way out.
  auto* agent = new Agent(options);
  return agent->Serve();
}

}  // namespace firedrill
