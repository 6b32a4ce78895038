// webhook: an Alertmanager webhook notification for an alert has arrived.
//
// The probe is a small HTTP server, bound when the probe is built (before the drill's
// services, so Alertmanager finds it from its first notification) and stopped when the
// probe is destroyed. Boost.Beast serves it on the run's event loop: accepting, reading and
// answering are asynchronous, so a connection costs a socket and a few KiB, never a thread.
// (cpp-httplib, used before, tied one of four workers to each connection until its read
// timeout: 500 idle connections kept a real notification waiting for more than 5 s.)
//
// What a sender meets, each a constant below:
// - at most kMaxConnections open at once; a new connection at the cap closes the one that has
//   waited longest without sending a complete request (Admit says why that one);
// - a request, once its first byte is in, has kRequestTimeout for its head and body; a
//   kept-alive connection waiting for its next request is closed after kIdleTimeout;
// - a body over kMaxBody is answered 413 from its Content-Length, before it is read (or as
//   soon as a chunked one passes the limit); a head over kMaxHead is answered 431; bytes
//   that are not HTTP, 400; a POST that is not a notification, 400; any other method, 404.
//
// The loop has several threads. Each connection's handlers run on its own strand, the
// acceptor's on another; what they share (the counts, the table of connections) is behind
// the receiver's mutex. The receiver is owned by shared_ptr and every handler in flight holds
// it, so none can outlive what it touches, whenever the probe is destroyed.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "probes/alert_text.h"
#include "runner/base/event_loop.h"
#include "runner/base/net.h"
#include "runner/base/text.h"
#include "runner/base/values.h"
#include "runner/drill/pattern.h"
#include "runner/drill/probe.h"

namespace firedrill {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

// An Alertmanager notification is a few KiB per alert; anything beyond this is refused
// (413) before it is read, so a runaway sender cannot grow the drill's memory.
constexpr size_t kMaxBody = 1 << 20;
// Beast's default: the request line and headers together. A path beyond it is answered 431.
constexpr size_t kMaxHead = 8 << 10;
// Notifications are counted, not stored, so their number costs nothing; the count is
// capped only so that it cannot overflow in a drill left running for ages.
constexpr int64_t kMaxCount = int64_t{1} << 40;
// Alertmanager keeps one connection per receiver URL, a few at most; the cap only bounds
// the descriptors and memory a flood of connections can take from the drill.
constexpr size_t kMaxConnections = 256;
// From a request's first byte to its last: a sender on loopback needs microseconds, so this
// is only for one that stalls, trickles, or vanishes half-way.
constexpr auto kRequestTimeout = std::chrono::seconds(2);
// A kept-alive connection waiting for its next request. Long: closing an idle connection
// races a sender that is reusing it just then, and Go's client (Alertmanager's) does not
// retry a POST that fails that way (Alertmanager would wait for its own retry). An idle
// connection costs a descriptor, and the cap bounds those.
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kWriteTimeout = std::chrono::seconds(2);
// After an answer that ends the connection (413, 400 for bytes that are not HTTP), what the
// sender is still sending is read and dropped for at most this long, this much: closing with
// unread bytes would reset the connection, and the sender could lose the answer with it.
constexpr auto kLingerTimeout = std::chrono::seconds(1);
constexpr size_t kLingerMax = 8 << 20;
constexpr size_t kReadChunk = 16 << 10;
// Out of descriptors, the listener tries again after this.
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
constexpr int kAcceptBatch = 64;
// How long destroying the probe waits for its handlers to finish; past it they finish later,
// harmlessly (they hold the receiver, not the probe).
constexpr auto kStopBudget = std::chrono::seconds(5);

// A listener may only be bound on this machine's loopback: `localhost`, or a numeric
// address (read as getaddrinfo reads it) that is loopback.
bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  auto found = NumericAddresses(host);
  return !found.empty() && std::all_of(found.begin(), found.end(), [](const sockaddr_storage& s) {
    return IsLoopbackAddress(reinterpret_cast<const sockaddr*>(&s));
  });
}

