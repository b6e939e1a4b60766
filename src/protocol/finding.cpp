#include "protocol/finding.h"

#include <array>
#include <utility>

namespace liaison::protocol {
namespace {

constexpr std::array<std::pair<Finding::Status, std::string_view>, 4> kStatusNames{{
    {Finding::Status::kOk, "ok"},
    {Finding::Status::kInfo, "info"},
    {Finding::Status::kWarn, "warn"},
    {Finding::Status::kFail, "fail"},
}};

Finding make(std::string check, Finding::Status status, std::string detail, std::string hint,
             Json facts) {
  return Finding{std::move(check), status, std::move(detail), std::move(hint), std::move(facts)};
}

}  // namespace

Finding Finding::ok(std::string check, std::string detail, Json facts) {
  return make(std::move(check), Status::kOk, std::move(detail), "", std::move(facts));
}

Finding Finding::info(std::string check, std::string detail, Json facts) {
  return make(std::move(check), Status::kInfo, std::move(detail), "", std::move(facts));
}

Finding Finding::warn(std::string check, std::string detail, std::string hint, Json facts) {
  return make(std::move(check), Status::kWarn, std::move(detail), std::move(hint),
              std::move(facts));
}

Finding Finding::fail(std::string check, std::string detail, std::string hint, Json facts) {
  return make(std::move(check), Status::kFail, std::move(detail), std::move(hint),
              std::move(facts));
}

std::string_view status_name(Finding::Status status) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) {
      return name;
    }
  }
  return "fail";
}

Json to_json(const Finding& finding) {
  Json json = {{"check", finding.check},
               {"status", status_name(finding.status)},
               {"detail", finding.detail}};
  if (!finding.hint.empty()) {
    json["hint"] = finding.hint;
  }
  if (!finding.facts.is_null()) {
    json["facts"] = finding.facts;
  }
  return json;
}

Json to_json(const std::vector<Finding>& findings) {
  Json array = Json::array();
  for (const Finding& finding : findings) {
    array.push_back(to_json(finding));
  }
  return array;
}

std::optional<Finding> finding_from_json(const Json& json) {
  if (!json.is_object()) {
    return std::nullopt;
  }
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto found = json.find(key);
    if (found == json.end()) {
      return std::string();
    }
    if (!found->is_string()) {
      return std::nullopt;
    }
    return found->get<std::string>();
  };
  auto check = text("check");
  auto status = text("status");
  auto detail = text("detail");
  auto hint = text("hint");
  if (!check || check->empty() || !status || !detail || !hint) {
    return std::nullopt;
  }
  for (const auto& [value, name] : kStatusNames) {
    if (name == *status) {
      return make(*check, value, *detail, *hint, json.value("facts", Json(nullptr)));
    }
  }
  return std::nullopt;
}

std::vector<Finding> findings_from_json(const Json& json) {
  std::vector<Finding> findings;
  if (!json.is_object()) {
    return findings;
  }
  auto list = json.find("findings");
  if (list == json.end() || !list->is_array()) {
    return findings;
  }
  for (const Json& entry : *list) {
    if (auto finding = finding_from_json(entry)) {
      findings.push_back(std::move(*finding));
    }
  }
  return findings;
}

}  // namespace liaison::protocol
