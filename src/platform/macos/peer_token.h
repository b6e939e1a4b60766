// The code-signing requirement a peer must satisfy to be trusted as one of ours on macOS: signed
// by a certificate Apple issued to our team, optionally as one binary. The Apple-only peer
// identity check compiles it with SecRequirementCreateWithString and checks the peer's audit
// token against it.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace liaison::platform::macos {

// An Apple team identifier: ten characters, digits and upper-case letters ("ABCDE12345").
bool is_valid_team_identifier(std::string_view team_id);

// Bundle or signing identifiers: letters, digits, '.', '-', '_'; nothing that could end the
// quoted string in the requirement language.
bool is_valid_code_identifier(std::string_view identifier);

// `anchor apple generic and certificate leaf[subject.OU] = "TEAMID"` — accepts Developer ID,
// App Store and Development signatures of that team — plus ` and identifier "ID"` when `identifier`
// is not empty.
std::expected<std::string, std::string> team_code_requirement(std::string_view team_id,
                                                              std::string_view identifier = {});

}  // namespace liaison::platform::macos
