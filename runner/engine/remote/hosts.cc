#include "runner/engine/remote/hosts.h"

#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runner/base/sha256.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/drill/expand.h"
#include "runner/engine/remote/protocol.h"

namespace firedrill {
namespace {

using nlohmann::json;

// The running binary, which is what goes to the hosts: the agent must speak exactly this
// controller's protocol and judge the drill with exactly its loader.
const std::string& SelfPath() {
  static const std::string path = [] {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("/proc/self/exe") : p.string();
  }();
  return path;
}

Result<std::string> SelfSha256() {
  static std::mutex mu;
  static std::string cached;
  std::lock_guard lock(mu);
  if (!cached.empty()) return cached;
  std::ifstream in(SelfPath(), std::ios::binary);
  if (!in) return Status::Io("cannot read " + SelfPath());
  Sha256 h;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0)
    h.Update(buf, static_cast<size_t>(in.gcount()));
  auto hex = h.FinishHex();
  if (!hex.ok()) return hex.status();
  cached = *hex;
  return cached;
}

std::string FirstWord(const std::string& s) { return s.substr(0, s.find_first_of(" \t\n")); }

// OpenSSH binds the control socket at the path plus ".XXXXXXXXXXXXXXXX" and renames it,
// and %C expands to 40 characters: a control directory longer than this cannot hold one.
constexpr size_t kMaxControlDir = sizeof(sockaddr_un{}.sun_path) - 1 - 17 - 1 - 40;

// Control directories of runs whose controller is gone (PID.INDEX, the PID dead): their
// masters died with it (PR_SET_PDEATHSIG), and only the socket files are left.
void SweepControlDirs(const std::string& root) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    const std::string leaf = e.path().filename().string();
    const size_t dot = leaf.find('.');
    if (dot == std::string::npos || dot == 0) continue;
    pid_t pid = 0;
    auto [end, err] = std::from_chars(leaf.data(), leaf.data() + dot, pid);
    if (err != std::errc() || end != leaf.data() + dot || pid <= 0) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(e.path(), ec);
  }
}

}  // namespace

std::string HostOf(const ProbeSpec& p) {
  return p.params.Has("host") ? p.params.String("host") : "";
}

std::set<std::string> HostsUsed(const Scenario& s) {
  std::set<std::string> used;
  ForEachProbe(s, [&](const ProbeSpec& p, const ServiceSpec*) {
    if (!HostOf(p).empty()) used.insert(HostOf(p));
  });
  for (const auto& svc : s.services) {
    if (!svc.host.empty()) used.insert(svc.host);
  }
  for (const auto& step : s.recovery.remediation) {
    if (!step.host.empty()) used.insert(step.host);
  }
  for (const auto& f : s.faults) {
    if (!f.host.empty()) used.insert(f.host);
    if (f.with.Has("peer")) used.insert(f.with.String("peer"));
  }
  return used;
}

RemoteHosts::~RemoteHosts() {
  {
    std::lock_guard lock(renew_mu_);
    stop_renewing_ = true;
  }
  renew_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  {
    std::unique_lock lock(hold_mu_);
    hold_cv_.wait(lock, [&] { return rejoining_ == 0; });
  }
  for (auto& l : links_) {
    l->agent.reset();
    l->master.reset();
    std::error_code ec;
    if (!l->control_dir.empty()) std::filesystem::remove_all(l->control_dir, ec);
  }
  ReleaseHolders();
}

void RemoteHosts::ReleaseHolders() {
  {
    std::lock_guard lock(hold_mu_);
    release_ = true;
  }
  hold_cv_.notify_all();
  for (auto& t : holders_) {
    if (t.joinable()) t.join();
  }
  for (auto& t : rejoiners_) {
    if (t.joinable()) t.join();
  }
  holders_.clear();
}

