#include "runner/engine/remote/remote_parts.h"

#include <map>
#include <mutex>
#include <optional>

#include "runner/base/event_loop.h"
#include "runner/base/text.h"
#include "runner/engine/remote/protocol.h"

namespace firedrill {
namespace {

using nlohmann::json;

class RemoteProbe final : public Probe {
 public:
  RemoteProbe(RemoteHosts* hosts, std::string host, std::string key, Millis timeout, Millis every)
      : hosts_(hosts),
        host_(std::move(host)),
        key_(std::move(key)),
        timeout_(timeout),
        every_(every),
        stream_(std::make_shared<Stream>()) {
    if (every_.count() > 0) {
      // Shared with the subscription: a sample arriving as the probe goes is harmless.
      // Nothing of the probe itself: it may be gone when the host's last sample arrives.
      hosts_->Subscribe(host_, key_, [hosts = hosts_, host = host_, s = stream_](const json& ev) {
        ProbeOutcome out =
            ev.contains("lost")
                ? ProbeOutcome(false, "unreachable: " + ev.value("lost", std::string()))
                : ConvertReply(hosts, host, json(ev));
        Deliver(*s, std::move(out));
      });
    }
  }

  ProbeOutcome Sample(const SampleVars& vars) override {
    return Convert(hosts_->Call(host_, Request(vars), timeout_ + Millis(2000)));
  }

  // The answer comes on the link's reader thread; the engine hears it on a loop thread,
  // as from any probe. An agent answers every sample within its probe's timeout, and a
  // link that goes silent is found lost by ssh's keep-alives within about six seconds,
  // which fails every sample waiting on it: no sample waits for ever.
  void SampleAsync(const SampleVars& vars, EventLoop& loop, SampleDone done) override {
    HostLink* h = hosts_->Find(host_);
    std::shared_ptr<AgentLink> agent = h ? h->Agent() : nullptr;
    if (!agent) {
      done(ProbeOutcome(false, "host " + host_ + ": not connected"));
      return;
    }
    if (every_.count() > 0 && !vars.seq) {
      Stream& s = *stream_;
      bool start = false;
      {
        // A host re-joined since the schedule began has a new agent: ask it again. A
        // re-join swaps the agent, then bumps the generation, then clears `lost`: read in
        // the other order, a host seen back has its new agent here.
        std::lock_guard lock(s.mu);
        if (!h->lost) {
          const int gen = h->generation.load();
          start = !s.started || s.generation != gen;
          if (start) {
            agent = h->Agent();
            s.started = true;
            s.generation = gen;
            s.error.clear();
          }
        }
      }
      // Sent unlocked: a link already lost answers at once, on this thread, into Deliver.
      if (start) {
        agent->Send({{"op", "schedule"}, {"probe", key_}, {"every_ms", every_.count()}},
                    [s = stream_](AgentLink::Reply r) {
                      if (r.ok()) return;
                      // No schedule, no samples to come: every later ask fails at once
                      // rather than wait for one.
                      {
                        std::lock_guard l(s->mu);
                        s->error = r.status().message();
                      }
                      Deliver(*s, ProbeOutcome(false, "unreachable: " + r.status().message()));
                    });
      }
      std::unique_lock lock(s.mu);
      if (s.fresh) {
        ProbeOutcome out = std::move(*s.fresh);
        s.fresh.reset();
        lock.unlock();
        loop.Post([done, out = std::move(out)]() mutable { done(std::move(out)); });
        return;
      }
      if (!s.error.empty()) {
        const std::string why = s.error;
        lock.unlock();
        done(ProbeOutcome(false, "unreachable: " + why));
        return;
      }
      if (h->lost) {
        lock.unlock();
        done(ProbeOutcome(false, "unreachable: host " + host_ + ": " + h->LostReason()));
        return;
      }
      s.waiter = std::move(done);
      s.loop = &loop;
      return;
    }
    agent->Send(Request(vars), [this, &loop, done = std::move(done)](AgentLink::Reply r) {
      ProbeOutcome out = Convert(std::move(r));
      loop.Post([done, out = std::move(out)]() mutable { done(std::move(out)); });
    });
  }

 private:
  json Request(const SampleVars& vars) const {
    json req = {{"op", "sample"}, {"probe", key_}};
    if (vars.seq) req["seq"] = *vars.seq;
    return req;
  }

  ProbeOutcome Convert(AgentLink::Reply r) const {
    return ConvertReply(hosts_, host_, std::move(r));
  }

  static ProbeOutcome ConvertReply(RemoteHosts* hosts, const std::string& host,
                                   AgentLink::Reply r) {
    if (!r.ok()) return ProbeOutcome(false, "unreachable: " + r.status().message());
    HostLink* h = hosts->Find(host);
    ProbeOutcome out(r->value("passed", false), r->value("detail", std::string()));
    // The host's own moment: the one the watch is judged by, not the moment the answer
    // crossed the network.
    const int64_t t_us = r->contains("observed_us") ? r->value("observed_us", int64_t{0})
                                                    : r->value("t_us", int64_t{0});
    if (h && t_us > 0) out.observed_at_ms = hosts->ToControllerMs(*h, t_us);
    if (r->contains("value") && (*r)["value"].is_number()) out.value = (*r)["value"].get<double>();
    return out;
  }

