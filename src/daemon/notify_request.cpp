#include "daemon/notify_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;
using Status = std::expected<void, Error>;

bool is_action_id_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t';
  });
}

Status read_string(const Json& params, const char* key, std::size_t max_bytes, std::string& out) {
  auto found = params.find(key);
  if (found == params.end() || found->is_null()) {
    return {};
  }
  if (!found->is_string()) {
    return std::unexpected(Error::invalid_params(fmt::format("{} must be a string", key)));
  }
  out = found->get<std::string>();
  if (out.size() > max_bytes) {
    return std::unexpected(Error::invalid_params(
        fmt::format("{} is {} bytes, over the limit of {}", key, out.size(), max_bytes)));
  }
  return {};
}

// A flag that may repeat arrives as one string or number, or an array of them.
Status read_string_list(const Json& params, const char* key, std::vector<std::string>& out) {
  auto found = params.find(key);
  if (found == params.end() || found->is_null()) {
    return {};
  }
  auto add = [&](const Json& value) -> Status {
    if (value.is_string() && !value.get_ref<const std::string&>().empty()) {
      out.push_back(value.get<std::string>());
    } else if (value.is_number_integer() && value.get<int64_t>() >= 0) {
      out.push_back(std::to_string(value.get<int64_t>()));
    } else {
      return std::unexpected(Error::invalid_params(
          fmt::format("{} must be a non-empty string or an array of them", key)));
    }
    return {};
  };
  if (!found->is_array()) {
    return add(*found);
  }
  for (const Json& value : *found) {
    if (auto status = add(value); !status) {
      return status;
    }
  }
  return {};
}

Status read_targets(const Json& params, NotifyRequest& request) {
  if (auto s = read_string_list(params, "user", request.users); !s) {
    return s;
  }
  if (auto s = read_string_list(params, "session", request.sessions); !s) {
    return s;
  }
  if (auto all = params.find("all"); all != params.end() && !all->is_null()) {
    if (!all->is_boolean()) {
      return std::unexpected(Error::invalid_params("all must be a boolean"));
    }
    request.all = all->get<bool>();
  }
  if (!request.all && request.users.empty() && request.sessions.empty()) {
    return std::unexpected(Error::invalid_params("no target: give user, session or all"));
  }
  return {};
}

Status read_actions(const Json& params, NotifyRequest& request) {
  std::vector<std::string> specs;
  if (auto s = read_string_list(params, "action", specs); !s) {
    return s;
  }
  if (specs.size() > kMaxActions) {
    return std::unexpected(Error::invalid_params(fmt::format("at most {} actions", kMaxActions)));
  }
  std::set<std::string> ids;
  for (const std::string& spec : specs) {
    const auto equals = spec.find('=');
    std::string id = spec.substr(0, equals);
    std::string label = equals == std::string::npos ? "" : spec.substr(equals + 1);
    if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), is_action_id_char) ||
        label.empty() || label.size() > 64 || has_control_characters(label)) {
      return std::unexpected(Error::invalid_params(fmt::format(
          "action \"{}\" must be ID=LABEL: ID of 1-64 [A-Za-z0-9._-], LABEL of 1-64 bytes", spec)));
    }
    if (id == "default") {
      return std::unexpected(Error::invalid_params(
          "action id \"default\" is reserved for clicking the body (use action_url)"));
    }
    if (!ids.insert(id).second) {
      return std::unexpected(
          Error::invalid_params(fmt::format("action id \"{}\" given twice", id)));
    }
    request.actions.emplace_back(std::move(id), std::move(label));
  }
  return {};
}

Status read_text(const Json& params, NotifyRequest& request) {
  if (auto s = read_string(params, "title", kMaxTitleBytes, request.title); !s) {
    return s;
  }
  if (request.title.empty()) {
    return std::unexpected(Error::invalid_params("title is required"));
  }
  if (request.title.find('\n') != std::string::npos || has_control_characters(request.title)) {
    return std::unexpected(Error::invalid_params("title must be one line of text"));
  }
  if (auto s = read_string(params, "body", kMaxBodyBytes, request.body); !s) {
    return s;
  }
  if (has_control_characters(request.body)) {
    return std::unexpected(Error::invalid_params("body must not contain control characters"));
  }
  return {};
}

Status read_presentation(const Json& params, NotifyRequest& request) {
  if (auto s = read_string(params, "action_url", kMaxUrlBytes, request.action_url); !s) {
    return s;
  }
  if (!request.action_url.empty() && !request.action_url.starts_with("https://") &&
      !request.action_url.starts_with("http://")) {
    return std::unexpected(Error::invalid_params("action_url must be an http:// or https:// URL"));
  }
  if (auto s = read_string(params, "urgency", 16, request.urgency); !s) {
    return s;
  }
  if (request.urgency != "low" && request.urgency != "normal" && request.urgency != "critical") {
    return std::unexpected(Error::invalid_params("urgency must be low, normal or critical"));
  }
  if (auto s = read_string(params, "icon", 4096, request.icon); !s) {
    return s;
  }
  if (auto s = read_string(params, "id", 128, request.dedup_id); !s) {
    return s;
  }
  if (auto wait = params.find("wait_action"); wait != params.end() && !wait->is_null()) {
    if (!wait->is_number_integer() || *wait < 1 || *wait > kMaxWaitActionSeconds) {
      return std::unexpected(Error::invalid_params(
          fmt::format("wait_action must be whole seconds from 1 to {}", kMaxWaitActionSeconds)));
    }
    request.wait_action_seconds = wait->get<int>();
  }
  return {};
}

Status refuse_unknown_params(const Json& params) {
  static const std::set<std::string> known = {"user", "session",    "all",        "title",
                                              "body", "action_url", "action",     "urgency",
                                              "icon", "id",         "wait_action"};
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (!known.contains(it.key())) {
      return std::unexpected(
          Error::invalid_params(fmt::format("unknown parameter \"{}\"", it.key())));
    }
  }
  return {};
}

}  // namespace

Result<NotifyRequest> parse_notify_request(const Json& params) {
  NotifyRequest request;
  for (auto step : {refuse_unknown_params}) {
    if (auto status = step(params); !status) {
      return std::unexpected(status.error());
    }
  }
  for (auto step : {read_targets, read_text, read_actions, read_presentation}) {
    if (auto status = step(params, request); !status) {
      return std::unexpected(status.error());
    }
  }
  return request;
}

Json agent_notify_params(const NotifyRequest& request, const std::string& app_name) {
  Json actions = Json::array();
  for (const auto& [id, label] : request.actions) {
    actions.push_back({{"id", id}, {"label", label}});
  }
  return {{"app_name", app_name}, {"title", request.title},
          {"body", request.body}, {"action_url", request.action_url},
          {"actions", actions},   {"urgency", request.urgency},
          {"icon", request.icon}, {"id", request.dedup_id}};
}

}  // namespace liaison::daemon
