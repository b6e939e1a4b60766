#include "protocol/connection.h"

#include <fmt/format.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstdio>
#include <exception>

namespace liaison::protocol {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// What one read takes in. Held by every connection for its life, so a page: with 64 KB each,
// 200 agents' connections were 12.8 MB of the daemon (make bench-storm). A long line just takes
// more reads; it is assembled in inbox_ either way.
constexpr std::size_t kReadChunkBytes = 4 * std::size_t{1024};
// inbox_ keeps the capacity of the longest line it held; beyond this it is given back once the
// line is handled, so one megabyte message does not stay with its connection for good.
constexpr std::size_t kInboxKeptBytes = 64 * std::size_t{1024};

}  // namespace

struct Connection::PendingCall {
  explicit PendingCall(const asio::any_io_executor& executor) : wakeup(executor) {}
  asio::steady_timer wakeup;
  std::optional<Result<Json>> outcome;
};

std::shared_ptr<Connection> Connection::create(Socket socket, Limits limits) {
  return std::shared_ptr<Connection>(new Connection(std::move(socket), limits));  // NOLINT
}

Connection::Connection(Socket socket, Limits limits)
    : socket_(std::move(socket)),
      limits_(limits),
      partial_line_timer_(socket_.get_executor()),
      write_timer_(socket_.get_executor()) {}

Connection::~Connection() {
  // Destroyed with its io_context (shutdown): the owner of the close handler may be gone already.
  close_handler_ = nullptr;
  // Cancelling the timers can only fail in asio's reactor, and the messages need memory: a
  // destructor reports that (protocol has no logger: stderr, which the journal keeps), never
  // throws.
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "liaison: closing a connection: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "liaison: closing a connection failed\n");
  }
}

void Connection::start(RequestHandler handler) {
  handler_ = std::move(handler);
  // Whatever ends the read loop, an exception included, ends the connection through close(), so
  // its owner's bookkeeping (the close handler) always runs.
  asio::co_spawn(socket_.get_executor(), read_loop(),
                 [self = shared_from_this()](const std::exception_ptr& failure) {
                   if (failure && self->open_) {
                     self->close();
                   }
                 });
}

asio::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  std::string chunk(kReadChunkBytes, '\0');
  while (open_) {
    auto [error, bytes] = co_await socket_.async_read_some(asio::buffer(chunk), kNoThrow);
    if (error) {
      break;  // the peer closed, or we did
    }
    partial_line_timer_.cancel();
    inbox_.append(chunk.data(), bytes);
    std::size_t start = 0;
    // A connection that is closing (fail_and_close, close_after_reply) handles no further line,
    // even one that came in the same read.
    for (std::size_t newline;
         open_ && !is_closing() && (newline = inbox_.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      handle_line_or_close(std::string_view(inbox_).substr(start, newline - start));
    }
    inbox_.erase(0, start);
    if (inbox_.empty() && inbox_.capacity() > kInboxKeptBytes) {
      inbox_.shrink_to_fit();
    }
    if (inbox_.size() > limits_.max_line_bytes) {
      fail_and_close(Error::invalid_request(
          fmt::format("message over {} bytes without a newline", limits_.max_line_bytes)));
      break;
    }
    if (!inbox_.empty()) {
      arm_partial_line_timer();
    }
  }
  // At the end of input a closing connection still owes its answers; any other closes now.
  if (close_after_write_) {
    co_return;  // the writer closes once the error is out
  }
  if (close_after_replies_) {
    close_if_replies_done();
  } else {
    close();
  }
}

void Connection::arm_partial_line_timer() {
  partial_line_timer_.expires_after(limits_.partial_line_timeout);
  partial_line_timer_.async_wait([weak = weak_from_this()](const std::error_code& error) {
    auto self = weak.lock();
    if (error || !self || self->inbox_.empty()) {
      return;
    }
    self->fail_and_close(Error::invalid_request("incomplete message: no newline in time"));
  });
}

