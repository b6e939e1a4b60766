// TOML text rewritten as ASCII with the same meaning, for toml++.
//
// toml++ 3.3.0 (Debian 12's) reaches __builtin_unreachable() when it asks whether certain
// non-ASCII characters are whitespace (U+00A1..U+0499, U+2CEF..U+30E7, U+FB36..U+FEFE but for
// the few it knows), which it does wherever whitespace may stand, and on invalid text in places
// hard to predict: undefined behaviour in whoever loads the file. tests/fuzz/config_fuzzer found
// it. Given ASCII only, toml++ never asks. So before it sees a file, every non-ASCII character in
// a basic string ("..." and """...""") becomes its \uXXXX or \UXXXXXXXX escape, and in a comment
// a '?'; TOML allows them nowhere else, and a literal string ('...') has no escapes, so there
// they are an error that says where. One pass, linear in the text.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace liaison {

struct TomlTextError {
  std::size_t line = 1;  // where the offending character starts, 1-based
  std::size_t column = 1;
  std::string message;
};

std::expected<std::string, TomlTextError> ascii_toml(std::string_view text);

}  // namespace liaison
