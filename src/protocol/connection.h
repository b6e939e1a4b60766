// One JSON-RPC 2.0 peer on a connected unix stream socket, driven by an Asio io_context with C++20
// coroutines. Requests flow both ways: the same connection answers the peer's requests through a
// handler and sends its own with call(). It defends itself against the peer: an over-long line, a
// line left half-written, or a reader too slow to take our replies ends the connection with a
// JSON-RPC error first; no error echoes more than a bounded part of what the peer sent; every
// write has a deadline; and nothing the peer sends can make it block the event loop or end it
// without its close handler running.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "protocol/json_rpc.h"

namespace liaison::protocol {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = asio::local::stream_protocol::socket;
  // Answers one request or notification from the peer. The result of a notification is dropped.
  using RequestHandler = std::function<asio::awaitable<Result<Json>>(Request)>;

  struct Limits {
    std::size_t max_line_bytes = kMaxLineBytes;
    // How long a line may stay unfinished: a peer that sends half a line and goes quiet is dropped.
    std::chrono::milliseconds partial_line_timeout{10'000};
    // Replies queued for a peer that does not read them; past this the peer is dropped.
    std::size_t max_queued_bytes = 8 * kMaxLineBytes;
    // Requests of this peer being answered at once; more are refused until some finish.
    std::size_t max_requests_in_flight = 64;
    // How long one line may take to be accepted by the peer's socket: a peer that stops reading
    // is dropped after this, even while we only wait to tell it why it is being dropped.
    std::chrono::milliseconds write_timeout{10'000};
  };

  static std::shared_ptr<Connection> create(Socket socket, Limits limits);
  static std::shared_ptr<Connection> create(Socket socket) { return create(std::move(socket), {}); }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Starts reading. Without a handler every request is answered "unknown method".
  void start(RequestHandler handler);

  // Sends a request and waits for its response, or for `timeout` (error code "timeout"), or for
  // the connection to close (error code "unavailable").
  asio::awaitable<Result<Json>> call(std::string method, Json params,
                                     std::chrono::milliseconds timeout);

  // Sends a notification: a request with no id, which gets no response.
  void notify(std::string method, Json params);

  // Sends `error` as a response to nothing in particular (id null), then closes once it is out.
  void fail_and_close(const Error& error);

  // Closes once every request being handled now is answered and the answers are written (at
  // once when there is nothing to answer: a notification gets no reply): for refusing a peer
  // with an answer it can read. Stops reading at once.
  void close_after_reply();

  // Closes now. Pending calls fail with "unavailable". Idempotent.
  void close();

  // Called once, after the connection closed for any reason, an exception in a handler included.
  // A connection destroyed without closing (its io_context went first) destroys the handler
  // instead of calling it: bookkeeping that must end either way belongs in an RAII object the
  // handler owns.
  void set_close_handler(std::function<void()> handler) { close_handler_ = std::move(handler); }

  // While a peer is untrusted (agent.sock before agent.hello) it may only send well-formed
  // requests: a malformed line, or a response, gets one error and the connection closes, so no
  // stranger can make us answer it line after line.
  void set_untrusted(bool untrusted) { untrusted_ = untrusted; }

  bool is_open() const { return open_; }
  int native_handle() { return socket_.native_handle(); }

 private:
  struct PendingCall;

  Connection(Socket socket, Limits limits);

  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  asio::awaitable<void> answer(Request request);
  void handle_line(std::string_view line);
  void handle_response(Response response);
  void handle_line_or_close(std::string_view line);
  void queue(std::string line);
  void close_if_replies_done();
  bool is_closing() const { return close_after_write_ || close_after_replies_; }
  void arm_partial_line_timer();
  void arm_write_timer();

  Socket socket_;
  Limits limits_;
  RequestHandler handler_;
  std::function<void()> close_handler_;
  std::string inbox_;  // bytes read but not yet a whole line
  std::deque<std::string> outbox_;
  std::size_t outbox_bytes_ = 0;
  bool writing_ = false;
  bool close_after_write_ = false;    // fail_and_close: close once the queue is written
  bool close_after_replies_ = false;  // close_after_reply: once requests in flight are answered
  bool write_failed_ = false;
  std::optional<Error> peer_refusal_;  // an error the peer sent with no id, e.g. "not permitted"
  bool open_ = true;
  bool untrusted_ = false;
  std::size_t requests_in_flight_ = 0;
  int64_t next_call_id_ = 1;
  std::map<int64_t, std::shared_ptr<PendingCall>> pending_calls_;
  asio::steady_timer partial_line_timer_;
  asio::steady_timer write_timer_;
  uint64_t writes_started_ = 0;  // which write the write timer guards
  uint64_t writes_finished_ = 0;
};

}  // namespace liaison::protocol