// Where to listen for `host` (IsLoopbackHost). `localhost` is 127.0.0.1, the address
// resolvers give it first; Go's dialer, given both, goes on to it at once if ::1 refuses.
std::optional<tcp::endpoint> EndpointOf(const std::string& host, int port) {
  const auto p = static_cast<uint16_t>(port);
  if (host == "localhost") return tcp::endpoint(asio::ip::address_v4::loopback(), p);
  auto found = NumericAddresses(host);
  if (found.empty()) return std::nullopt;
  const sockaddr_storage& s = found.front();
  if (s.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(s);
    return tcp::endpoint(asio::ip::address_v4(ntohl(in.sin_addr.s_addr)), p);
  }
  if (s.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(s);
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), in6.sin6_addr.s6_addr, bytes.size());
    return tcp::endpoint(asio::ip::address_v6(bytes, in6.sin6_scope_id), p);
  }
  return std::nullopt;
}

std::string Shown(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string StringAt(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

class Connection;

// Where a connection is, for the cap: which one to close first when a new one arrives.
enum class Phase {
  kEnding,    // answered for the last time, draining what the sender still sends
  kIdle,      // waiting for a request: none of its bytes yet
  kPartial,   // some of a request is in
  kComplete,  // a complete request is being judged or answered; never closed for the cap
};

// The server: the listener, every connection's entry, and what the notifications said.
class Receiver : public std::enable_shared_from_this<Receiver> {
 public:
  Receiver(EventLoop* loop, std::string alert, std::string status)
      : loop_(loop),
        alert_(std::move(alert)),
        status_(std::move(status)),
        acceptor_(asio::make_strand(loop->io())),
        retry_(acceptor_.get_executor()) {}

  // Binds and starts accepting; on failure nothing is left open.
  Status Listen(const tcp::endpoint& at, const std::string& shown);
  // Closes the listener and every connection, and waits (kStopBudget at most) until none of
  // their handlers is left. Idempotent.
  void Stop();

  ProbeOutcome Sample();

  EventLoop& loop() { return *loop_; }
  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }
  // A POSTed body, judged and counted; true when it was a notification. `arrived_ms` is
  // the run's time at which its last byte was read.
  bool Record(const std::string& body, int64_t arrived_ms);
  // Connection `id` moved to `phase`.
  void Moved(uint64_t id, Phase phase);
  // Connection `id` is destroyed (called by its destructor).
  void Gone(uint64_t id);

 private:
  struct Entry {
    std::weak_ptr<Connection> conn;
    Phase phase = Phase::kIdle;
    SteadyTime since;  // when it entered `phase`
  };

  void Accept();
  void AcceptLater();
  void OnReadable(beast::error_code ec);
  // Takes a new connection in, making room for it at the cap.
  void Admit(tcp::socket socket);
  // Makes room for one more connection. Returns the connection to close (to be closed
  // outside the lock: a connection's last reference may go with it), or sets *room to false
  // when every entry holds a complete request.
  std::shared_ptr<Connection> EvictLocked(bool* room);
  bool StoppedLocked() const { return acceptor_closed_ && live_ == 0; }

  EventLoop* const loop_;
  const std::string alert_;
  const std::string status_;
  // Used only on the acceptor's strand (its executor), after Listen.
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  tcp protocol_ = tcp::v4();

  std::mutex mu_;  // guards everything below
  std::condition_variable stopped_;
  bool stopping_ = false;
  bool acceptor_closed_ = false;
  size_t live_ = 0;  // Connection objects not yet destroyed (entries_ plus those evicted)
  uint64_t next_id_ = 0;
  std::map<uint64_t, Entry> entries_;  // the connections that count against the cap
  int64_t start_ms_ = 0;
  int64_t received_ = 0;
  int64_t rejected_ = 0;
  std::optional<int64_t> matched_at_ms_;
  std::string matched_alert_;  // its labels and summary, for the detail
};

// One accepted connection: reads requests one after another (kept alive as the sender
// asks) and answers each. Every handler runs on the connection's strand and holds it by
// shared_ptr; it is destroyed when its last operation has completed.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Receiver> receiver, uint64_t id, tcp::socket socket)
      : receiver_(std::move(receiver)), id_(id), stream_(std::move(socket)) {}
  ~Connection() { receiver_->Gone(id_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  auto executor() { return stream_.get_executor(); }
  void Start() {
    asio::dispatch(executor(), [self = shared_from_this()] { self->WaitForRequest(); });
  }
  // Closes the socket: whatever is in flight completes at once, aborted, and ends here.
  // On the connection's strand.
  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void WaitForRequest();
  void OnFirstBytes(beast::error_code ec, size_t n);
  void ReadHead();
  void OnHead(beast::error_code ec, size_t n);
  void ReadBody();
  void OnBody(beast::error_code ec, size_t n);
  // A request that could not be read: answered when the sender can use an answer.
  void Failed(beast::error_code ec);
  void Answer(http::status status, std::string text, bool keep_alive);
  void Linger();
  void Drain();

  const std::shared_ptr<Receiver> receiver_;
  const uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> response_;
  size_t drained_ = 0;
  bool closed_ = false;
};

Status Receiver::Listen(const tcp::endpoint& at, const std::string& shown) {
  beast::error_code ec;
  // Opened close-on-exec, which Asio's open() does not do: a child the drill starts (a
  // service, a remediation's daemon) would otherwise keep the port bound after the probe
  // stops. Non-blocking, for OnReadable's accept4.
  const int fd = ::socket(at.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          at.protocol().protocol());
  if (fd < 0) {
    ec.assign(errno, boost::system::system_category());
  } else {
    acceptor_.assign(at.protocol(), fd, ec);
    if (ec) ::close(fd);
  }
  protocol_ = at.protocol();
  if (!ec) acceptor_.non_blocking(true, ec);
  // SO_REUSEADDR only, so that a port left in TIME_WAIT by the last run can be bound again.
  // Never SO_REUSEPORT (cpp-httplib set it): a second receiver would share the port
  // silently and get half the notifications; a taken port must be an error. Asio sets
  // neither unless told.
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return Status::Failed("cannot listen on " + shown +
                          ": the port is taken, or the address is not local");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    start_ms_ = loop_->NowMs();
  }
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->Accept(); });
  return Status::Ok();
}