void Connection::handle_line_or_close(std::string_view line) {
  try {
    handle_line(line);
  } catch (const std::exception& e) {
    fail_and_close(Error::internal(bounded_for_error(e.what(), 200)));
  }
}

void Connection::handle_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (line.empty()) {
    return;  // blank lines between messages are harmless; socat sends them
  }
  auto message = parse_message(line);
  if (!message) {
    if (untrusted_) {
      fail_and_close(message.error().error);
      return;
    }
    queue(serialize(Response{message.error().id, std::unexpected(message.error().error)}));
    return;
  }
  if (auto* response = std::get_if<Response>(&*message)) {
    if (untrusted_) {
      fail_and_close(Error::invalid_request("a response to nothing we asked"));
      return;
    }
    handle_response(std::move(*response));
    return;
  }
  auto& request = std::get<Request>(*message);
  if (requests_in_flight_ >= limits_.max_requests_in_flight) {
    if (request.id.has_value()) {  // not a notification
      queue(serialize(
          Response{*request.id,
                   std::unexpected(Error::application(
                       codes::kRateLimited, "too many requests in flight on this connection"))}));
    }
    return;
  }
  ++requests_in_flight_;
  asio::co_spawn(socket_.get_executor(), answer(std::move(request)), asio::detached);
}

asio::awaitable<void> Connection::answer(Request request) {
  auto self = shared_from_this();
  // Plain statements around co_await: g++ 12 mis-destroys temporaries of a co_await inside ?:.
  Result<Json> outcome = std::unexpected(Error::method_not_found(request.method));
  try {
    if (handler_) {
      outcome = co_await handler_(request);
    }
  } catch (const Json::exception& e) {
    // A param of the wrong type that a handler read without checking: the peer's mistake.
    outcome =
        std::unexpected(Error::invalid_params(fmt::format("wrong parameter type: {}", e.what())));
  } catch (const std::exception& e) {
    outcome = std::unexpected(Error::internal(e.what()));
  } catch (...) {
    outcome = std::unexpected(Error::internal("the handler failed"));
  }
  --requests_in_flight_;
  if (request.id.has_value() && open_) {  // answered unless a notification
    queue(serialize(Response{*request.id, std::move(outcome)}));
  }
  close_if_replies_done();  // a notification refused with close_after_reply ends here
}

void Connection::handle_response(Response response) {
  if (response.id.is_null() && !response.outcome) {
    // An error the peer could not tie to a request (it refused the connection itself, or could
    // not read what we sent): every call waiting here has failed with it.
    for (auto& [id, pending] : std::exchange(pending_calls_, {})) {
      pending->outcome = std::unexpected(response.outcome.error());
      pending->wakeup.cancel();
    }
    // Kept for calls made after it arrived: they fail with the peer's reason when we close.
    peer_refusal_ = response.outcome.error();
    return;
  }
  if (!response.id.is_number_integer()) {
    return;  // not an answer to anything we asked
  }
  auto found = pending_calls_.find(response.id.get<int64_t>());
  if (found == pending_calls_.end()) {
    return;  // late: the call already timed out
  }
  found->second->outcome = std::move(response.outcome);
  found->second->wakeup.cancel();
  pending_calls_.erase(found);
}

asio::awaitable<Result<Json>> Connection::call(std::string method, Json params,
                                               std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  if (!open_ || write_failed_) {
    co_return std::unexpected(
        peer_refusal_.value_or(Error::application(codes::kUnavailable, "connection closed")));
  }
  const int64_t id = next_call_id_++;
  auto pending = std::make_shared<PendingCall>(socket_.get_executor());
  pending_calls_[id] = pending;
  queue(serialize(Request{Id(id), std::move(method), std::move(params)}));
  pending->wakeup.expires_after(timeout);
  co_await pending->wakeup.async_wait(kNoThrow);
  if (auto& outcome = pending->outcome; outcome.has_value()) {
    co_return std::move(*outcome);
  }
  pending_calls_.erase(id);
  co_return std::unexpected(
      Error::application(codes::kTimeout, fmt::format("no answer within {} ms", timeout.count())));
}

