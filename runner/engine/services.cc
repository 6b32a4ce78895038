#include "runner/engine/services.h"

#include <errno.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "runner/base/proc.h"
#include "runner/base/subprocess.h"
#include "runner/base/text.h"
#include "runner/base/user.h"

namespace bp = boost::process;

namespace firedrill {

struct Services::Service {
  ServiceSpec spec;
  std::string run;
  std::unique_ptr<bp::child> child;
  pid_t pgid = 0;
  bool exited = false;
  int restarts = 0;
};

namespace {

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by " + SignalName(WTERMSIG(status));
  return "status " + std::to_string(status);
}

bool FailedStatus(int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); }

}  // namespace

Services::Services(Env* env, Timeline* timeline, std::string workdir, std::string log_dir)
    : env_(env), timeline_(timeline), workdir_(std::move(workdir)), log_dir_(std::move(log_dir)) {
  BecomeSubreaper();
}

Services::~Services() { StopAll(Millis(2000)); }

Status Services::Spawn(Service& s) {
  std::error_code ec;
  std::filesystem::create_directories(log_dir_, ec);
  const std::string out_path = log_dir_ + "/" + s.spec.name + ".out.log";
  const std::string err_path = log_dir_ + "/" + s.spec.name + ".err.log";
  // Append, so a restarted service keeps its earlier output.
  FILE* out = std::fopen(out_path.c_str(), "a");
  FILE* err = std::fopen(err_path.c_str(), "a");
  if (!out || !err) {
    if (out) std::fclose(out);
    if (err) std::fclose(err);
    return Status::Io("cannot open log files in " + log_dir_);
  }
  Status st;
  std::optional<Account> account;
  std::string cwd = workdir_;
  if (!s.spec.user.empty()) {
    auto prepared = PrepareUser(s.spec.user);
    if (!prepared.ok()) {
      std::fclose(out);
      std::fclose(err);
      return prepared.status().Annotate("service " + s.spec.name);
    }
    account = prepared->first;
    cwd = prepared->second;
  }
  try {
    OwnedChildGuard guard;
    bp::environment env = boost::this_process::environment();
    if (account) {
      env["HOME"] = cwd;
      env["USER"] = account->name;
      env["LOGNAME"] = account->name;
    }
    const Account* as = account ? &*account : nullptr;
    s.child = std::make_unique<bp::child>(
        "/bin/sh", bp::args({"-c", s.run}), bp::start_dir = cwd, env,
        bp::std_in<bp::null, bp::std_out> out, bp::std_err > err,
        bp::extend::on_exec_setup = [as](auto& exec) {
          ::setpgid(0, 0);
          // Only async-signal-safe calls here: the account was looked up before the fork.
          if (as) {
            if (int e = BecomeUser(*as); e != 0) {
              exec.set_error(std::error_code(e, std::system_category()), "cannot become user");
            }
          }
        });
    guard.Register(s.child->id());
    s.pgid = s.child->id();
    ::setpgid(s.pgid, s.pgid);  // also from the parent: no window where a kill misses
    s.exited = false;
    if (journal_) {
      // Recorded right after the fork: the group id does not exist before it.
      auto stat = ReadProcStat(s.pgid);
      auto id = journal_->Intend(
          "service " + s.spec.name, "process.group",
          {{"pid", s.pgid}, {"start", stat ? stat->start_ticks : 0}, {"grace_ms", grace_.count()}});
      if (id.ok()) {
        journaled_.emplace_back(*id, s.pgid);
      } else {
        st = id.status();
      }
    }
  } catch (const std::exception& e) {
    st = Status::Io("cannot start service " + s.spec.name + ": " + e.what());
  }
  std::fclose(out);
  std::fclose(err);
  return st;
}

