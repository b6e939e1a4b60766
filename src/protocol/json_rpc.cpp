#include "protocol/json_rpc.h"

#include <fmt/format.h>

namespace liaison::protocol {
namespace {

bool is_valid_id(const Json& id) { return id.is_string() || id.is_number_integer(); }

// nlohmann's messages name byte offsets ("at line 1, column 5"); keep them, they help.
std::string describe_parse_exception(const Json::parse_error& e) {
  return fmt::format("not valid JSON: {}", e.what());
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

Error Error::method_not_found(std::string_view method) {
  return {kMethodNotFound, fmt::format("unknown method \"{}\"", method), {}};
}

Json Error::to_json() const {
  Json error = {{"code", code}, {"message", message}};
  if (!data_code.empty()) {
    error["data"] = {{"code", data_code}};
  }
  return error;
}

Error Error::from_json(const Json& error) {
  Error result;
  result.code = error.value("code", static_cast<int>(kInternalError));
  result.message = error.value("message", std::string());
  if (auto data = error.find("data"); data != error.end() && data->is_object()) {
    result.data_code = data->value("code", std::string());
  }
  return result;
}

std::expected<Message, ParseFailure> parse_message(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return std::unexpected(ParseFailure{
        Error::invalid_request(fmt::format("message over {} bytes", kMaxLineBytes)), nullptr});
  }
  Json object;
  try {
    object = Json::parse(line);
  } catch (const Json::parse_error& e) {
    return std::unexpected(ParseFailure{Error::parse_error(describe_parse_exception(e)), nullptr});
  }
  if (!object.is_object()) {
    return std::unexpected(
        ParseFailure{Error::invalid_request("a message must be a JSON object"), nullptr});
  }
  std::optional<Id> id;
  if (auto found = object.find("id"); found != object.end()) {
    if (!is_valid_id(*found) && !found->is_null()) {
      return std::unexpected(
          ParseFailure{Error::invalid_request("\"id\" must be a string or an integer"), nullptr});
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