void Connection::notify(std::string method, Json params) {
  queue(serialize(Request{std::nullopt, std::move(method), std::move(params)}));
}

void Connection::fail_and_close(const Error& error) {
  if (!open_) {
    return;
  }
  queue(serialize(Response{nullptr, std::unexpected(error)}));
  close_after_write_ = true;
  // Stop reading what the peer sends next; the writer closes once the error is out.
  std::error_code ignored;
  socket_.shutdown(Socket::shutdown_receive, ignored);
  if (!writing_) {
    close();
  }
}

void Connection::close_after_reply() {
  close_after_replies_ = true;
  std::error_code ignored;
  socket_.shutdown(Socket::shutdown_receive, ignored);
  close_if_replies_done();
}

// Closing after replies: nothing in flight (a request still being answered will queue its reply)
// and nothing queued or being written.
void Connection::close_if_replies_done() {
  if (open_ && close_after_replies_ && requests_in_flight_ == 0 && !writing_ && outbox_.empty()) {
    close();
  }
}

void Connection::queue(std::string line) {
  if (!open_ || write_failed_) {
    return;
  }
  outbox_bytes_ += line.size();
  outbox_.push_back(std::move(line));
  if (outbox_bytes_ > limits_.max_queued_bytes) {
    close();  // the peer does not read: no point telling it so
    return;
  }
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(socket_.get_executor(), write_loop(), asio::detached);
  }
}

asio::awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  while (open_ && !outbox_.empty()) {
    arm_write_timer();
    auto [error, bytes] =
        co_await asio::async_write(socket_, asio::buffer(outbox_.front()), kNoThrow);
    writes_finished_ = writes_started_;
    write_timer_.cancel();
    if (error && open_) {
      // The peer stopped reading (it may have refused us and be closing). Keep reading what it
      // already sent, its reason included; the read loop closes at its end of stream.
      std::error_code ignored;
      socket_.shutdown(Socket::shutdown_send, ignored);
      write_failed_ = true;
      outbox_.clear();
      outbox_bytes_ = 0;
      break;
    }
    if (!open_) {
      break;  // a close() while we wrote leaves the queue to us
    }
    outbox_bytes_ -= outbox_.front().size();
    outbox_.pop_front();
  }
  writing_ = false;
  if (close_after_write_ || !open_) {
    close();
  }
  close_if_replies_done();
  if (!open_) {
    outbox_.clear();
  }
}

void Connection::arm_write_timer() {
  const uint64_t write = ++writes_started_;
  write_timer_.expires_after(limits_.write_timeout);
  write_timer_.async_wait([weak = weak_from_this(), write](const std::error_code& error) {
    auto self = weak.lock();
    // The write may have finished as the timer fired: only a write still pending is overdue.
    if (self && !error && self->writes_finished_ < write) {
      self->close();  // the peer took too long: the pending write fails with operation_aborted
    }
  });
}

void Connection::close() {
  if (!open_) {
    return;
  }
  open_ = false;
  std::error_code ignored;
  partial_line_timer_.cancel();
  write_timer_.cancel();
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  // The writer may be mid-write on outbox_.front(): it drops the queue itself when it wakes.
  if (!writing_) {
    outbox_.clear();
  }
  for (auto& [id, pending] : pending_calls_) {
    pending->outcome = std::unexpected(
        peer_refusal_.value_or(Error::application(codes::kUnavailable, "the connection closed")));
    pending->wakeup.cancel();
  }
  pending_calls_.clear();
  if (auto handler = std::exchange(close_handler_, nullptr)) {
    handler();
  }
}

}  // namespace liaison::protocol
