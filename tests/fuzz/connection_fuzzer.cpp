// A peer on the other end of a real socket: the input, cut into writes of sizes the fuzzer picks
// (split and joined lines, partial writes, a half line at the end), then the peer hangs up. The
// connection must answer with well-formed JSON-RPC lines only, close, and keep nothing.
#include <fuzzer/FuzzedDataProvider.h>

#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "protocol/connection.h"
#include "protocol/json_rpc.h"

namespace {

using liaison::protocol::Connection;
using liaison::protocol::Json;
using liaison::protocol::Request;
using liaison::protocol::Result;
using namespace std::chrono_literals;

// Everything the connection wrote must be complete lines of JSON-RPC 2.0 objects.
void check_replies(const std::string& written) {
  size_t start = 0;
  for (size_t newline; (newline = written.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    auto line = liaison::protocol::parse_json(written.substr(start, newline - start));
    if (!line || !line->is_object() || line->value("jsonrpc", "") != "2.0") {
      std::abort();
    }
  }
  if (start != written.size()) {
    std::abort();  // a torn line
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const bool untrusted = input.ConsumeBool();
  asio::io_context io;
  asio::local::stream_protocol::socket ours(io);
  asio::local::stream_protocol::socket peer(io);
  asio::local::connect_pair(ours, peer);
  // Small limits, so long lines, full queues and busy peers are reached with small inputs.
  auto connection = Connection::create(std::move(ours), {.max_line_bytes = 512,
                                                         .partial_line_timeout = 50ms,
                                                         .max_queued_bytes = 4096,
                                                         .max_requests_in_flight = 4,
                                                         .write_timeout = 50ms});
  bool closed = false;
  connection->set_close_handler([&closed] { closed = true; });
  connection->set_untrusted(untrusted);
  connection->start([](Request request) -> asio::awaitable<Result<Json>> {
    co_return Json{{"method", request.method}, {"params", request.params}};
  });
  while (input.remaining_bytes() > 0 && !closed) {
    std::string chunk = input.ConsumeRandomLengthString(input.remaining_bytes());
    if (chunk.empty()) {
      chunk = input.ConsumeRemainingBytesAsString();
    }
    std::error_code error;
    asio::write(peer, asio::buffer(chunk), error);
    if (error) {
      break;  // the connection closed its end
    }
    io.poll();
  }
  std::error_code ignored;
  peer.shutdown(asio::socket_base::shutdown_send, ignored);
  std::string written;
  peer.non_blocking(true);
  for (int round = 0; round < 200 && !closed; ++round) {
    io.run_for(1ms);
    char buffer[4096];
    while (size_t got = peer.read_some(asio::buffer(buffer), ignored)) {
      written.append(buffer, got);
    }
  }
  connection->close();
  io.poll();
  char buffer[4096];
  while (size_t got = peer.read_some(asio::buffer(buffer), ignored)) {
    written.append(buffer, got);
  }
  if (!closed) {
    std::abort();  // a hung-up peer must end the connection
  }
  check_replies(written);
  return 0;
}
