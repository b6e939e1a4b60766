// One JSON-RPC 2.0 peer on a connected unix stream socket, driven by an Asio io_context with C++20
// coroutines. Requests flow both ways: the same connection answers the peer's requests through a
// handler and sends its own with call(). It defends itself against the peer: an over-long line, a
// line left half-written, or a reader too slow to take our replies ends the connection with a
// JSON-RPC error first, and nothing the peer sends can make it block the event loop.
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

  // Closes once the reply to the request being handled now is written: for refusing a peer with
  // an answer it can read. Stops reading at once.
  void close_after_reply();

  // Closes now. Pending calls fail with "unavailable". Idempotent.
  void close();

  // Called once, after the connection closed for any reason.
  void set_close_handler(std::function<void()> handler) { close_handler_ = std::move(handler); }

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
  void queue(std::string line);
  void arm_partial_line_timer();

  Socket socket_;
  Limits limits_;
  RequestHandler handler_;
  std::function<void()> close_handler_;
  std::string inbox_;  // bytes read but not yet a whole line
  std::deque<std::string> outbox_;
  std::size_t outbox_bytes_ = 0;
  bool writing_ = false;
  bool close_after_write_ = false;
  bool write_failed_ = false;
  std::optional<Error> peer_refusal_;  // an error the peer sent with no id, e.g. "not permitted"
  bool open_ = true;
  std::size_t requests_in_flight_ = 0;
  int64_t next_call_id_ = 1;
  std::map<int64_t, std::shared_ptr<PendingCall>> pending_calls_;
  asio::steady_timer partial_line_timer_;
};

}  // namespace liaison::protocol
