// JSON-RPC 2.0 messages as liaison speaks them: one compact JSON object per line, at most
// kMaxLineBytes a line, on both the control and the agent socket. Pure parsing and printing; no
// I/O here (see connection.h for that).
#pragma once

#include <cstddef>
#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace liaison::protocol {

using Json = nlohmann::json;

inline constexpr std::size_t kMaxLineBytes = 1024 * std::size_t{1024};

// How deep a line may nest (DESIGN.md): the top-level object is level 1. Deeper lines are refused
// while they are parsed, before any tree exists: nlohmann parses without recursing, but copying,
// comparing or dumping a tree recurses once per level, and a megabyte of '[' is 8 MiB of stack.
inline constexpr int kMaxNestingDepth = 64;

// A request id is a number or a string of at most this many bytes: ids are echoed back, and an
// unbounded one would be the peer's megabyte in our reply.
inline constexpr std::size_t kMaxIdBytes = 64;

// JSON-RPC error codes, plus the application range that carries a stable `error.data.code`.
enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kApplicationError = -32000,
};

// The stable strings of `error.data.code` (DESIGN.md); scripts match on these, never on messages.
namespace codes {
inline constexpr std::string_view kNoSession = "no_session";
inline constexpr std::string_view kRateLimited = "rate_limited";
inline constexpr std::string_view kExists = "exists";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kNotPermitted = "not_permitted";
inline constexpr std::string_view kUnavailable = "unavailable";
inline constexpr std::string_view kTimeout = "timeout";
inline constexpr std::string_view kFailed = "failed";
inline constexpr std::string_view kNoUser = "no_user";  // uid 0, or a uid with no account
inline constexpr std::string_view kNotHardwareBacked = "not_hardware_backed";  // key.attest
}  // namespace codes

// An error's message is at most this long on the wire (Error::to_json cuts longer ones).
inline constexpr std::size_t kMaxErrorBytes = 1024;

// `text` cut to at most `max_bytes` on a UTF-8 character boundary, with its full size noted: how
// peer-supplied text goes into an error message.
std::string bounded_for_error(std::string_view text, std::size_t max_bytes);

struct Error {
  int code = kInternalError;
  std::string message;
  std::string data_code;  // one of `codes`, or empty for the plain JSON-RPC errors

  static Error parse_error(std::string message) { return {kParseError, std::move(message), {}}; }
  static Error invalid_request(std::string message) {
    return {kInvalidRequest, std::move(message), {}};
  }
  static Error method_not_found(std::string_view method);
  static Error invalid_params(std::string message) {
    return {kInvalidParams, std::move(message), {}};
  }
  static Error internal(std::string message) { return {kInternalError, std::move(message), {}}; }
  static Error application(std::string_view data_code, std::string message) {
    return {kApplicationError, std::move(message), std::string(data_code)};
  }

  Json to_json() const;
  static Error from_json(const Json& error);
  friend bool operator==(const Error&, const Error&) = default;
};

template <typename T>
using Result = std::expected<T, Error>;

// `text` as JSON nested at most `max_depth` levels deep (a scalar is level 0, `[]` level 1). Any
// text read from a peer or from a file someone else could write is parsed through this, never
// through Json::parse. One pass; the tree never holds more than `max_depth` levels.
Result<Json> parse_json(std::string_view text, int max_depth = kMaxNestingDepth);

// A request id: a number or a string. Absent for notifications.
using Id = Json;

struct Request {
  std::optional<Id> id;  // nullopt: a notification, which gets no response
  std::string method;
  Json params = Json::object();

  bool is_notification() const { return !id.has_value(); }
};

struct Response {
  Id id;  // null when the request could not be read far enough to know its id
  Result<Json> outcome;
};

using Message = std::variant<Request, Response>;

// A line that is not a valid message, with the id to answer it under when one could be read.
struct ParseFailure {
  Error error;
  Id id;  // null unless the line was an object with a usable id
};

// Reads one line (without its newline). Params must be an object when present: every liaison
// method takes named parameters, like the command-line flags they mirror.
std::expected<Message, ParseFailure> parse_message(std::string_view line);

// One compact line, newline included, ready to write.
std::string serialize(const Request& request);
std::string serialize(const Response& response);

}  // namespace liaison::protocol
