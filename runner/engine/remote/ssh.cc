#include "runner/engine/remote/ssh.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runner/base/text.h"

namespace firedrill {
namespace {

// PATH lookup before fork: the child may only make async-signal-safe calls.
std::string FindInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string full = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
    start = end + 1;
  }
  return "";
}

// What ssh wrote to its log from `from` on: its own message for a failed connection.
std::string ReadFileTail(const std::string& path, off_t from) {
  std::ifstream in(path);
  in.seekg(from);
  std::stringstream ss;
  ss << in.rdbuf();
  return OneLine(ss.str(), 400);
}

}  // namespace

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789@%+=:,./-_") == std::string::npos) {
    return s;
  }
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + ShellQuote(a);
  return out;
}

Result<PipedChild> SpawnChild(const std::vector<std::string>& argv, const std::string& stderr_path,
                              bool piped) {
  if (argv.empty()) return Status::Internal("SpawnChild: no command");
  const std::string exe = FindInPath(argv[0]);
  if (exe.empty()) return Status::NotFound(argv[0] + ": not found in PATH");
  UniqueFd err(::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!err.valid()) return Status::Io(stderr_path + ": " + std::strerror(errno));
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (piped) {
    if (::pipe2(in, O_CLOEXEC) != 0) return Status::Io(std::string("pipe: ") + strerror(errno));
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return Status::Io(std::string("pipe: ") + strerror(errno));
    }
  }
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {in[0], in[1], out[0], out[1]})
      if (fd >= 0) ::close(fd);
    return Status::Io(std::string("fork: ") + strerror(e));
  }
  if (pid == 0) {
    // The ssh dies with firedrill: a controller killed with SIGKILL must not leave a master
    // holding the host, and the agent must see its input end.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    ::dup2(piped ? in[0] : null.get(), 0);
    ::dup2(piped ? out[1] : null.get(), 1);
    ::dup2(err.get(), 2);
    // Its own process group: a Ctrl-C at the terminal is firedrill's to handle, and the
    // session must outlive it until the rollback is done.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(exe.c_str(), args.data());
    _exit(127);
  }
  PipedChild c;
  c.pid = pid;
  if (piped) {
    ::close(in[0]);
    ::close(out[1]);
    c.to_child = UniqueFd(in[1]);
    c.from_child = UniqueFd(out[0]);
  }
  return c;
}

void StopChild(pid_t pid, Millis grace) {
  if (pid <= 0) return;
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return;
  ::kill(pid, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
}

std::vector<std::string> SshArgv(const SshTarget& target, const std::string& control_path,
                                 Millis connect_timeout) {
  std::vector<std::string> argv = {"ssh"};
  // The drill's options first: for most settings OpenSSH takes the first value it is given,
  // and an author's ConnectTimeout or IdentityFile must win over these defaults.
  for (const auto& o : target.options) argv.push_back(o);
  int secs = static_cast<int>(std::max<int64_t>(1, (connect_timeout.count() + 999) / 1000));
  for (std::string o : {std::string("BatchMode=yes"), "ConnectTimeout=" + std::to_string(secs),
                        std::string("ServerAliveInterval=2"), std::string("ServerAliveCountMax=3"),
                        std::string("LogLevel=ERROR")}) {
    argv.push_back("-o");
    argv.push_back(o);
  }
  if (!control_path.empty()) {
    argv.push_back("-o");
    argv.push_back("ControlMaster=no");
    argv.push_back("-S");
    argv.push_back(control_path);
  }
  argv.push_back("--");
  argv.push_back(target.destination);
  return argv;
}

Result<std::string> SshResolvedHost(const SshTarget& target) {
  std::vector<std::string> argv = {"ssh", "-G"};
  for (const auto& o : target.options) argv.push_back(o);
  argv.push_back("--");
  argv.push_back(target.destination);
  auto r = RunShell({.script = ShellJoin(argv), .cwd = {}, .timeout = Millis(5000)});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Status::Failed("ssh -G " + target.destination + ": " +
                          OneLine(r->err.empty() ? r->Describe() : r->err, 400));
  }
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("hostname ", 0) == 0) return line.substr(9);
  }
  return Status::Failed("ssh -G " + target.destination + " names no hostname");
}

