// The controller's end of one host's agent: `firedrill agent` on the host, over an ssh
// session of the host's master connection, speaking JSON lines (docs/remote-hosts.md has
// the protocol). Requests carry an id; the agent answers each once, in any order, and
// may send events (a service that exited) unasked.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "runner/base/status.h"
#include "runner/base/values.h"
#include "runner/engine/remote/ssh.h"

namespace firedrill {

class AgentLink {
 public:
  using Reply = Result<nlohmann::json>;
  using Callback = std::function<void(Reply)>;
  using EventFn = std::function<void(const nlohmann::json&)>;

  // Starts `argv` (ssh ... firedrill agent ...), its stderr appended to `stderr_path`.
  // `on_event` hears the agent's unasked messages, on the link's reader thread.
  static Result<std::unique_ptr<AgentLink>> Start(std::string host,
                                                  const std::vector<std::string>& argv,
                                                  std::string stderr_path, EventFn on_event);
  ~AgentLink();
  AgentLink(const AgentLink&) = delete;
  AgentLink& operator=(const AgentLink&) = delete;

  // Sends `request` (its "id" is set here) and calls `done` once: with the agent's answer,
  // or with kFailed when the link is lost first. `done` runs on the reader thread, or at
  // once when the link is already lost.
  void Send(nlohmann::json request, Callback done);
  // Send, waiting at most `timeout` for the answer (kTimeout past it). An answer with
  // "ok": false comes back as kFailed with its "error".
  Reply Call(nlohmann::json request, Millis timeout);
  // Writes without waiting for an answer (a lease renewal); false when the link is lost.
  bool Notify(const nlohmann::json& message);

  bool lost() const { return lost_.load(); }
  std::string lost_reason() const;
  const std::string& host() const { return host_; }
  // Closes the agent's stdin and waits at most `grace` for the session to end.
  void Close(Millis grace);

 private:
  AgentLink(std::string host, std::string stderr_path, EventFn on_event)
      : host_(std::move(host)),
        stderr_path_(std::move(stderr_path)),
        on_event_(std::move(on_event)) {}
  void ReadLoop();
  bool Write(const std::string& line);
  void MarkLost(std::string why);

  std::string host_;
  std::string stderr_path_;
  EventFn on_event_;
  PipedChild child_;
  std::thread reader_;
  std::mutex write_mu_;
  mutable std::mutex mu_;  // guards pending_, next_id_, lost_reason_
  std::map<int64_t, Callback> pending_;
  int64_t next_id_ = 1;
  std::atomic<bool> lost_{false};
  std::string lost_reason_;
};

}  // namespace firedrill