// The account a service runs as, and the directory it owns: ${workdir}/users/USER, made
// here (0700, owned by the user) with the workdir made traversable (not readable) by
// others, so that the user can reach its own directory and nothing else of the drill's.
Result<std::pair<Account, std::string>> Services::PrepareUser(const std::string& user) {
  auto account = LookUpUser(user);
  if (!account.ok()) return account.status();
  if (account->uid == 0) return Status::Invalid("user '" + user + "' is root: not unprivileged");
  // The workdir is made traversable, but not its parents: a user that cannot reach it
  // would fail later with a confusing "permission denied" from the service itself.
  for (std::filesystem::path up = std::filesystem::path(workdir_).parent_path();;
       up = up.parent_path()) {
    struct stat st {};
    if (::stat(up.c_str(), &st) == 0) {
      const bool can = (st.st_mode & S_IXOTH) ||
                       (st.st_uid == account->uid && (st.st_mode & S_IXUSR)) ||
                       (st.st_gid == account->gid && (st.st_mode & S_IXGRP));
      if (!can) {
        return Status::Invalid("user '" + user + "' cannot reach the workdir: " + up.string() +
                               " is not searchable by it (mode " +
                               fmt::format("{:04o}", st.st_mode & 07777) + ")");
      }
    }
    if (up == up.root_path() || up.empty()) break;
  }
  const std::string dir = workdir_ + "/users/" + user;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Io("cannot create " + dir + ": " + ec.message());
  for (const std::string& d : {workdir_, workdir_ + "/users"}) {
    struct stat st {};
    if (::stat(d.c_str(), &st) != 0 || ::chmod(d.c_str(), (st.st_mode & 07777) | S_IXOTH) != 0) {
      return Status::Io("cannot let " + user + " reach " + d + ": " + ErrnoText(errno));
    }
  }
  if (::chown(dir.c_str(), account->uid, account->gid) != 0 || ::chmod(dir.c_str(), 0700) != 0) {
    return Status::Io("cannot give " + dir + " to " + user + ": " + ErrnoText(errno));
  }
  return std::make_pair(std::move(*account), dir);
}

Status Services::Start(const ServiceSpec& spec, const std::string& expanded_run) {
  auto s = std::make_unique<Service>();
  s->spec = spec;
  s->run = expanded_run;
  std::lock_guard<std::mutex> l(mu_);
  FD_RETURN_IF_ERROR(Spawn(*s));
  timeline_->Add("service.started", spec.name,
                 "process group " + std::to_string(s->pgid) + ": " + expanded_run.substr(0, 120));
  services_.push_back(std::move(s));
  return Status::Ok();
}

std::optional<pid_t> Services::ProcessGroup(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& s : services_) {
    if (s->spec.name == name && s->pgid > 0 && env_->GroupAlive(s->pgid)) return s->pgid;
  }
  return std::nullopt;
}

void Services::Poll() {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_) return;
  for (auto& s : services_) {
    if (s->exited || !s->child) continue;
    std::error_code ec;
    if (s->child->running(ec)) continue;  // reaps the leader once it has exited
    s->exited = true;
    ReleaseOwnedChild(s->pgid);
    int status = s->child->native_exit_code();
    timeline_->Add("service.exited", s->spec.name, DescribeWaitStatus(status));
    if (s->spec.restart == RestartPolicy::kOnFailure && FailedStatus(status) && s->restarts < 5) {
      // Whatever is left of the old group goes first, so two copies never run at once.
      if (env_->GroupAlive(s->pgid)) env_->Signal(-s->pgid, SIGKILL);
      ++s->restarts;
      Status st = Spawn(*s);
      timeline_->Add(st.ok() ? "service.restarted" : "service.restart_failed", s->spec.name,
                     st.ok() ? "restart " + std::to_string(s->restarts) + ", process group " +
                                   std::to_string(s->pgid)
                             : st.message());
    }
  }
  ReapOrphans();
  JournalAdoptedOrphans();
}

