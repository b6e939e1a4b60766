#include "protocol/json_rpc.h"

#include <fmt/format.h>

#include <cstdint>
#include <limits>

namespace liaison::protocol {
namespace {

bool is_valid_id(const Json& id) {
  return (id.is_string() && id.get_ref<const std::string&>().size() <= kMaxIdBytes) ||
         id.is_number_integer();
}

// Thrown by parse_json's callback to stop nlohmann's parser at the first level too deep: the
// parser has no other way to stop early, and it unwinds cleanly (its partial tree is at most
// max_depth deep, so destroying it is cheap).
struct TooDeep {};

// nlohmann's messages name byte offsets ("at line 1, column 5"); keep them, they help. They also
// quote the token that failed ("last read: '...'"), which is the peer's and may be a megabyte.
std::string describe_parse_exception(const Json::parse_error& e) {
  return fmt::format("not valid JSON: {}", bounded_for_error(e.what(), 200));
}

std::expected<Message, ParseFailure> parse_response(const Json& object, const Id& id) {
  const bool has_result = object.contains("result");
  const bool has_error = object.contains("error");
  if (has_result == has_error) {
    return std::unexpected(ParseFailure{
        Error::invalid_request("a response carries exactly one of \"result\" and \"error\""), id});
  }
  if (has_result) {
    return Response{id, object.at("result")};
  }
  const Json& error = object.at("error");
  if (!error.is_object() || !error.contains("code") || !error.at("code").is_number_integer() ||
      !error.contains("message") || !error.at("message").is_string()) {
    return std::unexpected(
        ParseFailure{Error::invalid_request("\"error\" needs an integer code and a message"), id});
  }
  return Response{id, std::unexpected(Error::from_json(error))};
}

std::expected<Message, ParseFailure> parse_request(const Json& object, std::optional<Id> id) {
  const Id reply_id = id.value_or(nullptr);
  const Json& method = object.at("method");
  if (!method.is_string() || method.get_ref<const std::string&>().empty()) {
    return std::unexpected(
        ParseFailure{Error::invalid_request("\"method\" must be a non-empty string"), reply_id});
  }
  Request request{std::move(id), method.get<std::string>(), Json::object()};
  if (auto params = object.find("params"); params != object.end()) {
    if (!params->is_object()) {
      return std::unexpected(ParseFailure{
          Error::invalid_params("\"params\" must be an object of named parameters"), reply_id});
    }
    request.params = *params;
  }
  return request;
}

}  // namespace

std::expected<Json, Error> parse_json(std::string_view text, int max_depth) {
  // The callback sees each container as it opens, with `depth` the number of containers around
  // it: the top-level container is at depth 0, so one at depth max_depth would be level
  // max_depth + 1.
  const Json::parser_callback_t refuse_too_deep = [max_depth](int depth, Json::parse_event_t event,
                                                              Json& /*parsed*/) {
    const bool opens =
        event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start;
    if (opens && depth >= max_depth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    return Json::parse(text, refuse_too_deep);
  } catch (const TooDeep&) {
    return std::unexpected(
        Error::invalid_request(fmt::format("nested more than {} levels deep", max_depth)));
  } catch (const Json::parse_error& e) {
    return std::unexpected(Error::parse_error(describe_parse_exception(e)));
  }
}

std::string bounded_for_error(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return std::string(text);
  }
  // Cut on a UTF-8 character boundary: a continuation byte is 10xxxxxx.
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return fmt::format("{}... ({} bytes)", text.substr(0, cut), text.size());
}

Error Error::method_not_found(std::string_view method) {
  return {kMethodNotFound, fmt::format("unknown method \"{}\"", bounded_for_error(method, 64)), {}};
}

Json Error::to_json() const {
  // Bounded whatever built it: an error must never carry a peer's megabyte back to it.
  Json error = {{"code", code}, {"message", bounded_for_error(message, kMaxErrorBytes)}};
  if (!data_code.empty()) {
    error["data"] = {{"code", data_code}};
  }
  return error;
}

// The peer's error object: never throws, whatever the types of its fields (a "data":{"code":5}
// once ended the read loop of every connection that received it), and keeps only bounded text.
Error Error::from_json(const Json& error) {
  Error result;
  if (!error.is_object()) {
    return result;
  }
  if (auto code = error.find("code"); code != error.end() && code->is_number_integer()) {
    const auto value = code->get<int64_t>();
    const bool fits =
        value >= std::numeric_limits<int>::min() && value <= std::numeric_limits<int>::max();
    result.code = fits ? static_cast<int>(value) : static_cast<int>(kInternalError);
  }
  if (auto message = error.find("message"); message != error.end() && message->is_string()) {
    result.message = bounded_for_error(message->get_ref<const std::string&>(), kMaxErrorBytes);
  }
  if (auto data = error.find("data"); data != error.end() && data->is_object()) {
    if (auto code = data->find("code"); code != data->end() && code->is_string()) {
      result.data_code = bounded_for_error(code->get_ref<const std::string&>(), 64);
    }
  }
  return result;
}

namespace {

std::expected<Message, ParseFailure> parse_message_or_throw(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return std::unexpected(ParseFailure{
        Error::invalid_request(fmt::format("message over {} bytes", kMaxLineBytes)), nullptr});
  }
  auto parsed = parse_json(line);
  if (!parsed) {
    return std::unexpected(ParseFailure{std::move(parsed.error()), nullptr});
  }
  const Json& object = *parsed;
  if (!object.is_object()) {
    return std::unexpected(
        ParseFailure{Error::invalid_request("a message must be a JSON object"), nullptr});
  }
  std::optional<Id> id;
  if (auto found = object.find("id"); found != object.end()) {
    if (!is_valid_id(*found) && !found->is_null()) {
      return std::unexpected(ParseFailure{
          Error::invalid_request(fmt::format(
              "\"id\" must be an integer or a string of at most {} bytes", kMaxIdBytes)),
          nullptr});
    }
    if (!found->is_null()) {
      id = *found;
    }
  }
  auto version = object.find("jsonrpc");
  if (version == object.end() || *version != "2.0") {
    return std::unexpected(
        ParseFailure{Error::invalid_request("\"jsonrpc\" must be \"2.0\""), id.value_or(nullptr)});
  }
  if (object.contains("method")) {
    return parse_request(object, std::move(id));
  }
  // A response may carry "id": null: an error the peer could not tie to a request.
  if (!id.has_value() && object.contains("id") && object.contains("error")) {
    return parse_response(object, nullptr);
  }
  if (!id.has_value()) {
    return std::unexpected(ParseFailure{
        Error::invalid_request("neither a request (no \"method\") nor a response (no \"id\")"),
        nullptr});
  }
  return parse_response(object, *id);
}

}  // namespace

