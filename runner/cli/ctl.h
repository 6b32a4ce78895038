// `firedrill ctl DIR status|stop|start|restart SERVICE`: the trainee's systemctl for a
// training session's services. The session listens on DIR/ctl.sock (a Unix socket, mode
// 0600: only its user may ask); a request is one line, "VERB SERVICE", and so is the
// answer, "ok: ..." or "error: ...". The session keeps the service its own (journaled,
// stopped at teardown), so nothing the trainee restarts this way is left behind.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/status.h"
#include "runner/engine/training.h"

namespace firedrill {

class CtlServer {
 public:
  CtlServer() = default;
  ~CtlServer();  // Stop()s
  CtlServer(const CtlServer&) = delete;
  CtlServer& operator=(const CtlServer&) = delete;

  // Listens on `path` and hands each request to `desk` (not owned; it must outlive the
  // server), answering with what the engine replied.
  Status Start(const std::string& path, TrainingDesk* desk);
  // Stops listening and removes the socket. Idempotent.
  void Stop();

 private:
  void Loop();
  void Serve(int fd);

  std::string path_;
  TrainingDesk* desk_ = nullptr;
  int listen_fd_ = -1;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// The client: exit 0 when the session answered "ok", 1 when it answered "error", 2 for
// bad usage, 4 when no session answers in DIR.
int RunCtl(const std::string& dir, const std::vector<std::string>& args);

}  // namespace firedrill
