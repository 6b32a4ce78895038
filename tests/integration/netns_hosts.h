// Remote hosts for the drills-across-hosts tests, simulated on this machine: every host a
// network namespace of its own running a real OpenSSH sshd, all of them on one bridge inside
// a controller namespace, which is where the ssh client (the drill) runs. Every interface
// lives inside namespaces this object made, so tests running in parallel can all use
// 10.77.0.0/24 and never see each other, and nothing here is reachable from the machine's
// own namespace. Everything is undone when the object goes, pass or fail; namespaces a
// crashed test process left behind are removed by the next one.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/subprocess.h"
#include "tests/integration/harness.h"
#include "tests/testing.h"

namespace firedrill::testing {

class NetnsHosts {
 public:
  // Why this machine cannot run these tests; "" when it can. Tried once per process: it
  // makes (and deletes) a namespace with a bridge and a veth pair, because a container may
  // have every tool and still be refused those.
  static std::string Unsupported() {
    static const std::string why = Probe();
    return why;
  }

  // Deletes the namespaces of earlier test processes that are gone (crashed, or killed
  // before their destructors ran), with whatever those left running inside them. Only
  // names of the form fdc-<pid>-* / fdh-<pid>-* whose <pid> no longer exists: a live
  // process's namespaces are its own.
  static void CleanStale() {
    static const std::regex kOurs(R"(^fd[ch]-(\d+)-.*)");
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
      const std::string ns = e.path().filename().string();
      std::smatch m;
      if (!std::regex_match(ns, m, kOurs)) continue;
      const long pid = std::stol(m[1]);
      if (pid == getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;
      KillEverythingIn(ns);
      Run("ip netns del " + ns, Millis(5000));
    }
  }

  // Sets up one host per name (letters, digits, '-', '_'), the i-th (from 1) at
  // 10.77.0.(10+i), its files in `dir` (which must exist), and waits at most 10 s for
  // every sshd to answer. error() says what went wrong; when anything did, everything made
  // so far is already undone.
  // `shared_cache`: every host's XDG_CACHE_HOME is one directory (a benchmark's fifty hosts
  // need not hold fifty copies of the agent's binary); by default each has its own.
  NetnsHosts(const std::string& dir, std::vector<std::string> names, bool shared_cache = false)
      : dir_(dir),
        shared_cache_(shared_cache),
        id_(std::to_string(getpid()) + "-" + std::to_string(next_id_++)),
        ctl_("fdc-" + id_) {
    CleanStale();
    static const std::regex kName(R"([A-Za-z0-9_-]+)");
    for (size_t i = 0; i < names.size(); ++i) {
      // A name goes into ssh_config's Host patterns and into file names unquoted.
      if (!std::regex_match(names[i], kName) || Find(names[i])) {
        error_ = "bad or repeated host name '" + names[i] + "'";
        return;
      }
      hosts_.push_back({.name = names[i],
                        .netns = "fdh-" + id_ + "-" + std::to_string(i + 1),
                        .address = "10.77.0." + std::to_string(11 + i),
                        .veth = "veth" + std::to_string(i + 1)});
    }
    if (hosts_.size() > 200) {
      error_ = "at most 200 hosts fit 10.77.0.0/24";
      return;
    }
    error_ = MakeNetwork();
    if (error_.empty()) error_ = WriteFiles();
    for (auto& h : hosts_) {
      if (error_.empty()) error_ = Spawn(h);
    }
    std::vector<Host*> all;
    for (auto& h : hosts_) all.push_back(&h);
    if (error_.empty()) {
      error_ = WaitReady(all, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    }
    if (!error_.empty()) Cleanup();
  }

  ~NetnsHosts() { Cleanup(); }
  NetnsHosts(const NetnsHosts&) = delete;
  NetnsHosts& operator=(const NetnsHosts&) = delete;

  // "" when every host answered over ssh; else why not (sshd's log included).
  const std::string& error() const { return error_; }

  const std::string& ctl_netns() const { return ctl_; }
  std::string ctl_address() const { return "10.77.0.1"; }
  std::string host_netns(const std::string& name) const { return Get(name).netns; }
  std::string address(const std::string& name) const { return Get(name).address; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& h : hosts_) out.push_back(h.name);
    return out;
  }
  // The client's config: `ssh -F ssh_config() NAME` (or its address) from the controller
  // namespace or from any host's.
  std::string ssh_config() const { return dir_ + "/ssh_config"; }
  std::string known_hosts() const { return dir_ + "/known_hosts"; }
  std::string identity() const { return dir_ + "/client_ed25519"; }
  std::string sshd_log(const std::string& name) const { return dir_ + "/sshd-" + name + ".log"; }
  // XDG_CACHE_HOME of the host's ssh sessions: its own, on the shared disk.
  std::string cache_dir(const std::string& name) const {
    return dir_ + "/cache-" + (shared_cache_ ? std::string("shared") : name);
  }
  // The PID of the host's sshd listener; 0 when it is not running.
  pid_t sshd_pid(const std::string& name) const { return Get(name).pid; }

