// One result of `liaison doctor`: what was checked, how it went, and for a problem the one line
// that fixes it. Daemon, agents and the CLI exchange findings as JSON (docs/cli-json.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/json_rpc.h"

namespace liaison::protocol {

// bugprone-exception-escape: nlohmann::json's destructor flattens nested values into a
// std::vector, which may throw bad_alloc inside a noexcept destructor; nothing here adds to it.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct Finding {
  // kInfo: a fact worth showing that is neither good nor bad (a setuid-only child cannot reach
  // the session bus: that is why agents exist). kWarn: works, but not as it should.
  enum class Status { kOk, kInfo, kWarn, kFail };

  std::string check;  // stable name: "session-bus", "notification-server", "tpm", ...
  Status status = Status::kOk;
  std::string detail;  // one line for a person
  std::string hint;    // the fix; set for kWarn and kFail
  Json facts;          // the detail field by field for scripts; null when there is nothing more

  static Finding ok(std::string check, std::string detail, Json facts = nullptr);
  static Finding info(std::string check, std::string detail, Json facts = nullptr);
  static Finding warn(std::string check, std::string detail, std::string hint,
                      Json facts = nullptr);
  static Finding fail(std::string check, std::string detail, std::string hint,
                      Json facts = nullptr);

  bool failed() const { return status == Status::kFail; }
};

std::string_view status_name(Finding::Status status);

Json to_json(const Finding& finding);
Json to_json(const std::vector<Finding>& findings);

// Reads a finding another process sent; nullopt for anything that is not one.
std::optional<Finding> finding_from_json(const Json& json);

// Reads {"findings": [...]}, dropping malformed entries (a newer peer's are still shown).
std::vector<Finding> findings_from_json(const Json& json);

}  // namespace liaison::protocol