void Receiver::Accept() {
  if (stopping()) return;
  // Waits for the listener to be readable and accepts itself (OnReadable): Asio's accept
  // gives a socket without close-on-exec, and setting it after would race a fork.
  acceptor_.async_wait(tcp::acceptor::wait_read,
                       beast::bind_front_handler(&Receiver::OnReadable, shared_from_this()));
}

void Receiver::AcceptLater() {
  retry_.expires_after(kAcceptRetry);
  retry_.async_wait([self = shared_from_this()](beast::error_code e) {
    if (!e) self->Accept();
  });
}

void Receiver::OnReadable(beast::error_code ec) {
  if (ec == asio::error::operation_aborted || stopping()) return;
  if (ec) return AcceptLater();
  // Takes what the backlog holds, a batch at a time, so that a flood is taken in quickly
  // and this strand still yields between batches.
  for (int i = 0; i < kAcceptBatch; ++i) {
    const int fd =
        ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      // A connection that died in the backlog is no reason to stop.
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return Accept();
      // Out of descriptors: an idle connection of ours makes room, and the listener tries
      // again shortly (at once would spin while the backlog still holds the connection).
      // Out of memory or buffers, the same pause.
      if (err == EMFILE || err == ENFILE) {
        std::shared_ptr<Connection> victim;
        {
          std::lock_guard<std::mutex> lock(mu_);
          bool room = false;
          victim = EvictLocked(&room);
        }
        if (victim) asio::post(victim->executor(), [victim] { victim->Close(); });
      }
      return AcceptLater();
    }
    // Each connection gets a strand of its own: its handlers never run at once, while
    // different connections are served on different loop threads.
    tcp::socket socket(asio::make_strand(loop_->io()));
    beast::error_code assigned;
    socket.assign(protocol_, fd, assigned);
    if (assigned) {
      ::close(fd);
      continue;
    }
    Admit(std::move(socket));
  }
  Accept();
}

void Receiver::Admit(tcp::socket socket) {
  std::shared_ptr<Connection> victim;
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool room = entries_.size() < kMaxConnections;
    if (!room) victim = EvictLocked(&room);
    if (room && !stopping_) {
      const uint64_t id = next_id_++;
      conn = std::make_shared<Connection>(shared_from_this(), id, std::move(socket));
      entries_[id] = Entry{conn, Phase::kIdle, std::chrono::steady_clock::now()};
      ++live_;
    }
    // Else `socket` closes as it goes: the receiver is stopping, or every entry holds a
    // complete request being answered (they finish in microseconds), and those are never
    // given up for a new connection.
  }
  if (victim) asio::post(victim->executor(), [victim] { victim->Close(); });
  if (conn) conn->Start();
}

