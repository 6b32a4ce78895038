#include "runner/cli/ctl.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>

#include "runner/base/text.h"

namespace firedrill {
namespace {

// A request or answer is one short line; more is not a request.
constexpr size_t kMaxLine = 512;
// Stopping a service waits for its stop_grace (at most an hour in the format); the engine
// answers at its next tick after that.
constexpr auto kAnswerWithin = std::chrono::minutes(2);

bool FillAddress(const std::string& path, sockaddr_un* a) {
  if (path.size() >= sizeof(a->sun_path)) return false;
  std::memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  std::memcpy(a->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Reads one line (without its newline) within `timeout_ms`; "" on anything else.
std::string ReadLine(int fd, int timeout_ms) {
  std::string line;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (line.size() < kMaxLine) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 0) return line;
    if (n < 0) {
      if (errno == EINTR) continue;
      return "";
    }
    if (c == '\n') return line;
    line.push_back(c);
  }
  return "";
}

// send(2) until all is sent; MSG_NOSIGNAL: a client gone is no SIGPIPE for the session.
void SendAll(int fd, const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::send(fd, p, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

CtlServer::~CtlServer() { Stop(); }

Status CtlServer::Start(const std::string& path, TrainingDesk* desk) {
  sockaddr_un a{};
  if (!FillAddress(path, &a)) {
    return Status::Invalid("the socket path " + path + " is longer than a Unix socket allows (" +
                           std::to_string(sizeof(a.sun_path) - 1) + " bytes)");
  }
  ::unlink(path.c_str());  // a socket a killed session left
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::Io("socket: " + ErrnoText(errno));
  // Only the session's own user may stop and start its services.
  const mode_t old = ::umask(077);
  const int bound = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::umask(old);
  if (bound != 0 || ::listen(listen_fd_, 8) != 0) {
    const std::string why = ErrnoText(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return Status::Io("cannot listen on " + path + ": " + why);
  }
  path_ = path;
  desk_ = desk;
  try {
    thread_ = std::thread([this] { Loop(); });
  } catch (const std::system_error& e) {
    Stop();
    return Status::Internal(std::string("cannot start a thread for firedrill ctl: ") + e.what());
  }
  return Status::Ok();
}

void CtlServer::Stop() {
  done_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(path_.c_str());
  }
}

void CtlServer::Loop() {
  while (!done_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Serve(fd);
    ::close(fd);
  }
}

void CtlServer::Serve(int fd) {
  const std::string line = ReadLine(fd, 5000);
  std::string verb, service;
  const size_t sp = line.find(' ');
  verb = line.substr(0, sp);
  if (sp != std::string::npos) service = line.substr(sp + 1);
  if (verb.empty() || service.empty()) {
    SendAll(fd, "error: expected VERB SERVICE\n");
    return;
  }
  auto reply = std::make_shared<std::promise<std::string>>();
  std::future<std::string> answer = reply->get_future();
  desk_->Push({TraineeAction::Kind::kService, verb, service, reply});
  std::string text = "error: the session did not answer (it takes requests while the fault is on)";
  const auto end = std::chrono::steady_clock::now() + kAnswerWithin;
  while (!done_.load() && std::chrono::steady_clock::now() < end) {
    if (answer.wait_for(std::chrono::milliseconds(100)) == std::future_status::ready) {
      text = answer.get();
      break;
    }
  }
  SendAll(fd, text + "\n");
}

int RunCtl(const std::string& dir, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2 || (args[0] != "status" && args.size() != 2)) {
    std::fprintf(stderr, "usage: firedrill ctl DIR status|stop|start|restart SERVICE\n");
    return 2;
  }
  const std::string path = dir + "/ctl.sock";
  sockaddr_un a{};
  if (!FillAddress(path, &a)) {
    std::fprintf(stderr, "firedrill ctl: %s: path too long for a Unix socket\n", path.c_str());
    return 2;
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::fprintf(stderr, "firedrill ctl: no training session answers on %s: %s\n", path.c_str(),
                 ErrnoText(errno).c_str());
    if (fd >= 0) ::close(fd);
    return 4;
  }
  SendAll(fd, args[0] + " " + (args.size() > 1 ? args[1] : std::string("*")) + "\n");
  const std::string answer =
      ReadLine(fd, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        kAnswerWithin + std::chrono::seconds(5))
                                        .count()));
  ::close(fd);
  if (answer.empty()) {
    std::fprintf(stderr, "firedrill ctl: the session gave no answer\n");
    return 4;
  }
  std::printf("%s\n", answer.c_str());
  return answer.rfind("ok", 0) == 0 ? 0 : 1;
}

}  // namespace firedrill