// A daemon that a remediation step started (pg_ctl start, redis-server --daemonize) calls
// setsid and outlives the step; teardown finds it as our child, but a SIGKILLed runner has
// no teardown. Journaled as the group it leads, `firedrill rollback` stops it. One that
// joined some other group is left to teardown: signalling a group we did not see formed
// could reach a process we never started.
void Services::JournalAdoptedOrphans() {
  for (pid_t p : AdoptedOrphans()) {
    auto st = ReadProcStat(p);
    if (!st || st->pgrp != p) continue;
    bool known = false;
    for (const auto& s : services_) known |= s->pgid == p;
    for (const auto& [id, pgid] : journaled_) known |= pgid == p;
    if (known) continue;
    std::string what = "PID " + std::to_string(p);
    std::string comm;
    std::getline(std::ifstream("/proc/" + std::to_string(p) + "/comm"), comm);
    if (!comm.empty()) what += " (" + comm + ")";
    if (journal_) {
      auto id =
          journal_->Intend("orphan " + std::to_string(p), "process.group",
                           {{"pid", p}, {"start", st->start_ticks}, {"grace_ms", grace_.count()}});
      if (!id.ok()) {
        timeline_->Add("error", "", "cannot journal " + what + ": " + id.status().message());
        continue;
      }
      journaled_.emplace_back(*id, p);
    } else {
      journaled_.emplace_back(0, p);  // seen: announced once
    }
    timeline_->Add("service.orphan_adopted", "", what + " left its group and leads its own");
  }
}

Result<std::string> Services::Control(const std::string& verb, const std::string& name,
                                      Millis grace) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_) return Status::Failed("the session is ending");
  if (verb == "status" && name == "*") {
    std::string all;
    for (auto& x : services_) {
      std::error_code ec;
      const bool up = x->child && !x->exited && x->child->running(ec);
      all += (all.empty() ? "" : "; ") + x->spec.name + " " +
             (up ? "running, process group " + std::to_string(x->pgid) : "stopped");
    }
    return all.empty() ? std::string("no services") : all;
  }
  Service* s = nullptr;
  for (auto& x : services_) {
    if (x->spec.name == name) s = x.get();
  }
  if (s == nullptr) {
    std::string names;
    for (auto& x : services_) names += (names.empty() ? "" : ", ") + x->spec.name;
    return Status::NotFound("no service '" + name + "' (this drill's: " + names + ")");
  }
  // Reaps the leader if it is gone, as Poll would.
  auto running = [&] {
    if (!s->child || s->exited) return false;
    std::error_code ec;
    if (s->child->running(ec)) return true;
    s->exited = true;
    ReleaseOwnedChild(s->pgid);
    timeline_->Add("service.exited", s->spec.name,
                   DescribeWaitStatus(s->child->native_exit_code()));
    return false;
  };
  const bool was_running = running() || (s->pgid > 0 && env_->GroupAlive(s->pgid));
  if (verb == "status") {
    return was_running ? "running, process group " + std::to_string(s->pgid)
                       : std::string("stopped");
  }
  if (verb != "stop" && verb != "start" && verb != "restart") {
    return Status::Invalid("unknown verb '" + verb + "' (status, stop, start, restart)");
  }
  std::string said;
  if (verb != "start" && was_running) {
    env_->Signal(-s->pgid, SIGTERM);
    const int64_t deadline = env_->NowMs() + grace.count();
    while ((running() || env_->GroupAlive(s->pgid)) && env_->NowMs() < deadline) {
      ReapOrphans();
      env_->SleepMs(20);
    }
    if (env_->GroupAlive(s->pgid)) env_->Signal(-s->pgid, SIGKILL);
    for (int i = 0; i < 100 && (running() || env_->GroupAlive(s->pgid)); ++i) {
      ReapOrphans();
      env_->SleepMs(10);
    }
    for (auto& [id, pgid] : journaled_) {
      if (journal_ && id != 0 && pgid == s->pgid && !env_->GroupAlive(pgid)) {
        (void)journal_->Done(id, "stopped by firedrill ctl");
        id = 0;
      }
    }
    timeline_->Add("service.stopped", s->spec.name, "by firedrill ctl " + verb);
    said = "stopped";
  } else if (verb == "stop") {
    return std::string("already stopped");
  }
  if (verb == "stop") return said;
  if (verb == "start" && was_running) {
    return "already running, process group " + std::to_string(s->pgid);
  }
  FD_RETURN_IF_ERROR(Spawn(*s));
  timeline_->Add("service.started", s->spec.name,
                 "process group " + std::to_string(s->pgid) + ": " + s->run.substr(0, 120));
  return (said.empty() ? "" : said + ", then ") + "started, process group " +
         std::to_string(s->pgid);
}