// The cap's policy: a new connection is always admitted if anything can give way, so a
// flood of connections cannot lock a sender out by holding every slot. What gives way is,
// first, a connection already ending; then one that has sent nothing, the one idle longest;
// then one in the middle of a request, the one in it longest (a sender on loopback writes a
// request in one go, so a long partial request is a stalled one). A complete request is
// never given up: that would starve exactly the notifications the probe is for.
std::shared_ptr<Connection> Receiver::EvictLocked(bool* room) {
  auto best = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.phase == Phase::kComplete) continue;
    if (best == entries_.end() || it->second.phase < best->second.phase ||
        (it->second.phase == best->second.phase && it->second.since < best->second.since)) {
      best = it;
    }
  }
  if (best == entries_.end()) {
    *room = false;
    return nullptr;
  }
  // Erased now, so that the next arrival does not pick it again; its Gone finds it gone.
  // (lock() may fail: the connection is being destroyed, which makes room all the same.)
  std::shared_ptr<Connection> victim = best->second.conn.lock();
  entries_.erase(best);
  *room = true;
  return victim;
}

void Receiver::Moved(uint64_t id, Phase phase) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;  // evicted: it is being closed
  it->second.phase = phase;
  it->second.since = std::chrono::steady_clock::now();
}

void Receiver::Gone(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(id);
  --live_;
  if (StoppedLocked()) stopped_.notify_all();
}

void Receiver::Stop() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, e] : entries_) {
      if (auto c = e.conn.lock()) open.push_back(std::move(c));
    }
  }
  // Each closed on its own strand, where its other operations run: an Asio object is not
  // safe to use from two threads at once.
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_.cancel();
    std::lock_guard<std::mutex> lock(self->mu_);
    self->acceptor_closed_ = true;
    if (self->StoppedLocked()) self->stopped_.notify_all();
  });
  for (auto& c : open) asio::post(c->executor(), [c] { c->Close(); });
  open.clear();  // the posted closes hold them now; this thread must not be the last

  // Destroyed from a loop handler, this thread may be the one the closes need (a loop of
  // one thread, or a test's driven loop): they are left to run after it returns. The port
  // is then free a moment later rather than at once; nothing is unsafe either way.
  asio::io_context& io = loop_->io();
  if (io.get_executor().running_in_this_thread()) return;
  const auto deadline = std::chrono::steady_clock::now() + kStopBudget;
  if (loop_->manual()) {
    // Nobody else runs a driven loop: run it here until the closes are through.
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (StoppedLocked()) return;
      }
      if (io.poll() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  stopped_.wait_until(lock, deadline, [this] { return StoppedLocked(); });
}

bool Receiver::Record(const std::string& body, int64_t arrived_ms) {
  bool valid = false;
  bool matches = false;
  std::string what;  // the matching alert, as a page would show it
  // Runs on a loop thread, where an exception would end the loop: the parse is kept
  // exception-free and the rest guarded anyway. nlohmann's parser and destructor do not
  // recurse per nesting level, so a deeply nested body cannot overflow the thread's stack.
  try {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    auto alerts = j.is_object() ? j.find("alerts") : j.end();
    valid = !j.is_discarded() && j.is_object() && alerts != j.end() && alerts->is_array();
    if (valid) {
      for (const json& a : *alerts) {
        auto labels = a.is_object() ? a.find("labels") : a.end();
        if (labels == a.end()) continue;
        // Per alert: one notification can carry firing and resolved alerts together.
        if (StringAt(*labels, "alertname") == alert_ && StringAt(a, "status") == status_) {
          matches = true;
          what = alert_ + BriefLabels(*labels) + BriefSummary(a);
          break;
        }
      }
    }
  } catch (const std::exception&) {
    valid = false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!valid) {
    rejected_ = std::min(rejected_ + 1, kMaxCount);
  } else {
    received_ = std::min(received_ + 1, kMaxCount);
    if (matches && !matched_at_ms_) {
      matched_at_ms_ = arrived_ms;
      matched_alert_ = what;
    }
  }
  return valid;
}

