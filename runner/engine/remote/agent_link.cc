#include "runner/engine/remote/agent_link.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <future>

#include "runner/base/text.h"

namespace firedrill {

Result<std::unique_ptr<AgentLink>> AgentLink::Start(std::string host,
                                                    const std::vector<std::string>& argv,
                                                    std::string stderr_path, EventFn on_event) {
  std::unique_ptr<AgentLink> link(
      new AgentLink(std::move(host), std::move(stderr_path), std::move(on_event)));
  auto child = SpawnChild(argv, link->stderr_path_, /*piped=*/true);
  if (!child.ok()) return child.status();
  link->child_ = std::move(*child);
  link->reader_ = std::thread([l = link.get()] { l->ReadLoop(); });
  return link;
}

AgentLink::~AgentLink() {
  Close(Millis(3000));
  if (reader_.joinable()) reader_.join();
}

void AgentLink::Close(Millis grace) {
  {
    std::lock_guard lock(write_mu_);
    child_.to_child.Reset();
  }
  StopChild(child_.pid, grace);
  child_.pid = -1;
}

std::string AgentLink::lost_reason() const {
  std::lock_guard lock(mu_);
  return lost_reason_;
}

void AgentLink::MarkLost(std::string why) {
  std::map<int64_t, Callback> failed;
  {
    std::lock_guard lock(mu_);
    if (lost_.exchange(true)) return;
    lost_reason_ = why;
    failed.swap(pending_);
  }
  for (auto& [id, done] : failed) done(Status::Failed("host " + host_ + ": " + why));
}

void AgentLink::ReadLoop() {
  std::string buf;
  char chunk[65536];
  while (true) {
    ssize_t n = ::read(child_.from_child.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
      auto msg = nlohmann::json::parse(buf.begin() + start, buf.begin() + nl, nullptr, false);
      if (msg.is_discarded() || !msg.is_object()) continue;  // a stray line (a shell's motd)
      if (msg.contains("id") && msg["id"].is_number_integer()) {
        Callback done;
        {
          std::lock_guard lock(mu_);
          auto it = pending_.find(msg["id"].get<int64_t>());
          if (it == pending_.end()) continue;
          done = std::move(it->second);
          pending_.erase(it);
        }
        if (msg.value("ok", false)) {
          done(std::move(msg));
        } else {
          done(Status::Failed(msg.value("error", std::string("the agent refused"))));
        }
      } else if (on_event_) {
        on_event_(msg);
      }
    }
    buf.erase(0, start);
  }
  // What ssh said last is the most useful reason (a broken pipe, a host that went away).
  std::string why = "the connection to its agent ended";
  MarkLost(why);
}

bool AgentLink::Write(const std::string& line) {
  std::lock_guard lock(write_mu_);
  if (!child_.to_child.valid()) return false;
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(child_.to_child.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

void AgentLink::Send(nlohmann::json request, Callback done) {
  int64_t id;
  {
    std::lock_guard lock(mu_);
    if (lost_) {
      std::string why = lost_reason_;
      done(Status::Failed("host " + host_ + ": " + why));
      return;
    }
    id = next_id_++;
    pending_[id] = std::move(done);
  }
  request["id"] = id;
  if (!Write(request.dump() + "\n")) {
    Callback failed;
    {
      std::lock_guard lock(mu_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return;  // the reader failed it already
      failed = std::move(it->second);
      pending_.erase(it);
    }
    failed(Status::Failed("host " + host_ + ": cannot write to its agent"));
  }
}

AgentLink::Reply AgentLink::Call(nlohmann::json request, Millis timeout) {
  auto promise = std::make_shared<std::promise<Reply>>();
  auto future = promise->get_future();
  const std::string op = request.value("op", std::string("?"));
  Send(std::move(request), [promise](Reply r) { promise->set_value(std::move(r)); });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Status::Timeout("host " + host_ + ": no answer to " + op + " within " +
                           FormatDuration(timeout));
  }
  return future.get();
}

bool AgentLink::Notify(const nlohmann::json& message) {
  if (lost_) return false;
  return Write(message.dump() + "\n");
}

}  // namespace firedrill