  // The newest sample the host took and nobody has had yet, or the one asking for it.
  struct Stream {
    std::mutex mu;
    bool started = false;
    int generation = 0;  // the host's, when the schedule was asked for
    std::string error;   // the schedule was refused: why
    std::optional<ProbeOutcome> fresh;
    SampleDone waiter;
    EventLoop* loop = nullptr;
  };
  static void Deliver(Stream& s, ProbeOutcome out) {
    std::unique_lock lock(s.mu);
    if (s.waiter) {
      SampleDone done = std::move(s.waiter);
      s.waiter = nullptr;
      EventLoop* loop = s.loop;
      lock.unlock();
      loop->Post([done, out = std::move(out)]() mutable { done(std::move(out)); });
      return;
    }
    s.fresh = std::move(out);
  }

  RemoteHosts* hosts_;
  std::string host_;
  std::string key_;
  Millis timeout_;
  Millis every_;
  std::shared_ptr<Stream> stream_;
};

class RemoteFault final : public Fault {
 public:
  RemoteFault(RemoteHosts* hosts, const FaultSpec& f, const FaultAction& action, Millis timeout)
      : hosts_(hosts),
        name_(f.name),
        host_(f.host),
        // A partition's rules go on its peer too; a delay only names the peer it slows.
        peer_(HostsActedOn(f, action).size() > 1 ? f.with.String("peer") : ""),
        timeout_(timeout) {}

  Status Prepare() override {
    auto r = hosts_->Call(host_, {{"op", "prepare"}, {"fault", name_}}, Millis(60000));
    if (!r.ok()) return r.status();
    reversible_ = r->value("reversible", true);
    if (!peer_.empty()) {
      auto p =
          hosts_->Call(peer_, {{"op", "prepare"}, {"fault", name_}, {"peer", true}}, Millis(60000));
      if (!p.ok()) return p.status();
    }
    return Status::Ok();
  }

  Result<std::string> Inject() override {
    auto r = hosts_->Call(host_, {{"op", "inject"}, {"fault", name_}}, timeout_);
    if (!r.ok()) return r.status();
    Absorb(host_, *r);
    std::string detail = "on host " + host_ + ": " + r->value("detail", std::string());
    if (!peer_.empty()) {
      auto p = hosts_->Call(peer_, {{"op", "inject"}, {"fault", name_}, {"peer", true}}, timeout_);
      if (!p.ok()) {
        // Half a partition is no partition: the first side goes back.
        (void)hosts_->Call(host_, {{"op", "rollback"}, {"fault", name_}}, timeout_);
        return Status::Failed("on host " + peer_ + ": " + p.status().message());
      }
      Absorb(peer_, *p);
      detail += "; on host " + peer_ + ": " + p->value("detail", std::string());
    }
    return detail;
  }

  Result<std::string> Rollback() override {
    std::string detail, failed;
    for (const auto& [host, peer] : {std::pair{host_, false}, std::pair{peer_, true}}) {
      if (host.empty()) continue;
      // Lost and re-joined since: its dead-man undid this, and `firedrill rollback` there
      // confirmed it; the new agent never held it.
      if (HostLink* h = hosts_->Find(host); h && injected_generation_.count(host) &&
                                            h->generation.load() != injected_generation_.at(host)) {
        detail += (detail.empty() ? "" : "; ") + ("on host " + host + ": ") +
                  "reverted by its dead-man, confirmed when it was re-joined";
        continue;
      }
      json req = {{"op", "rollback"}, {"fault", name_}};
      if (peer) req["peer"] = true;
      auto r = hosts_->Call(host, req, timeout_);
      if (r.ok()) {
        for (const auto& [k, v] : (*r)["figures"].items()) {
          if (v.is_number()) SetFigure(k, v.get<double>());
        }
        detail += (detail.empty() ? "" : "; ") + ("on host " + host + ": ") +
                  r->value("detail", std::string());
      } else {
        failed += (failed.empty() ? "" : "; ") + ("on host " + host + ": ") + r.status().message();
      }
    }
    if (!failed.empty()) return Status::Failed(failed);
    return detail;
  }

  bool Reversible() const override { return reversible_; }

 private:
  void Absorb(const std::string& host, const json& r) {
    if (HostLink* h = hosts_->Find(host)) injected_generation_[host] = h->generation.load();
    if (r.contains("figures")) {
      for (const auto& [k, v] : r["figures"].items()) {
        if (v.is_number()) SetFigure(k, v.get<double>());
      }
    }
    // The first side in place is the moment the fault took effect.
    if (HostLink* h = hosts_->Find(host); h && !effective_set_) {
      const int64_t us = r.contains("effective_us") ? r.value("effective_us", int64_t{0})
                                                    : r.value("t_us", int64_t{0});
      if (us > 0) {
        MarkEffectiveAt(hosts_->ToControllerMs(*h, us));
        effective_set_ = true;
      }
    }
  }

  RemoteHosts* hosts_;
  std::string name_;
  std::string host_;
  std::string peer_;
  Millis timeout_;
  bool reversible_ = true;
  bool effective_set_ = false;
  std::map<std::string, int> injected_generation_;  // each host's, when it took the fault
};

}  // namespace

std::unique_ptr<Probe> MakeRemoteProbe(RemoteHosts* hosts, const ProbeSpec& p,
                                       Millis default_timeout, Millis every) {
  Millis timeout = p.params.Has("timeout") ? p.params.Duration("timeout") : default_timeout;
  return std::make_unique<RemoteProbe>(hosts, HostOf(p), ProbeKey(p.mark), timeout, every);
}

std::unique_ptr<Fault> MakeRemoteFault(RemoteHosts* hosts, const FaultSpec& f,
                                       const FaultAction& action, Millis timeout) {
  return std::make_unique<RemoteFault>(hosts, f, action, timeout);
}

}  // namespace firedrill