ProbeOutcome Receiver::Sample() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string counts = std::to_string(received_) + " received";
  if (rejected_ > 0) counts += ", " + std::to_string(rejected_) + " rejected";
  // Latched: the question is whether such a notification was sent, and one was. It was
  // observed when it arrived, not when this sample read it.
  if (matched_at_ms_) {
    return {true,
            status_ + " notification for " + alert_ + " received " +
                FormatDuration(Millis(*matched_at_ms_ - start_ms_)) + " after start (" +
                std::to_string(received_) +
                (received_ == 1 ? " notification): " : " notifications): ") + matched_alert_,
            *matched_at_ms_};
  }
  return {false, "no " + status_ + " notification for " + alert_ + " yet (" + counts + ")"};
}

void Connection::WaitForRequest() {
  if (closed_ || receiver_->stopping()) return Close();
  parser_.emplace();
  parser_->body_limit(kMaxBody);
  parser_->header_limit(kMaxHead);
  // A sender may have sent its next request behind the last one.
  if (buffer_.size() > 0) return ReadHead();
  receiver_->Moved(id_, Phase::kIdle);
  stream_.expires_after(kIdleTimeout);
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          beast::bind_front_handler(&Connection::OnFirstBytes, shared_from_this()));
}

void Connection::OnFirstBytes(beast::error_code ec, size_t n) {
  // Idle too long, closed by the sender, or closed here (the cap, the probe stopping).
  if (ec) return Close();
  buffer_.commit(n);
  ReadHead();
}

void Connection::ReadHead() {
  receiver_->Moved(id_, Phase::kPartial);
  // One deadline for the whole request, head and body (and a 100 Continue between): a
  // sender cannot stretch it by trickling a byte at a time.
  stream_.expires_after(kRequestTimeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Connection::OnHead, shared_from_this()));
}

void Connection::OnHead(beast::error_code ec, size_t) {
  if (ec) return Failed(ec);
  // The parser refuses a Content-Length over the limit while reading the head already
  // (body_limit); checked here too, so that the 413 before any body never rests on it.
  if (auto length = parser_->content_length(); length && *length > kMaxBody) {
    return Failed(http::error::body_limit);
  }
  const auto& req = parser_->get();
  if (beast::iequals(req[http::field::expect], "100-continue")) {
    // curl and others wait (a second, for curl) for this before sending a body.
    continue_ = http::response<http::empty_body>(http::status::continue_, req.version());
    http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code e, size_t) {
      if (e) return self->Close();
      self->ReadBody();
    });
    return;
  }
  ReadBody();
}

void Connection::ReadBody() {
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&Connection::OnBody, shared_from_this()));
}

void Connection::OnBody(beast::error_code ec, size_t) {
  // The notification's arrival: its last byte has just been read.
  const int64_t arrived_ms = receiver_->loop().NowMs();
  if (ec) return Failed(ec);
  receiver_->Moved(id_, Phase::kComplete);
  const auto& req = parser_->get();
  const bool keep_alive = req.keep_alive();
  // The path is whatever the Alertmanager config says; any path is accepted.
  if (req.method() != http::verb::post) {
    return Answer(http::status::not_found, "not found: notifications are POSTed\n", keep_alive);
  }
  // Alertmanager retries what is not a 2xx; a payload it cannot fix is answered 400.
  if (receiver_->Record(req.body(), arrived_ms)) {
    return Answer(http::status::ok, "ok\n", keep_alive);
  }
  Answer(http::status::bad_request, "not an Alertmanager webhook notification\n", keep_alive);
}

void Connection::Failed(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    return Answer(http::status::payload_too_large,
                  "a notification is at most " + std::to_string(kMaxBody) + " bytes\n", false);
  }
  if (ec == http::error::header_limit) {
    return Answer(
        http::status::request_header_fields_too_large,
        "the request line and headers are at most " + std::to_string(kMaxHead) + " bytes\n", false);
  }
  // The sender closed (between requests, or half-way), the request timed out, or the
  // socket failed: nobody to answer.
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec.category() != beast::http::make_error_code(http::error::bad_method).category()) {
    return Close();
  }
  Answer(http::status::bad_request, "not an HTTP request: " + ec.message() + "\n", false);
}

