// The plain-HTTP worker of http.load, made for the hot path: one Asio io_context on its own
// thread, `connections` keep-alive sockets, the request serialised once by Beast and
// written from the same bytes every time, and a Beast parser that keeps nothing of the
// response but its status and whether the connection stays open. On the steady path a
// request costs a send, two recvs (Asio's first try finds nothing yet) and its share of an
// epoll_wait: 3.5 system calls measured, where wrk makes 5.1 (it also adds and removes a
// write watch); and no allocation (Asio recycles its operations' memory on the thread).
#include <fmt/format.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

#include "injectors/support/http_load_worker.h"
#include "runner/base/curl.h"
#include "runner/base/net.h"
#include "runner/base/text.h"
#include "runner/base/values.h"

namespace firedrill::load {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Reads a response and keeps only what the load counts: the status. Everything else
// (fields, body) is looked at by the parser and dropped, so parsing allocates nothing.
class StatusParser final : public http::basic_parser<false> {
 public:
  int status = 0;

 private:
  void on_request_impl(http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view, int, error_code&) override {
    status = code;
  }
  void on_field_impl(http::field, boost::beast::string_view, boost::beast::string_view,
                     error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(boost::beast::string_view body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, error_code&) override {
    return body.size();
  }
  void on_finish_impl(error_code&) override {}
};

class BeastWorker final : public Worker {
 public:
  explicit BeastWorker(WorkerSpec spec)
      : spec_(std::move(spec)),
        io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
        pace_(io_),
        sweep_(io_) {
    if (spec_.rate > 0) schedule_ = Schedule(spec_.rate, spec_.start);
  }

  Status Setup();
  void Run() override;
  void Stop() override {
    stop_ = true;
    io_.stop();
  }
  const HttpLoadStats& stats() const override { return stats_; }
  Clock::time_point ended() const override { return ended_; }

 private:
  struct Conn {
    explicit Conn(asio::io_context& io) : sock(io) {}
    tcp::socket sock;
    std::optional<StatusParser> parser;
    std::array<char, 16 * 1024> buf;  // more than the parser's 8 KiB header limit
    size_t have = 0;
    Clock::time_point intended{}, sent{};
    bool busy = false;       // a request of the load is on it
    bool open = false;       // connected
    bool reused = false;     // this request is not the connection's first
    bool retried = false;    // already re-sent once on a fresh connection
    bool timed_out = false;  // closed by the sweep
  };

  void Pump();
  void Send(Conn& c, Clock::time_point intended, Clock::time_point now);
  void Connect(Conn& c);
  void Write(Conn& c);
  void AwaitResponse(Conn& c);
  void Read(Conn& c);
  void OnRead(Conn& c, const error_code& ec, size_t n);
  void Complete(Conn& c, int status);
  void Broken(Conn& c, const error_code& ec, bool before_response);
  void Fail(Conn& c, bool local, const std::string& why);
  void Close(Conn& c) {
    error_code ignored;
    c.sock.close(ignored);
    c.open = false;
  }
  void Release(Conn& c) {
    c.busy = false;
    idle_.push_back(&c);
    Pump();
  }
  void ArmSweep();

  WorkerSpec spec_;
  Schedule schedule_;
  asio::io_context io_;
  asio::steady_timer pace_;   // the next due request, when a connection is idle
  asio::steady_timer sweep_;  // timeouts and cancellation, every kSweep
  bool pace_armed_ = false;
  std::string request_;  // every request's bytes
  bool head_ = false;    // a response to HEAD has no body, whatever it says
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<Conn>> conns_;
  // Oldest-released first, so that every connection takes its turn, as with wrk2.
  std::deque<Conn*> idle_;
  std::atomic<bool> stop_{false};
  HttpLoadStats stats_;
  Clock::time_point ended_{};
};

Status BeastWorker::Setup() {
  const HttpLoadSpec& spec = *spec_.load;
  auto parsed = ParseDrillUrl(spec.url);
  if (!parsed.ok()) return Status::Invalid("URL " + spec.url + " " + parsed.status().message());
  CURLU* url = parsed->get();
  std::string host = UrlPart(url, CURLUPART_HOST);
  const std::string port_text = UrlPart(url, CURLUPART_PORT);
  std::string target = UrlPart(url, CURLUPART_PATH);
  if (target.empty()) target = "/";
  if (std::string query = UrlPart(url, CURLUPART_QUERY); !query.empty()) target += "?" + query;
  // The Host header as libcurl writes it: the port only when the URL has one.
  const std::string host_header = port_text.empty() ? host : host + ":" + port_text;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const int port = port_text.empty() ? 80 : PortNumber(port_text).value_or(0);
  if (port == 0) return Status::Invalid("URL " + spec.url + " has no usable port");

  // Resolved once: the load connects to the same address every time. A name (localhost,
  // a named host) resolves here; the policy is asked again at every connect.
  std::vector<sockaddr_storage> addrs = NumericAddresses(host);
  error_code ec;
  if (addrs.empty()) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return Status::Failed("cannot resolve " + host + ": " + ec.message());
    for (const auto& r : results) {
      sockaddr_storage ss{};
      std::memcpy(&ss, r.endpoint().data(), r.endpoint().size());
      addrs.push_back(ss);
    }
  }
  if (addrs.empty()) return Status::Failed("no address for " + host);
  // The first address the policy allows; if none, the first, which every connect then
  // refuses with the policy's words (as libcurl's socket hook does).
  const NetworkPolicy& policy = spec.policy ? *spec.policy : NetworkPolicy::LoopbackOnly();
  const sockaddr_storage* chosen = &addrs.front();
  for (const auto& a : addrs) {
    if (policy.CheckConnect(reinterpret_cast<const sockaddr*>(&a)).ok()) {
      chosen = &a;
      break;
    }
  }
  if (chosen->ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(chosen);
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
    endpoint_ = tcp::endpoint(asio::ip::address_v6(bytes, in6->sin6_scope_id),
                              static_cast<unsigned short>(port));
  } else {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(chosen);
    endpoint_ = tcp::endpoint(asio::ip::address_v4(ntohl(in4->sin_addr.s_addr)),
                              static_cast<unsigned short>(port));
  }