  // `script` as a command line that runs it in the controller namespace (for RunShell, or
  // for a drill that runs firedrill there).
  std::string CtlCommand(const std::string& script) const {
    return "ip netns exec " + ctl_ + " sh -c " + Quote(script);
  }
  // `script` as a command line that runs it in the host's namespace, directly (no ssh).
  std::string HostCommand(const std::string& name, const std::string& script) const {
    return "ip netns exec " + Get(name).netns + " sh -c " + Quote(script);
  }
  // The ssh command line that runs `script` on the host through its sshd; it works only
  // inside the controller namespace or a host's (wrap it in CtlCommand or HostCommand).
  std::string SshCommand(const std::string& name, const std::string& script) const {
    return "ssh -F " + Quote(ssh_config()) + " -n " + Quote(name) + " " + Quote(script);
  }

  CliResult RunInCtl(const std::string& script, Millis timeout = Millis(10000)) const {
    return Run(CtlCommand(script), timeout, dir_);
  }
  CliResult RunOnHost(const std::string& name, const std::string& script,
                      Millis timeout = Millis(10000)) const {
    return Run(HostCommand(name, script), timeout, dir_);
  }
  // `script` on the host, through ssh from the controller namespace: what a drill does.
  CliResult Ssh(const std::string& name, const std::string& script,
                Millis timeout = Millis(10000)) const {
    return RunInCtl(SshCommand(name, script), timeout);
  }

  // SIGKILLs the host's sshd listener: new connections are refused from then on, while
  // sessions already open go on, as they do when a real sshd dies. "" or what went wrong.
  std::string KillSshd(const std::string& name) {
    Host* h = Find(name);
    if (!h) return "no host " + name;
    if (h->pid == 0) return "the sshd of " + name + " is not running";
    Reap(*h);
    return "";
  }