HostLink* RemoteHosts::Find(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

int64_t RemoteHosts::ToControllerMs(const HostLink& h, int64_t host_us) const {
  // Env::NowMs is steady_clock in ms; so is the agent's clock, in µs.
  return (host_us - h.offset_us) / 1000;
}

Status RemoteHosts::Connect(const std::vector<HostSpec>& hosts, const std::set<std::string>& used) {
  for (const auto& h : hosts) {
    if (!used.count(h.name)) continue;
    auto link = std::make_unique<HostLink>();
    link->target = SshTarget{h.name, h.destination, h.options};
    link->index = links_.size();
    by_name_[h.name] = link.get();
    links_.push_back(std::move(link));
  }
  // Renewals begin with the first host: a host that answered early must not see its lease
  // lapse while the others are still connecting.
  renewer_ = std::thread([this] { RenewLoop(); });
  // All at once: a drill across fifty hosts must not take fifty connection times. Each
  // thread then stays until teardown: the ssh processes it started get SIGTERM when the
  // thread that forked them ends (PR_SET_PDEATHSIG is per thread), and they must live as
  // long as the run, and no longer than the process.
  if (!o_.control_root.empty()) SweepControlDirs(o_.control_root);
  std::vector<Status> results(links_.size());
  size_t done = 0;
  for (size_t i = 0; i < links_.size(); ++i) {
    holders_.emplace_back([this, i, &results, &done] {
      Status st = ConnectOne(*links_[i]);
      std::unique_lock lock(hold_mu_);
      results[i] = st;
      ++done;
      hold_cv_.notify_all();
      hold_cv_.wait(lock, [&] { return release_; });
    });
  }
  {
    std::unique_lock lock(hold_mu_);
    hold_cv_.wait(lock, [&] { return done == links_.size(); });
  }
  for (size_t i = 0; i < links_.size(); ++i) {
    if (!results[i].ok()) return results[i];
  }
  for (const auto& l : links_) {
    if (Status st = SendPeers(*l); !st.ok()) return st;
  }
  return Status::Ok();
}

Status RemoteHosts::SendPeers(HostLink& h) {
  json peers = json::object();
  for (const auto& l : links_) {
    std::lock_guard lock(l->mu);
    peers[l->target.name] = l->address;
  }
  auto r = h.Agent()->Call({{"op", "peers"}, {"hosts", peers}}, Millis(30000));
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> RemoteHosts::MakeControlDir(size_t index) {
  if (!o_.control_root.empty()) {
    const std::string dir =
        o_.control_root + "/" + std::to_string(getpid()) + "." + std::to_string(index);
    if (dir.size() <= kMaxControlDir) {
      std::error_code ec;
      std::filesystem::create_directories(o_.control_root, ec);
      if (ec) return Status::Io("creating " + o_.control_root + ": " + ec.message());
      ::chmod(o_.control_root.c_str(), 0700);
      std::filesystem::remove_all(dir, ec);  // a PID reused since a crash
      if (::mkdir(dir.c_str(), 0700) != 0) {
        return Status::Io("creating " + dir + ": " + ErrnoText(errno));
      }
      return dir;
    }
  }
  std::string tmpl = "/tmp/fd-ssh-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Status::Io("mkdtemp: " + ErrnoText(errno));
  return tmpl;
}

Status RemoteHosts::ConnectOne(HostLink& h) {
  const std::string& name = h.target.name;
  const int64_t start_us = MonotonicUs();
  auto made = MakeControlDir(h.index);
  if (!made.ok()) return made.status().Annotate("host " + name);
  const std::string control_dir = *made;
  h.control_dir = control_dir;
  auto master = SshMaster::Open(h.target, control_dir, o_.local_dir + "/ssh-" + name + ".log",
                                o_.connect_timeout);
  if (!master.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(control_dir, ec);
    return Status::Failed("host " + name + " is unreachable: " + master.status().message());
  }
  {
    std::lock_guard lock(h.mu);
    h.master = std::move(*master);
  }
  const int64_t master_us = MonotonicUs();
  auto sha = SelfSha256();
  if (!sha.ok()) return sha.status();
  const std::string id = o_.run_id + "-" + name;
  // One round trip: this run's directory, and the binary a previous run left, if any.
  const std::string setup =
      "set -e; umask 077; b=\"${XDG_CACHE_HOME:-$HOME/.cache}/firedrill-agent\"; "
      "mkdir -p \"$b/bin\" \"$b/runs/\"" +
      ShellQuote(id) +  // an inventory's host name is anything: never shell text
      "; cd \"$b\"; pwd; "
      "if [ -x bin/firedrill-" +
      sha->substr(0, 16) + " ]; then sha256sum bin/firedrill-" + sha->substr(0, 16) + "; fi";
  auto r = h.master->Run(setup, Millis(60000));
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Status::Failed("host " + name + ": cannot prepare its directory: " +
                          OneLine(r->err.empty() ? r->Describe() : r->err, 300));
  }
  std::istringstream lines(r->out);
  std::string base, existing;
  std::getline(lines, base);
  std::getline(lines, existing);
  if (base.empty() || base[0] != '/') {
    return Status::Failed("host " + name + ": its directory is not an absolute path: '" +
                          OneLine(base, 100) + "'");
  }
  h.bin = base + "/bin/firedrill-" + sha->substr(0, 16);
  h.remote_dir = base + "/runs/" + id;
  if (FirstWord(existing) != *sha) {
    // Copied whole, then renamed: a run starting at the same time never runs half a binary.
    const std::string copy = "set -e; umask 077; t=" + ShellQuote(h.bin) +
                             ".tmp.$$; cat > \"$t\"; "
                             "chmod 700 \"$t\"; mv -f \"$t\" " +
                             ShellQuote(h.bin) + "; sha256sum " + ShellQuote(h.bin);
    auto c = h.master->Run(copy, Millis(120000), SelfPath());
    if (!c.ok()) return c.status();
    if (c->exit_code != 0 || FirstWord(c->out) != *sha) {
      return Status::Failed("host " + name + ": the firedrill binary did not arrive intact (" +
                            OneLine(c->err.empty() ? c->out : c->err, 200) + ")");
    }
  }
  const int64_t binary_us = MonotonicUs();
  // Journaled before the agent can change anything there.
  if (o_.journal) {
    auto e = o_.journal->Intend("host " + name, kHostRollbackUndo.name,
                                {{"host", name},
                                 {"destination", h.target.destination},
                                 {"options", h.target.options},
                                 {"bin", h.bin},
                                 {"dir", h.remote_dir}});
    if (!e.ok()) return e.status();
    h.journal_entry = *e;
  }
  std::vector<std::string> argv = h.master->Argv();
  argv.push_back("exec " + ShellJoin({h.bin, "agent", "--dir", h.remote_dir, "--host", name}));
  auto agent = AgentLink::Start(
      name, argv, o_.local_dir + "/agent-" + name + ".err", [this, &h](const json& ev) {
        if (ev.value("event", "") == "sample") {
          Dispatch(h.target.name, ev.value("probe", std::string()), ev);
          return;
        }
        if (!o_.timeline || ev.value("event", "") != "timeline") return;
        o_.timeline->AddAt(o_.timeline->FromEnvMs(ToControllerMs(h, ev.value("t_us", int64_t{0}))),
                           ev.value("type", std::string("host.event")),
                           ev.value("name", std::string()),
                           "on host " + h.target.name + ": " + ev.value("detail", std::string()));
      });
  if (!agent.ok()) return agent.status();
  {
    std::lock_guard lock(h.mu);
    h.agent = std::move(*agent);
  }
  // The names the drill takes from the controller's environment, and nothing else of it.
  json env = json::object();
  ScanReferences(o_.drill_text, [&](const Reference& ref) {
    if (ref.kind != Reference::Kind::kEnv) return;
    if (const char* v = getenv(ref.arg.c_str())) env[ref.arg] = v;
  });
  json ports = json::object();
  for (const auto& [k, v] : o_.ports) ports[k] = v;
  auto hello = h.agent->Call({{"op", "hello"},
                              {"drill", o_.drill_text},
                              {"file", o_.drill_file},
                              {"env", env},
                              {"ports", ports},
                              {"inventory", o_.inventory_json},
                              {"lease_ms", o_.lease.count()}},
                             Millis(60000));
  if (!hello.ok()) {
    std::string why = hello.status().message();
    std::ifstream err(o_.local_dir + "/agent-" + name + ".err");
    std::stringstream ss;
    ss << err.rdbuf();
    if (!ss.str().empty()) why += " (" + OneLine(ss.str(), 300) + ")";
    return Status::Failed(why);
  }
  {
    std::lock_guard lock(h.mu);  // a re-join of another host reads it for its peers
    h.address = hello->value("address", std::string());
  }
  h.ready = true;
  const int64_t hello_us = MonotonicUs();
  // The offset from the fastest of a few round trips: the one least stretched by either
  // side's scheduling, and so the smallest uncertainty.
  int64_t best_rtt = -1;
  for (int i = 0; i < 7; ++i) {
    const int64_t t0 = MonotonicUs();
    auto pong = h.agent->Call({{"op", "renew"}}, Millis(5000));
    const int64_t t1 = MonotonicUs();
    if (!pong.ok()) return pong.status();
    const int64_t rtt = t1 - t0;
    if (best_rtt < 0 || rtt < best_rtt) {
      best_rtt = rtt;
      h.offset_us = pong->value("now_us", int64_t{0}) - (t0 + t1) / 2;
      h.uncertainty_us = (rtt + 1) / 2;
    }
  }
  if (o_.timeline) {
    o_.timeline->Add("host.connected", name,
                     fmt::format("{} at {}; agent {}; clock offset {:+.3f} ms ± {:.3f} ms; "
                                 "connected in {} ms (ssh {}, directory and binary {}, agent "
                                 "and hello {}, clock {}); control socket in {}{}",
                                 h.target.destination, h.address.empty() ? "?" : h.address, h.bin,
                                 h.offset_us / 1000.0, h.uncertainty_us / 1000.0,
                                 (MonotonicUs() - start_us) / 1000, (master_us - start_us) / 1000,
                                 (binary_us - master_us) / 1000, (hello_us - binary_us) / 1000,
                                 (MonotonicUs() - hello_us) / 1000, h.control_dir,
                                 h.control_dir.rfind("/tmp/", 0) == 0 && !o_.control_root.empty()
                                     ? " (the state directory's path is too long for a socket)"
                                     : ""));
  }
  return Status::Ok();
}

AgentLink::Reply RemoteHosts::Call(const std::string& name, json request, Millis timeout) {
  HostLink* h = Find(name);
  std::shared_ptr<AgentLink> agent = h ? h->Agent() : nullptr;
  if (!agent) return Status::Internal("no connection to host " + name);
  auto r = agent->Call(std::move(request), timeout);
  if (agent->lost()) NoteLost(*h, agent->lost_reason());
  return r;
}

void RemoteHosts::Subscribe(const std::string& host, const std::string& probe, StreamFn fn) {
  std::lock_guard lock(streams_mu_);
  streams_[{host, probe}] = std::move(fn);
}

void RemoteHosts::Dispatch(const std::string& host, const std::string& probe, const json& ev) {
  StreamFn fn;
  {
    std::lock_guard lock(streams_mu_);
    auto it = streams_.find({host, probe});
    if (it == streams_.end()) return;
    fn = it->second;
  }
  fn(ev);
}

void RemoteHosts::NoteLost(HostLink& h, const std::string& why) {
  {
    std::lock_guard lock(h.mu);
    if (h.lost) return;
    h.lost_reason = why;
    h.lost = true;
    // What it held from now on is unconfirmed until it is reached again.
    h.revert_confirmed = false;
  }
  // A probe waiting for its host's next sample hears now that none will come.
  std::vector<StreamFn> waiting;
  {
    std::lock_guard lock(streams_mu_);
    for (const auto& [key, fn] : streams_) {
      if (key.first == h.target.name) waiting.push_back(fn);
    }
  }
  for (auto& fn : waiting) fn({{"lost", "host " + h.target.name + ": " + why}});
  if (o_.timeline) {
    o_.timeline->Add("host.lost", h.target.name,
                     why + (o_.lease.count() > 0 ? "; its dead-man reverts it once its lease (" +
                                                       FormatDuration(o_.lease) + ") lapses"
                                                 : "; the dead-man is off (settings.lease: 0s)"));
  }
  std::lock_guard lock(hold_mu_);
  if (release_) return;
  {
    std::lock_guard renew(renew_mu_);
    if (stop_renewing_) return;  // the teardown reaches it again
  }
  ++rejoining_;
  rejoiners_.emplace_back([this, &h] { Rejoin(h); });
}

bool RemoteHosts::StopWithin(Millis d) {
  std::unique_lock lock(renew_mu_);
  return renew_cv_.wait_for(lock, d, [&] { return stop_renewing_; });
}

void RemoteHosts::Rejoin(HostLink& h) {
  const std::string& name = h.target.name;
  bool connected = false;
  // Not before its dead-man's moment: until then its agent may still hold the journal.
  if (!StopWithin(o_.lease + Millis(1000))) {
    while (true) {
      auto r = kHostRollbackUndo.undo({{"host", name},
                                       {"destination", h.target.destination},
                                       {"options", h.target.options},
                                       {"bin", h.bin},
                                       {"dir", h.remote_dir}},
                                      UndoContext{});
      if (!r.ok()) {
        if (StopWithin(Millis(1000))) break;
        continue;
      }
      h.revert_confirmed = true;
      if (o_.timeline) o_.timeline->Add("host.revert_confirmed", name, *r + "; during the run");
      if (o_.journal && h.journal_entry) {
        (void)o_.journal->Done(h.journal_entry,
                               "host " + name + ": reverted by its dead-man, confirmed: " + *r);
        h.journal_entry = 0;
      }
      // The old connection goes; a new master and agent take its place.
      std::shared_ptr<AgentLink> old_agent;
      std::shared_ptr<SshMaster> old_master;
      {
        std::lock_guard lock(h.mu);
        old_agent = std::move(h.agent);
        old_master = std::move(h.master);
      }
      h.ready = false;
      if (old_agent) old_agent->Close(Millis(3000));
      old_agent.reset();
      old_master.reset();
      std::error_code ec;
      if (!h.control_dir.empty()) std::filesystem::remove_all(h.control_dir, ec);
      if (StopWithin(Millis(0))) break;
      Status st = ConnectOne(h);
      if (st.ok()) st = SendPeers(h);
      if (!st.ok()) {
        if (o_.timeline) {
          o_.timeline->Add("host.rejoin_failed", name,
                           st.message() + "; its probes stay unreachable for the run");
        }
        break;
      }
      h.generation++;
      {
        std::lock_guard lock(h.mu);
        h.lost = false;
        h.lost_reason.clear();
      }
      connected = true;
      if (o_.timeline) {
        o_.timeline->Add("host.rejoined", name,
                         "its probes resume on a new agent; what the dead-man stopped (its "
                         "services) stays stopped");
      }
      break;
    }
  }
  std::unique_lock lock(hold_mu_);
  --rejoining_;
  hold_cv_.notify_all();
  // Its ssh children (the new master, the agent's session) live as long as this thread.
  if (connected) hold_cv_.wait(lock, [&] { return release_; });
}

void RemoteHosts::RenewLoop() {
  // A quarter of the lease: three renewals may be lost or late before the host gives up.
  const Millis every = o_.lease.count() > 0 ? std::max(Millis(100), o_.lease / 4) : Millis(1000);
  std::unique_lock lock(renew_mu_);
  while (!renew_cv_.wait_for(lock, every, [&] { return stop_renewing_; })) {
    lock.unlock();
    for (auto& l : links_) {
      if (l->lost || !l->ready) continue;
      std::shared_ptr<AgentLink> agent;
      std::shared_ptr<SshMaster> master;
      {
        std::lock_guard link(l->mu);
        agent = l->agent;
        master = l->master;
      }
      if (!agent || !master) continue;
      if (agent->lost() || !master->Alive()) {
        NoteLost(*l, agent->lost() ? agent->lost_reason() : "its ssh master connection ended");
        continue;
      }
      agent->Send({{"op", "renew"}}, [](AgentLink::Reply) {});
    }
    lock.lock();
  }
}

Result<std::string> RemoteHosts::RollBackOver(HostLink& h, Millis within) {
  const auto until = std::chrono::steady_clock::now() + within;
  std::string last;
  do {
    auto r = kHostRollbackUndo.undo({{"host", h.target.name},
                                     {"destination", h.target.destination},
                                     {"options", h.target.options},
                                     {"bin", h.bin},
                                     {"dir", h.remote_dir}},
                                    UndoContext{});
    if (r.ok()) return r;
    last = r.status().message();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  } while (std::chrono::steady_clock::now() < until);
  return Status::Failed(last);
}

std::vector<std::string> RemoteHosts::Teardown(Millis reconnect_within) {
  {
    std::lock_guard lock(renew_mu_);
    stop_renewing_ = true;
  }
  renew_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  {
    // A re-join under way finishes (or gives up) first: the host is one thing or the other.
    std::unique_lock lock(hold_mu_);
    hold_cv_.wait(lock, [&] { return rejoining_ == 0; });
  }
  std::vector<std::vector<std::string>> left(links_.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < links_.size(); ++i) {
    threads.emplace_back([this, i, &left, reconnect_within] {
      HostLink& h = *links_[i];
      // Never started, or re-joined in vain after its revert was confirmed: nothing of
      // this run is there to undo.
      if (!h.agent && !h.journal_entry) return;
      std::string how;
      bool clean = false;
      if (!h.lost) {
        auto r = h.agent->Call({{"op", "teardown"}}, Millis(120000));
        if (r.ok()) {
          for (const auto& l : (*r)["left"])
            left[i].push_back("host " + h.target.name + ": " + l.get<std::string>());
          // How the host kept its probes' schedules, by its own clock.
          const json& sc = r->value("schedules", json::object());
          if (o_.timeline && sc.value("probes", 0) > 0) {
            auto ms = [](const json& a, size_t i) {
              return a.is_array() && a.size() > i ? a[i].get<int64_t>() / 1000.0 : 0.0;
            };
            const json late = sc.value("late_us", json::array());
            const json jitter = sc.value("jitter_us", json::array());
            o_.timeline->Add(
                "host.sampled", h.target.name,
                fmt::format("{} probes on its own clock: {} samples, {} slots skipped; start "
                            "after its slot p50 {:.3f} / p99 {:.3f} / max {:.3f} ms; jitter "
                            "p50 {:.3f} / p99 {:.3f} / max {:.3f} ms",
                            sc.value("probes", 0), sc.value("samples", 0), sc.value("skipped", 0),
                            ms(late, 0), ms(late, 1), ms(late, 2), ms(jitter, 0), ms(jitter, 1),
                            ms(jitter, 2)));
          }
          // The services' logs come home: the host's copy goes with its run directory.
          if (r->contains("logs") && (*r)["logs"].is_object() && !o_.log_dir.empty()) {
            std::error_code ec;
            std::filesystem::create_directories(o_.log_dir, ec);
            for (const auto& [file, text] : (*r)["logs"].items()) {
              if (!text.is_string() || file.find('/') != std::string::npos) continue;
              std::ofstream(o_.log_dir + "/" + file, std::ios::binary) << text.get<std::string>();
            }
          }
          clean = left[i].empty();
          how = "rolled back and stopped by its agent";
        } else {
          NoteLost(h, r.status().message());
        }
      }
      if (h.agent) h.agent->Close(Millis(3000));
      if (h.lost) {
        auto r = RollBackOver(h, reconnect_within);
        if (r.ok()) {
          clean = true;
          h.revert_confirmed = true;
          how = "reached again; " + *r;
          if (o_.timeline) o_.timeline->Add("host.revert_confirmed", h.target.name, *r);
        } else {
          left[i].push_back(
              "host " + h.target.name + " (" + h.target.destination +
              ") could not be reached to confirm its revert: " + r.status().message() +
              "; what its faults changed may be left there, in its journal under " + h.remote_dir +
              "/state");
        }
      } else if (clean && h.master) {
        (void)h.master->Run("rm -rf " + ShellQuote(h.remote_dir), Millis(15000));
      }
      if (clean && o_.journal && h.journal_entry) {
        (void)o_.journal->Done(h.journal_entry, "host " + h.target.name + ": " + how);
      }
      h.master.reset();
      std::error_code ec;
      if (!h.control_dir.empty()) std::filesystem::remove_all(h.control_dir, ec);
    });
  }
  for (auto& t : threads) t.join();
  ReleaseHolders();
  std::vector<std::string> out;
  for (auto& l : left) out.insert(out.end(), l.begin(), l.end());
  return out;
}

namespace {

Result<std::string> UndoHost(const json& args, const UndoContext&) {
  SshTarget t;
  t.name = args.value("host", std::string());
  t.destination = args.value("destination", std::string());
  if (args.contains("options") && args["options"].is_array()) {
    for (const auto& o : args["options"])
      if (o.is_string()) t.options.push_back(o.get<std::string>());
  }
  const std::string bin = args.value("bin", std::string());
  const std::string dir = args.value("dir", std::string());
  if (t.destination.empty() || bin.empty() || dir.empty()) {
    return Status::Invalid("host.rollback: the entry names no destination, binary or directory");
  }
  // A host never reached leaves no directory: nothing there to undo.
  const std::string remote =
      "if [ ! -d " + ShellQuote(dir) + " ]; then echo 'nothing there'; exit 0; fi; " +
      ShellJoin({bin, "rollback", "--state-dir", dir + "/state"}) + " && rm -rf " + ShellQuote(dir);
  std::vector<std::string> argv = SshArgv(t, "", Millis(5000));
  argv.push_back(remote);
  auto r = RunShell({.script = ShellJoin(argv) + " </dev/null",
                     .cwd = {},
                     .timeout = Millis(60000),
                     .capture_limit = 1 << 20});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Status::Failed("host " + t.name + ": " + r->Describe() + ": " +
                          OneLine(r->err.empty() ? r->out : r->err, 300));
  }
  // A journal a live agent holds is skipped, not undone: that agent is still in charge.
  if (r->out.find("skipped:") != std::string::npos) {
    return Status::Failed("host " + t.name + ": its agent is still running");
  }
  return "host " + t.name + ": firedrill rollback there: " + OneLine(r->out, 300);
}

}  // namespace

const UndoKind kHostRollbackUndo = {
    .name = "host.rollback",
    .doc = "run `firedrill rollback` on a remote host over ssh, for what its agent journaled",
    .undo = UndoHost,
};

}  // namespace firedrill
