#include "platform/macos/peer_token.h"

#include <fmt/format.h>

#include <algorithm>

namespace liaison::platform::macos {
namespace {

bool is_digit_or_upper(char character) {
  return (character >= '0' && character <= '9') || (character >= 'A' && character <= 'Z');
}

bool is_identifier_character(char character) {
  return is_digit_or_upper(character) || (character >= 'a' && character <= 'z') ||
         character == '.' || character == '-' || character == '_';
}

}  // namespace

bool is_valid_team_identifier(std::string_view team_id) {
  return team_id.size() == 10 && std::ranges::all_of(team_id, is_digit_or_upper);
}

bool is_valid_code_identifier(std::string_view identifier) {
  return !identifier.empty() && identifier.size() <= 255 &&
         std::ranges::all_of(identifier, is_identifier_character);
}

std::expected<std::string, std::string> team_code_requirement(std::string_view team_id,
                                                              std::string_view identifier) {
  if (!is_valid_team_identifier(team_id)) {
    return std::unexpected(fmt::format(
        "\"{}\" is not an Apple team identifier (ten digits or upper-case letters)", team_id));
  }
  std::string requirement =
      fmt::format("anchor apple generic and certificate leaf[subject.OU] = \"{}\"", team_id);
  if (identifier.empty()) {
    return requirement;
  }
  if (!is_valid_code_identifier(identifier)) {
    return std::unexpected(fmt::format("\"{}\" is not a code-signing identifier", identifier));
  }
  requirement += fmt::format(" and identifier \"{}\"", identifier);
  return requirement;
}

}  // namespace liaison::platform::macos