std::expected<Message, ParseFailure> parse_message(std::string_view line) {
  // Whatever parse_message_or_throw's checks miss must still be the peer's error, never an
  // exception: the caller is a read loop that serves the peer's other requests and owns its
  // bookkeeping.
  try {
    return parse_message_or_throw(line);
  } catch (const Json::exception& e) {
    return std::unexpected(
        ParseFailure{Error::invalid_request(
                         fmt::format("malformed message: {}", bounded_for_error(e.what(), 200))),
                     nullptr});
  }
}

std::string serialize(const Request& request) {
  Json message = {{"jsonrpc", "2.0"}, {"method", request.method}, {"params", request.params}};
  if (request.id.has_value()) {
    message["id"] = *request.id;
  }
  // Invalid UTF-8 from a peer must not throw here: replace it rather than drop the message.
  return message.dump(-1, ' ', false, Json::error_handler_t::replace) + '\n';
}

std::string serialize(const Response& response) {
  Json message = {{"jsonrpc", "2.0"}, {"id", response.id}};
  if (response.outcome.has_value()) {
    message["result"] = *response.outcome;
  } else {
    message["error"] = response.outcome.error().to_json();
  }
  return message.dump(-1, ' ', false, Json::error_handler_t::replace) + '\n';
}

}  // namespace liaison::protocol
