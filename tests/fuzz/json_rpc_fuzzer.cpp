// Every line a peer can send on agent.sock or control.sock, split at newlines as the connection
// splits them: parse_message must answer each with a message or a ParseFailure, and whatever it
// accepts must serialize to a line that parses back to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "protocol/json_rpc.h"

namespace {

using liaison::protocol::Message;
using liaison::protocol::Request;
using liaison::protocol::Response;

void check_round_trip(const Message& message) {
  std::string line =
      std::visit([](const auto& m) { return liaison::protocol::serialize(m); }, message);
  if (line.empty() || line.back() != '\n') {
    std::abort();
  }
  line.pop_back();
  auto again = liaison::protocol::parse_message(line);
  if (!again || again->index() != message.index()) {
    std::abort();  // we wrote something we cannot read back
  }
  if (const auto* request = std::get_if<Request>(&message)) {
    const auto& reread = std::get<Request>(*again);
    if (reread.method != request->method || reread.params != request->params ||
        reread.id != request->id) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)liaison::protocol::parse_json(input);
  while (!input.empty()) {
    size_t newline = input.find('\n');
    std::string_view line = input.substr(0, newline);
    input = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
    if (auto message = liaison::protocol::parse_message(line)) {
      check_round_trip(*message);
    }
  }
  return 0;
}