  http::request<http::string_body> req(http::string_to_verb(spec.method), target, 11);
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, "firedrill");
  req.set(http::field::accept, "*/*");
  if (spec.body) {
    req.body() = *spec.body;
    req.prepare_payload();
  }
  std::ostringstream out;
  out << req;
  request_ = out.str();
  head_ = spec.method == "HEAD";

  for (int64_t i = 0; i < spec_.connections; ++i) conns_.push_back(std::make_unique<Conn>(io_));
  for (auto& c : conns_) idle_.push_back(c.get());
  return Status::Ok();
}

// Sends what is due on every idle connection; then, paced, waits for the next due time.
void BeastWorker::Pump() {
  if (stop_) return;
  const Clock::time_point now = Clock::now();
  while (!idle_.empty()) {
    Clock::time_point intended = now;
    if (schedule_.paced()) {
      if (schedule_.next_due() > now) break;
      intended = schedule_.Take();
    }
    Conn* c = idle_.front();
    idle_.pop_front();
    Send(*c, intended, now);
  }
  if (schedule_.paced() && !idle_.empty() && !pace_armed_) {
    pace_armed_ = true;
    pace_.expires_at(schedule_.next_due());
    pace_.async_wait([this](const error_code& ec) {
      pace_armed_ = false;
      if (!ec) Pump();
    });
  }
}

void BeastWorker::Send(Conn& c, Clock::time_point intended, Clock::time_point now) {
  c.busy = true;
  c.intended = intended;
  c.sent = now;
  c.retried = false;
  c.timed_out = false;
  if (now - intended > kLateAfter) ++stats_.late;
  if (c.open) {
    c.reused = true;
    Write(c);
  } else {
    Connect(c);
  }
}

void BeastWorker::Connect(Conn& c) {
  c.reused = false;
  const NetworkPolicy& policy =
      spec_.load->policy ? *spec_.load->policy : NetworkPolicy::LoopbackOnly();
  // Checked on the very address this socket is about to connect to.
  if (Status allowed = policy.CheckConnect(endpoint_.data()); !allowed.ok()) {
    return Fail(c, false, allowed.message());
  }
  error_code ec;
  c.sock.open(endpoint_.protocol(), ec);
  if (ec) return Fail(c, IsLocalShortage(ec.value()), ErrorWords(ec.value(), ec.message()));
  c.sock.non_blocking(true, ec);
  c.sock.async_connect(endpoint_, [this, &c](const error_code& ec) {
    if (ec) return Broken(c, ec, true);
    ++stats_.connections;
    c.open = true;
    error_code ignored;
    c.sock.set_option(tcp::no_delay(true), ignored);
    Write(c);
  });
}

void BeastWorker::Write(Conn& c) {
  // The socket is non-blocking: a request this small almost always goes out whole at
  // once, and the response is awaited without a trip through the loop. Only a full send
  // buffer (or a short write) takes the asynchronous path.
  error_code ec;
  const size_t n = c.sock.write_some(asio::buffer(request_), ec);
  if (!ec && n == request_.size()) return AwaitResponse(c);
  if (ec && ec != asio::error::would_block) return Broken(c, ec, true);
  const size_t done = ec ? 0 : n;
  asio::async_write(c.sock, asio::buffer(request_) + done,
                    [this, &c](const error_code& ec, size_t) {
                      if (ec) return Broken(c, ec, true);
                      AwaitResponse(c);
                    });
}

void BeastWorker::AwaitResponse(Conn& c) {
  c.parser.emplace();
  c.parser->eager(true);
  c.parser->skip(head_);
  c.parser->body_limit(std::numeric_limits<std::uint64_t>::max());
  c.have = 0;
  Read(c);
}

// An asynchronous read, not a readiness wait and a read: Asio's reactor re-arms epoll
// (an epoll_ctl) for every wait, whereas a read it tries at once (a recv that, just after
// the request, finds nothing yet) and then queues as it is, to be performed when epoll
// reports bytes. Boost 1.74 cannot be told to skip that first try.
void BeastWorker::Read(Conn& c) {
  c.sock.async_read_some(asio::buffer(c.buf.data() + c.have, c.buf.size() - c.have),
                         [this, &c](const error_code& ec, size_t n) { OnRead(c, ec, n); });
}

