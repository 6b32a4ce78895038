// The hosts of a drill across hosts, as the controller holds them for one run: for each,
// the master ssh connection, the agent on it, the address the host was reached at, and
// the offset between its monotonic clock and the controller's. Each host is journaled
// (kind host.rollback) before its agent starts, so `firedrill rollback` reaches a host a
// crashed controller left behind.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runner/drill/fault.h"
#include "runner/drill/probe.h"
#include "runner/drill/scenario.h"
#include "runner/engine/remote/agent_link.h"
#include "runner/engine/remote/ssh.h"
#include "runner/engine/timeline.h"
#include "runner/journal/journal.h"

namespace firedrill {

struct HostLink {
  SshTarget target;
  size_t index = 0;  // its place in the run's hosts (its control directory's name)
  // Replaced when a lost host is re-joined, so anyone but the thread that made them takes
  // them through Agent() (under `mu`).
  std::shared_ptr<SshMaster> master;
  std::shared_ptr<AgentLink> agent;
  std::string address;      // where ssh reached it (sshd's SSH_CONNECTION)
  std::string remote_dir;   // this run's directory on the host
  std::string bin;          // the firedrill binary there
  std::string control_dir;  // here: the master's socket, `%C` in it
  // host monotonic µs - controller monotonic µs, measured over the connection; ± the
  // uncertainty (half the fastest round trip).
  std::atomic<int64_t> offset_us{0};
  int64_t uncertainty_us = 0;
  uint64_t journal_entry = 0;
  std::atomic<bool> ready{false};  // hello answered: its lease runs, renew it
  std::atomic<bool> lost{false};
  // Lost, then reached again with nothing left in its journal: its dead-man (or the
  // rollback run there) put it back.
  std::atomic<bool> revert_confirmed{false};
  // How many times it was lost and re-joined: a probe scheduled on an earlier agent asks
  // the new one again.
  std::atomic<int> generation{0};

  std::shared_ptr<AgentLink> Agent() const {
    std::lock_guard lock(mu);
    return agent;
  }
  std::string LostReason() const {
    std::lock_guard lock(mu);
    return lost_reason;
  }
  mutable std::mutex mu;  // agent, master, lost_reason; address while a re-join writes it
  std::string lost_reason;
};

// Where each host-bound piece of the drill runs: `host:` of a fault, a service or a probe.
// Returns the names of the hosts a drill actually uses.
std::set<std::string> HostsUsed(const Scenario& s);
// The host a probe runs on ("" for here).
std::string HostOf(const ProbeSpec& p);

struct RemoteOptions {
  std::string local_dir;  // the run's own directory here: ssh logs
  // Where the masters' control sockets go (STATE_DIR/ssh): one directory per host,
  // PID.INDEX, each holding `%C`. A state directory too long for a socket path (OpenSSH
  // needs the path plus 17 bytes within sun_path's 108) falls back to /tmp/fd-ssh-XXXXXX.
  std::string control_root;
  std::string log_dir;  // where the hosts' service logs go at teardown (the report's)
  std::string run_id;
  std::string drill_text;
  std::string drill_file;
  std::string inventory_json;  // hosts_from's, as read here ("" without one)
  std::map<std::string, int> ports;
  Millis lease{10000};
  Millis connect_timeout{5000};
  Journal* journal = nullptr;
  Timeline* timeline = nullptr;
};

class RemoteHosts {
 public:
  explicit RemoteHosts(RemoteOptions o) : o_(std::move(o)) {}
  ~RemoteHosts();
  RemoteHosts(const RemoteHosts&) = delete;
  RemoteHosts& operator=(const RemoteHosts&) = delete;

  // Connects to every host in `used`, all at once: master, binary, journal entry, agent,
  // hello, clock offset; then tells each agent the others' addresses and starts renewing
  // the leases. Fails (naming the host and ssh's own message) when any host cannot be
  // reached or refuses the drill: before anything was started or injected.
  Status Connect(const std::vector<HostSpec>& hosts, const std::set<std::string>& used);

  HostLink* Find(const std::string& name);
  // A host's monotonic µs as the controller's Env ms (the timeline's clock).
  int64_t ToControllerMs(const HostLink& h, int64_t host_us) const;

  // A call to host `name`'s agent; kFailed when the host is lost.
  AgentLink::Reply Call(const std::string& name, nlohmann::json request, Millis timeout);

  // Tears every agent down (rolls its host back, stops its services, closes its journal).
  // A host still lost gets one more try over a fresh connection, within
  // `reconnect_within`: its dead-man should have reverted it, and `firedrill rollback`
  // there confirms it. Returns what is left, host by host.
  //
  // During the run, a lost host is tried again every second from its lease plus one
  // second on: once `firedrill rollback` there confirms its revert, it is re-joined (a new
  // master and agent; its probes resume, its services stay stopped).
  std::vector<std::string> Teardown(Millis reconnect_within);

  const std::vector<std::unique_ptr<HostLink>>& links() const { return links_; }

  // The samples host `host` takes of probe `probe` (its line:column) on its own schedule
  // reach `fn`, on a link's reader thread; so does {"lost": why} once the host is lost.
  using StreamFn = std::function<void(const nlohmann::json&)>;
  void Subscribe(const std::string& host, const std::string& probe, StreamFn fn);

 private:
  // A new master and agent for `h`, in the control directory of h.index; also how a lost
  // host is re-joined.
  Status ConnectOne(HostLink& h);
  // Tells h's agent where every host was reached (for partitions and delays to them).
  Status SendPeers(HostLink& h);
  Result<std::string> MakeControlDir(size_t index);
  void RenewLoop();
  void NoteLost(HostLink& h, const std::string& why);
  // The body of a lost host's re-join thread (see Teardown).
  void Rejoin(HostLink& h);
  // Waits at most `d` for the run to stop renewing; true when it did.
  bool StopWithin(Millis d);
  void Dispatch(const std::string& host, const std::string& probe, const nlohmann::json& ev);
  // Runs `firedrill rollback` on a host over a fresh connection.
  Result<std::string> RollBackOver(HostLink& h, Millis within);

  // Lets the connecting threads end (their ssh children are gone by then).
  void ReleaseHolders();

  RemoteOptions o_;
  std::vector<std::thread> holders_;
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool release_ = false;
  std::vector<std::unique_ptr<HostLink>> links_;
  std::map<std::string, HostLink*> by_name_;
  std::mutex streams_mu_;
  std::map<std::pair<std::string, std::string>, StreamFn> streams_;
  std::thread renewer_;
  std::mutex renew_mu_;
  std::condition_variable renew_cv_;
  bool stop_renewing_ = false;
  // Re-join threads (under hold_mu_): each stays, like a holder, until teardown.
  std::vector<std::thread> rejoiners_;
  int rejoining_ = 0;  // of those, the ones still trying; Teardown waits for none
};

// The undo of a host's journal entry: `firedrill rollback` on the host, over ssh.
extern const UndoKind kHostRollbackUndo;

}  // namespace firedrill