void Connection::Answer(http::status status, std::string text, bool keep_alive) {
  if (closed_) return;
  response_ = http::response<http::string_body>();
  response_.version(11);
  response_.result(status);
  response_.set(http::field::content_type, "text/plain");
  response_.keep_alive(keep_alive);
  response_.body() = std::move(text);
  response_.prepare_payload();
  stream_.expires_after(kWriteTimeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                      if (ec) return self->Close();
                      if (!keep_alive) return self->Linger();
                      self->WaitForRequest();
                    });
}

void Connection::Linger() {
  receiver_->Moved(id_, Phase::kEnding);
  // Half-closed: the sender reads the answer and then the end of the stream.
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  stream_.expires_after(kLingerTimeout);
  buffer_.clear();
  Drain();
}

void Connection::Drain() {
  // Read into the buffer and never committed: dropped.
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kLingerMax) return self->Close();
                            self->Drain();
                          });
}

class WebhookProbe final : public Probe {
 public:
  explicit WebhookProbe(std::shared_ptr<Receiver> receiver) : receiver_(std::move(receiver)) {}
  ~WebhookProbe() override { receiver_->Stop(); }

  // Reads what the receiver recorded: cheap, and never waits.
  ProbeOutcome Sample(const SampleVars&) override { return receiver_->Sample(); }
  void SampleAsync(const SampleVars& vars, EventLoop&, SampleDone done) override {
    done(Sample(vars));
  }

 private:
  const std::shared_ptr<Receiver> receiver_;
};

constexpr const char* kStatuses[] = {"firing", "resolved"};

constexpr FieldSpec kFields[] = {
    {.name = "listen",
     .type = FieldType::kAddress,
     .doc = "loopback address:port to receive on",
     .required = true},
    {.name = "alert",
     .type = FieldType::kString,
     .doc = "alertname label to wait for",
     .required = true},
    {.name = "status",
     .type = FieldType::kEnum,
     .doc = "notification status",
     .default_value = "firing",
     .choices = kStatuses},
};

// The receiver runs here, so it can only listen on this machine: a host named under
// `hosts:` passes the address check but cannot be bound.
std::optional<FieldError> Check(const Params& p, Mark mark) {
  auto hp = SplitHostPort(p.String("listen"));
  if (!hp || !IsLoopbackHost(hp->host)) {
    Mark m = p.MarkOf("listen");
    return FieldError{m.line ? m : mark,
                      "webhook listen must be a loopback address (127.0.0.1, [::1] or "
                      "localhost) with a port: the receiver runs on this machine"};
  }
  return std::nullopt;
}

// REQUIRES: ctx.expander is set; ctx.loop outlives the probe.
Result<std::unique_ptr<Probe>> Make(const Params& p, const RunContext& ctx) {
  if (auto e = Check(p, {})) return Status::Invalid(e->message);
  if (!ctx.loop) {
    return Status::Internal("the webhook receiver needs the run's event loop (RunContext::loop)");
  }
  auto listen = ctx.expander->Expand(p.String("listen"));
  if (!listen.ok()) return listen.status();
  auto hp = SplitHostPort(*listen);
  auto port = hp ? PortNumber(hp->port) : std::nullopt;
  auto at = hp && port && IsLoopbackHost(hp->host) ? EndpointOf(hp->host, *port) : std::nullopt;
  if (!at) {
    return Status::Invalid("webhook listen " + Quoted(*listen) + " is not a loopback host:port");
  }
  // Asio reports through error codes here; only an allocation can throw. The probe exists
  // before the receiver listens, so that whatever fails after, its destructor stops it.
  try {
    auto receiver = std::make_shared<Receiver>(ctx.loop, p.String("alert"), p.String("status"));
    auto probe = std::make_unique<WebhookProbe>(receiver);
    FD_RETURN_IF_ERROR(receiver->Listen(*at, Shown(hp->host, *port)));
    return std::unique_ptr<Probe>(std::move(probe));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("starting the webhook receiver: ") + e.what());
  }
}

}  // namespace

extern const ProbeKind kWebhookProbe = {
    .name = "webhook",
    .doc = "receive Alertmanager webhooks; pass once one for the alert arrives",
    .fields = kFields,
    .example = R"({webhook: {listen: "127.0.0.1:9099", alert: RedisDown, status: firing}})",
    .check = Check,
    .make = Make,
    .unsupported = nullptr,
};

}  // namespace firedrill