Result<std::unique_ptr<SshMaster>> SshMaster::Open(const SshTarget& target,
                                                   const std::string& control_dir,
                                                   const std::string& log_path,
                                                   Millis connect_timeout) {
  const std::string control = control_dir + "/%C";
  std::unique_ptr<SshMaster> m(new SshMaster(target, control, log_path, connect_timeout));
  std::vector<std::string> argv = {"ssh"};
  for (const auto& o : target.options) argv.push_back(o);
  int secs = static_cast<int>(std::max<int64_t>(1, (connect_timeout.count() + 999) / 1000));
  for (std::string o : {std::string("BatchMode=yes"), "ConnectTimeout=" + std::to_string(secs),
                        std::string("ControlMaster=yes"), std::string("ControlPersist=no"),
                        std::string("ServerAliveInterval=2"), std::string("ServerAliveCountMax=3"),
                        std::string("LogLevel=ERROR")}) {
    argv.push_back("-o");
    argv.push_back(o);
  }
  argv.insert(argv.end(), {"-S", control, "-N", "--", target.destination});
  const off_t log_start = [&] {
    struct stat st {};
    return ::stat(log_path.c_str(), &st) == 0 ? st.st_size : 0;
  }();
  auto child = SpawnChild(argv, log_path, /*piped=*/false);
  if (!child.ok()) return child.status();
  m->pid_ = child->pid;
  const auto until = std::chrono::steady_clock::now() + connect_timeout + std::chrono::seconds(1);
  std::vector<std::string> check = SshArgv(target, control, connect_timeout);
  check.insert(check.end() - 2, {"-O", "check"});
  while (true) {
    int status = 0;
    if (::waitpid(m->pid_, &status, WNOHANG) == m->pid_) {
      m->pid_ = -1;
      std::string err = ReadFileTail(log_path, log_start);
      return Status::Failed("ssh " + target.destination + ": " +
                            (err.empty() ? "the connection ended at once" : err));
    }
    // The socket appears once the master is authenticated; only then is `ssh -O check`
    // (a process per try) worth running: fifty hosts connecting at once must not spend
    // the machine on polling.
    std::error_code ec;
    const bool socket_there = !std::filesystem::is_empty(control_dir, ec) && !ec;
    if (socket_there) {
      auto r = RunShell({.script = ShellJoin(check), .cwd = {}, .timeout = Millis(3000)});
      if (r.ok() && r->exit_code == 0) return m;
    }
    if (std::chrono::steady_clock::now() >= until) {
      StopChild(m->pid_, Millis(500));
      m->pid_ = -1;
      std::string err = ReadFileTail(log_path, log_start);
      return Status::Failed("ssh " + target.destination + ": not connected within " +
                            FormatDuration(connect_timeout) + (err.empty() ? "" : ": " + err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(socket_there ? 200 : 20));
  }
}

SshMaster::~SshMaster() {
  if (pid_ <= 0) return;
  std::vector<std::string> exit = SshArgv(target_, control_path_, connect_timeout_);
  exit.insert(exit.end() - 2, {"-O", "exit"});
  (void)RunShell({.script = ShellJoin(exit), .cwd = {}, .timeout = Millis(3000)});
  StopChild(pid_, Millis(2000));
}

std::vector<std::string> SshMaster::Argv() const {
  return SshArgv(target_, control_path_, connect_timeout_);
}

Result<ShellResult> SshMaster::Run(const std::string& remote_command, Millis timeout,
                                   const std::string& stdin_path) const {
  std::vector<std::string> argv = Argv();
  argv.push_back(remote_command);
  std::string script = ShellJoin(argv);
  script += stdin_path.empty() ? " </dev/null" : " <" + ShellQuote(stdin_path);
  return RunShell({.script = script, .cwd = {}, .timeout = timeout, .capture_limit = 1 << 20});
}

bool SshMaster::Alive() const {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
  pid_ = -1;  // reaped: never signalled again, its PID may be reused
  return false;
}

}  // namespace firedrill
