#include "keys/label.h"

#include <fmt/format.h>

namespace liaison::keys {
namespace {

bool allowed_in_label(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Labels arrive from the command line and the socket: show them without letting a control
// character or an escape sequence through into a terminal or a log.
std::string printable(std::string_view text) {
  std::string shown;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\') {
      shown += c;
    } else {
      shown += fmt::format("\\x{:02x}", byte);
    }
  }
  return shown;
}

}  // namespace

std::expected<void, std::string> check_label(std::string_view label) {
  if (label.empty()) {
    return std::unexpected("a key label may not be empty");
  }
  if (label.size() > kMaxLabelLength) {
    return std::unexpected(fmt::format("key label is {} characters long; the limit is {}",
                                       label.size(), kMaxLabelLength));
  }
  for (std::size_t i = 0; i < label.size(); ++i) {
    if (!allowed_in_label(label[i])) {
      return std::unexpected(fmt::format(
          "key label \"{}\" has '{}' at position {}: only letters, digits, '.', '_' and '-' are "
          "allowed",
          printable(label), printable(label.substr(i, 1)), i + 1));
    }
  }
  if (label.front() == '.') {
    return std::unexpected(
        fmt::format("key label \"{}\" may not start with '.'", printable(label)));
  }
  return {};
}

}  // namespace liaison::keys