  // Starts the host's sshd again (a no-op while it runs) and waits at most 10 s for it to
  // answer over ssh. "" or why it did not.
  std::string StartSshd(const std::string& name) {
    Host* h = Find(name);
    if (!h) return "no host " + name;
    if (h->pid != 0) return "";
    if (std::string e = Spawn(*h); !e.empty()) return e;
    return WaitReady({h}, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  }

  // Takes the controller's end of the host's cable down (or up again): the host drops off
  // the network, its sshd still running. Packets to it are lost rather than refused, so a
  // connection attempt waits for its timeout, as with a host that lost power.
  std::string BreakLink(const std::string& name) { return SetLink(name, "down"); }
  std::string RestoreLink(const std::string& name) { return SetLink(name, "up"); }

 private:
  struct Host {
    std::string name;
    std::string netns;
    std::string address;
    std::string veth;  // the controller's end of the pair; the host's is eth0
    pid_t pid = 0;
    size_t log_start = 0;  // the size of sshd_log(name) when its sshd was last started
  };

  static CliResult Run(const std::string& script, Millis timeout, const std::string& cwd = "/") {
    auto r = RunShell({.script = script, .cwd = cwd, .timeout = timeout, .capture_limit = 1 << 20});
    return ToCliResult(r);
  }

  // "" when the command exited 0; else the command and what it said.
  static std::string Check(const std::string& script, Millis timeout = Millis(20000)) {
    CliResult r = Run(script, timeout);
    if (r.exit_code == 0) return "";
    return "`" + script + "` failed (exit " + std::to_string(r.exit_code) + "): " + r.err + r.out;
  }

  static std::string Probe() {
    if (geteuid() != 0) return "the remote-host tests need root (network namespaces, sshd)";
    if (::access("/usr/sbin/sshd", X_OK) != 0) {
      return "no /usr/sbin/sshd (apt-get install openssh-server; or run scripts/install-deps)";
    }
    for (const char* tool : {"ip", "ssh", "ssh-keygen", "nft"}) {
      if (Run(std::string("command -v ") + tool, Millis(5000)).exit_code != 0) {
        return std::string("no `") + tool +
               "` command (apt-get install iproute2 openssh-client nftables)";
      }
    }
    // sshd without PAM turns away an account whose password is locked ('!'), even for a key.
    std::ifstream shadow("/etc/shadow");
    for (std::string line; std::getline(shadow, line);) {
      if (line.starts_with("root:!")) {
        return "root's password is locked ('!' in /etc/shadow): sshd with UsePAM no refuses a "
               "locked account, keys or not (usermod -p '*' root unlocks it for keys only)";
      }
    }
    const std::string ns = "fdc-" + std::to_string(getpid()) + "-probe";
    if (std::string e = Check("ip netns del " + ns + " 2>/dev/null; ip netns add " + ns +
                              " && ip -n " + ns + " link add fdbr0 type bridge && ip -n " + ns +
                              " link add fdv0 type veth peer name fdv1; rc=$?; ip netns del " + ns +
                              " 2>/dev/null; exit $rc");
        !e.empty()) {
      return "cannot make a network namespace with a bridge and a veth pair here (needs "
             "CAP_SYS_ADMIN and CAP_NET_ADMIN, and the bridge and veth kernel modules): " +
             e;
    }
    return "";
  }

  // SIGKILLs every process in the namespace: only processes our tests started get there
  // (sshd's session children, shells of ssh sessions, whatever a drill ran on a host).
  static void KillEverythingIn(const std::string& ns) {
    std::stringstream pids(Run("ip netns pids " + ns + " 2>/dev/null", Millis(5000)).out);
    std::vector<pid_t> killed;
    for (long p; pids >> p;) {
      if (p <= 1 || p == getpid()) continue;
      ::kill(static_cast<pid_t>(p), SIGKILL);
      killed.push_back(static_cast<pid_t>(p));
    }
    // A test process that is a subreaper adopts them when their sshd dies first: reap them
    // here, so that they do not linger as its zombies.
    for (int i = 0; i < 200; ++i) {
      bool all_gone = true;
      for (pid_t p : killed) {
        auto st = ReadProcStat(p);
        if (st && st->ppid == getpid()) ::waitpid(p, nullptr, WNOHANG);
        all_gone = all_gone && Gone(p);
      }
      if (all_gone) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  const Host& Get(const std::string& name) const {
    for (const auto& h : hosts_) {
      if (h.name == name) return h;
    }
    ADD_FAILURE() << "NetnsHosts: no host named " << name;
    static const Host kNone;
    return kNone;
  }
  Host* Find(const std::string& name) {
    for (auto& h : hosts_) {
      if (h.name == name) return &h;
    }
    return nullptr;
  }

  // The bridge and every veth are made inside the namespaces (the host's end straight into
  // its own), so no interface ever appears in the machine's namespace, where names of
  // parallel tests would collide.
  std::string MakeNetwork() {
    const std::string c = "ip -n " + ctl_ + " ";
    std::string s = "set -e\nip netns add " + ctl_ + "\n" + c + "link set lo up\n" + c +
                    "link add fdbr0 type bridge\n" + c + "addr add " + ctl_address() +
                    "/24 dev fdbr0\n" + c + "link set fdbr0 up\n";
    for (const auto& h : hosts_) {
      const std::string n = "ip -n " + h.netns + " ";
      s += "ip netns add " + h.netns + "\n" + n + "link set lo up\n" + c + "link add " + h.veth +
           " type veth peer name eth0 netns " + h.netns + "\n" + c + "link set " + h.veth +
           " master fdbr0 up\n" + n + "addr add " + h.address + "/24 dev eth0\n" + n +
           "link set eth0 up\n";
    }
    return Check(s);
  }

  std::string WriteFiles() {
    // sshd's privilege separation directory: Debian's unit makes it at boot, and without
    // systemd nothing does. sshd refuses to start without it.
    std::string keys = "set -e\nmkdir -p -m 0755 /run/sshd\ncd " + Quote(dir_) +
                       "\nrm -f client_ed25519 client_ed25519.pub\n"
                       "ssh-keygen -q -t ed25519 -N '' -C firedrill-test-client -f "
                       "client_ed25519\n";
    for (const auto& h : hosts_) {
      const std::string k = "host-" + h.name + "_ed25519";
      keys += "rm -f " + k + " " + k + ".pub\nssh-keygen -q -t ed25519 -N '' -C " + h.name +
              " -f " + k + "\n";
    }
    if (std::string e = Check(keys); !e.empty()) return e;

    auto pub = [&](const std::string& file) {
      std::string k = ReadFile(dir_ + "/" + file);
      while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
      return k;
    };
    WriteFile(dir_ + "/authorized_keys", pub("client_ed25519.pub") + "\n");
    std::string known, client;
    for (const auto& h : hosts_) {
      const std::string key = dir_ + "/host-" + h.name + "_ed25519";
      // Under both names: ssh looks a host up by whatever it was asked to connect to.
      known += h.name + "," + h.address + " " + pub("host-" + h.name + "_ed25519.pub") + "\n";
      std::string config = "ListenAddress " + h.address + ":22\n";
      config += "HostKey \"" + key + "\"\n";
      config += "AuthorizedKeysFile \"" + dir_ + "/authorized_keys\"\n";
      config += "PidFile \"" + dir_ + "/sshd-" + h.name + ".pid\"\n";
      config += "PermitRootLogin yes\n";
      // The test's temporary directory is no user's home: sshd's ownership checks of it
      // would refuse the keys.
      config += "StrictModes no\n";
      config += "UsePAM no\n";
      config += "PubkeyAuthentication yes\n";
      config += "PasswordAuthentication no\n";
      config += "KbdInteractiveAuthentication no\n";
      config += "UseDNS no\n";
      config += "PrintMotd no\n";
      config += "LogLevel VERBOSE\n";
      // The hosts share this machine's disk; each gets a cache of its own, as separate
      // machines would have (firedrill's agent keeps its binary and runs there).
      config += "SetEnv XDG_CACHE_HOME=\"" + cache_dir(h.name) + "\"\n";
      WriteFile(dir_ + "/sshd_config-" + h.name, config);
      // The address is a pattern too, so `ssh 10.77.0.11` gets the same settings.
      client += "Host " + h.name + " " + h.address + "\n  HostName " + h.address +
                "\n  User root\n  IdentityFile \"" + identity() +
                "\"\n  IdentitiesOnly yes\n  UserKnownHostsFile \"" + known_hosts() +
                "\"\n"
                // Neither the machine's known hosts nor writes to ours: the test's file is
                // the whole truth, and stays as written.
                "  GlobalKnownHostsFile /dev/null\n  UpdateHostKeys no\n"
                "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 3\n"
                "  LogLevel ERROR\n";
    }
    WriteFile(known_hosts(), known);
    WriteFile(ssh_config(), client);
    ::chmod(ssh_config().c_str(), 0600);
    return "";
  }

  // Forks `ip netns exec HOST /usr/sbin/sshd -D -e -f CONFIG` (ip execs sshd in the same
  // process, so the PID is sshd's), its output appended to sshd_log(name).
  std::string Spawn(Host& h) {
    const std::string log = sshd_log(h.name);
    const std::string config = dir_ + "/sshd_config-" + h.name;
    std::vector<std::string> args = {"ip", "netns", "exec", h.netns, "/usr/sbin/sshd",
                                     "-D", "-e",    "-f",   config};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const char* ip = ::access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip" : "/sbin/ip";
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) {
      if (out >= 0) ::close(out);
      if (in >= 0) ::close(in);
      return "cannot open " + log + " or /dev/null";
    }
    h.log_start = ReadFile(log).size();
    const pid_t parent = getpid();
    OwnedChildGuard guard;  // so that no ReapOrphans reaps it before we do
    pid_t pid = ::fork();
    if (pid == 0) {
      // Dies with the test process even when that crashes. (With the thread that forked
      // it, strictly: hosts are made and restarted on the test's own thread.)
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execv(ip, argv.data());
      _exit(127);
    }
    ::close(out);
    ::close(in);
    if (pid < 0) return std::string("fork: ") + strerror(errno);
    guard.Register(pid);
    h.pid = pid;
    return "";
  }

  // SIGKILLs the host's sshd listener and reaps it.
  void Reap(Host& h) {
    if (h.pid == 0) return;
    ::kill(h.pid, SIGKILL);
    ::waitpid(h.pid, nullptr, 0);
    ReleaseOwnedChild(h.pid);
    h.pid = 0;
  }

  // Until `deadline`: each sshd says it listens, then an ssh `true` from the controller
  // namespace gets through (keys, known_hosts and the login all work). The hosts are tried
  // all at once: a login takes a few hundred milliseconds here, mostly sshd's own.
  std::string WaitReady(std::vector<Host*> pending,
                        std::chrono::steady_clock::time_point deadline) {
    std::string last = "it never said it was listening";
    while (std::chrono::steady_clock::now() < deadline) {
      std::string script;
      for (Host* h : pending) {
        int status = 0;
        if (::waitpid(h->pid, &status, WNOHANG) == h->pid) {
          ReleaseOwnedChild(h->pid);
          h->pid = 0;
          return "the sshd of " + h->name + " exited (" +
                 (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                    : "signal " + std::to_string(WTERMSIG(status))) +
                 "); its log:\n" + ReadFile(sshd_log(h->name));
        }
        // Only what this sshd wrote: the log keeps the lines of the one before.
        if (ReadFile(sshd_log(h->name)).find("Server listening on " + h->address, h->log_start) !=
            std::string::npos) {
          // One line per host, "NAME RC what ssh said", each in one write, so that the
          // lines of hosts answering at once never interleave.
          script += "( e=$(" + SshCommand(h->name, "true") +
                    " 2>&1); rc=$?; printf '%s %s %s\\n' " + h->name +
                    " $rc \"$(printf %s \"$e\" | tr '\\n' ' ')\" ) &\n";
        }
      }
      if (!script.empty()) {
        const auto left =
            std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
        std::stringstream lines(RunInCtl(script + "wait", std::max(left, Millis(100))).out);
        for (std::string name, rc, said; lines >> name >> rc && std::getline(lines, said);) {
          if (rc == "0") {
            std::erase_if(pending, [&](Host* h) { return h->name == name; });
          } else {
            last = "ssh " + name + " true: exit " + rc + ":" + said;
          }
        }
      }
      if (pending.empty()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "the sshd of " + pending.front()->name + " did not answer within 10 s (" + last +
           "); its log:\n" + ReadFile(sshd_log(pending.front()->name));
  }

  std::string SetLink(const std::string& name, const std::string& state) {
    Host* h = Find(name);
    if (!h) return "no host " + name;
    return Check("ip -n " + ctl_ + " link set " + h->veth + " " + state, Millis(5000));
  }

  // Idempotent: the constructor calls it when setup fails, the destructor always.
  void Cleanup() {
    for (auto& h : hosts_) Reap(h);
    std::vector<std::string> all;
    for (const auto& h : hosts_) all.push_back(h.netns);
    all.push_back(ctl_);
    for (const auto& ns : all) {
      if (!std::filesystem::exists("/run/netns/" + ns)) continue;
      KillEverythingIn(ns);
      if (std::string e = Check("ip netns del " + ns, Millis(5000)); !e.empty()) {
        ADD_FAILURE() << "NetnsHosts: " << e;
      }
    }
  }

  inline static std::atomic<int> next_id_{0};
  std::string dir_;
  bool shared_cache_ = false;
  std::string id_;
  std::string ctl_;
  std::vector<Host> hosts_;
  std::string error_;
};

// Skips the test when NetnsHosts cannot run here, saying why; with FIREDRILL_REQUIRE_NETNS=1
// (for CI) fails it instead, so that the remote-host tests never go missing unnoticed.
#define FD_REQUIRE_NETNS_HOSTS()                                                                 \
  if (std::string why = ::firedrill::testing::NetnsHosts::Unsupported(); !why.empty()) {         \
    if (const char* req = ::getenv("FIREDRILL_REQUIRE_NETNS"); req && std::string(req) == "1") { \
      FAIL() << why << " (FIREDRILL_REQUIRE_NETNS=1)";                                           \
    }                                                                                            \
    GTEST_SKIP() << why;                                                                         \
  }

}  // namespace firedrill::testing