void BeastWorker::OnRead(Conn& c, const error_code& ec, size_t n) {
  if (ec == asio::error::eof) {
    // A body that runs to the end of the connection ends here.
    error_code pec;
    if (c.parser->got_some()) c.parser->put_eof(pec);
    const bool done = c.parser->got_some() && !pec && c.parser->is_done();
    Close(c);
    if (done) return Complete(c, c.parser->status);
    return Broken(c, ec, !c.parser->got_some() && c.have == 0);
  }
  if (ec) return Broken(c, ec, !c.parser->got_some() && c.have == 0);
  c.have += n;
  size_t used = 0;
  while (used < c.have && !c.parser->is_done()) {
    error_code pec;
    const size_t k = c.parser->put(asio::buffer(c.buf.data() + used, c.have - used), pec);
    used += k;
    if (pec == http::error::need_more) break;
    if (pec) {
      Close(c);
      return Fail(c, false, "bad response: " + pec.message());
    }
    if (k == 0) break;
  }
  if (c.parser->is_done()) {
    // One request in flight per connection: nothing follows the response.
    if (!c.parser->keep_alive()) Close(c);
    return Complete(c, c.parser->status);
  }
  if (used > 0) {
    std::memmove(c.buf.data(), c.buf.data() + used, c.have - used);
    c.have -= used;
  }
  if (c.have == c.buf.size()) {
    Close(c);
    return Fail(c, false, "bad response: a header line longer than the read buffer");
  }
  Read(c);
}

void BeastWorker::Complete(Conn& c, int status) {
  const Clock::time_point now = Clock::now();
  ++stats_.requests;
  if (status >= 500) ++stats_.server_errors;
  auto micros = [now](Clock::time_point from) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - from).count();
    return static_cast<uint64_t>(std::max<int64_t>(us, 0));
  };
  stats_.latency.Record(micros(c.sent));
  if (schedule_.paced()) stats_.intended.Record(micros(c.intended));
  Release(c);
}

void BeastWorker::Broken(Conn& c, const error_code& ec, bool before_response) {
  if (stop_) return;
  Close(c);
  if (c.timed_out) {
    return Fail(c, false, fmt::format("timed out after {}", FormatDuration(spec_.load->timeout)));
  }
  // A kept-alive connection the server closed while it was idle (its keep-alive timeout,
  // or its limit of requests per connection) fails the next request before any answer:
  // sent again once on a fresh connection, as libcurl and browsers do, not an error of
  // the server's.
  if (c.reused && before_response && !c.retried &&
      (ec == asio::error::eof || ec == asio::error::connection_reset ||
       ec == asio::error::broken_pipe)) {
    c.retried = true;
    return Connect(c);
  }
  const int err = ec.category() == boost::system::system_category() ? ec.value() : 0;
  Fail(c, IsLocalShortage(err), ErrorWords(err, ec.message()));
}

void BeastWorker::Fail(Conn& c, bool local, const std::string& why) {
  Close(c);
  if (local) {
    ++stats_.local_errors;
    if (stats_.first_local_error.empty()) stats_.first_local_error = why;
  } else {
    ++stats_.requests;
    ++stats_.transport_errors;
    if (stats_.first_error.empty()) stats_.first_error = why;
  }
  // Through the loop, not at once: a connection that fails without waiting (refused by
  // the policy, no descriptor left) must not send its next request from inside this one.
  asio::post(io_, [this, &c] { Release(c); });
}

void BeastWorker::ArmSweep() {
  sweep_.expires_after(kSweep);
  sweep_.async_wait([this](const error_code& ec) {
    if (ec) return;
    if (spec_.cancelled && spec_.cancelled()) return Stop();
    const Clock::time_point now = Clock::now();
    for (auto& c : conns_) {
      if (c->busy && !c->timed_out && now - c->sent > spec_.load->timeout) {
        c->timed_out = true;
        error_code ignored;
        c->sock.close(ignored);  // its pending wait ends with operation_aborted
        c->open = false;
      }
    }
    ArmSweep();
  });
}

void BeastWorker::Run() {
  pthread_setname_np(pthread_self(), "fd-http-load");  // for top -H, and the benchmark
  ArmSweep();
  asio::post(io_, [this] { Pump(); });
  // Handlers throw nothing (every error is an error_code), so neither does run().
  io_.run();
  ended_ = Clock::now();
  stats_.unsent = schedule_.UnsentAt(ended_);
  // Requests still in flight are dropped: the sockets close with the worker.
  for (auto& c : conns_) Close(*c);
}

}  // namespace

Result<std::unique_ptr<Worker>> MakeBeastWorker(WorkerSpec spec) {
  auto w = std::make_unique<BeastWorker>(std::move(spec));
  FD_RETURN_IF_ERROR(w->Setup());
  return std::unique_ptr<Worker>(std::move(w));
}

}  // namespace firedrill::load