std::vector<std::string> Services::StopAll(Millis grace) {
  std::lock_guard<std::mutex> l(mu_);
  stopping_ = true;
  std::vector<std::string> left;
  // Reverse start order: clients (sentinels, proxies) go before what they watch.
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    Service& s = **it;
    if (s.pgid > 0 && env_->GroupAlive(s.pgid)) env_->Signal(-s.pgid, SIGTERM);
  }
  // Processes that left their service's group (a daemon a remediation step started, a
  // double fork) were re-parented to us: they get the same polite SIGTERM first.
  const pid_t self = getpid();
  std::vector<pid_t> strays;
  for (pid_t p : Descendants(self)) {
    auto st = ReadProcStat(p);
    if (!st || st->state == 'Z') continue;
    bool in_service_group = false;
    for (auto& s : services_) in_service_group |= st->pgrp == s->pgid;
    if (!in_service_group) {
      strays.push_back(p);
      timeline_->Add("service.orphan_stopped", "", "PID " + std::to_string(p) + ": SIGTERM");
      ::kill(p, SIGTERM);
    }
  }
  const int64_t deadline = env_->NowMs() + grace.count();
  auto any_alive = [&] {
    for (pid_t p : strays) {
      auto st = ReadProcStat(p);
      if (st && st->state != 'Z' && st->state != 'X') return true;
    }
    for (auto& s : services_) {
      if (s->child && !s->exited) {
        std::error_code ec;
        if (!s->child->running(ec)) {
          s->exited = true;
          ReleaseOwnedChild(s->pgid);
          timeline_->Add("service.stopped", s->spec.name,
                         DescribeWaitStatus(s->child->native_exit_code()));
        }
      }
      if (s->pgid > 0 && env_->GroupAlive(s->pgid)) return true;
    }
    return false;
  };
  while (any_alive() && env_->NowMs() < deadline) {
    ReapOrphans();
    env_->SleepMs(20);
  }
  for (auto& s : services_) {
    if (s->pgid > 0 && env_->GroupAlive(s->pgid)) {
      timeline_->Add("service.killed", s->spec.name,
                     "still running after " + std::to_string(grace.count()) + "ms: SIGKILL");
      env_->Signal(-s->pgid, SIGKILL);
    }
  }
  // Whatever still lives below us after the grace period is killed.
  for (int round = 0; round < 3; ++round) {
    auto rest = Descendants(self);
    if (rest.empty()) break;
    for (pid_t p : rest) {
      auto st = ReadProcStat(p);
      if (st && st->state != 'Z') {
        if (round == 0) timeline_->Add("service.orphan_killed", "", "PID " + std::to_string(p));
        ::kill(p, SIGKILL);
      }
    }
    for (int i = 0; i < 50; ++i) {
      any_alive();
      ReapOrphans();
      bool live = false;
      for (pid_t p : Descendants(self)) {
        auto st = ReadProcStat(p);
        if (st && st->state != 'Z') live = true;
      }
      if (!live) break;
      env_->SleepMs(10);
    }
  }
  for (auto& s : services_) {
    if (s->child && !s->exited) {
      std::error_code ec;
      s->child->wait(ec);
      s->exited = true;
      ReleaseOwnedChild(s->pgid);
    }
  }
  ReapOrphans();
  for (pid_t p : Descendants(self)) {
    auto st = ReadProcStat(p);
    if (st && st->state != 'Z') left.push_back("process " + std::to_string(p) + " still running");
  }
  if (journal_) {
    for (auto& [id, pgid] : journaled_) {
      if (id != 0 && !env_->GroupAlive(pgid)) (void)journal_->Done(id, "stopped by teardown");
    }
  }
  return left;
}

}  // namespace firedrill
