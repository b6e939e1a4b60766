#include "common/toml_ascii.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>

namespace liaison {
namespace {

struct CodePoint {
  char32_t value = 0;
  std::size_t length = 0;  // bytes
};

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The UTF-8 sequence at the front of `text`; nullopt if it is not one (a stray continuation
// byte, a truncated or overlong sequence, a surrogate, past U+10FFFF).
std::optional<CodePoint> decode_utf8(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  std::size_t length = 0;
  char32_t value = 0;
  char32_t minimum = 0;
  if (lead < 0x80) {
    return CodePoint{lead, 1};
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, minimum = 0x10000;
  } else {
    return std::nullopt;
  }
  if (text.size() < length) {
    return std::nullopt;
  }
  for (std::size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (!is_continuation(byte)) {
      return std::nullopt;
    }
    value = (value << 6) | (byte & 0x3F);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return std::nullopt;
  }
  return CodePoint{value, length};
}

std::string escape(char32_t value) {
  return value <= 0xFFFF ? fmt::format("\\u{:04X}", static_cast<uint32_t>(value))
                         : fmt::format("\\U{:08X}", static_cast<uint32_t>(value));
}

enum class Place { kOutside, kComment, kBasicString, kLiteralString };

class Rewriter {
 public:
  explicit Rewriter(std::string_view text) : text_(text) { out_.reserve(text.size()); }

  std::expected<std::string, TomlTextError> run() {
    while (i_ < text_.size()) {
      if (auto failed = step(); !failed) {
        return std::unexpected(failed.error());
      }
    }
    return std::move(out_);
  }

 private:
  std::expected<void, TomlTextError> step() {
    const char c = text_[i_];
    if (c == '\n') {
      newline();
      return {};
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      return non_ascii();
    }
    switch (place_) {
      case Place::kOutside:
        if (c == '#') {
          place_ = Place::kComment;
        } else if (c == '"' || c == '\'') {
          open_string(c);
          return {};
        }
        break;
      case Place::kComment:
        break;
      case Place::kBasicString:
      case Place::kLiteralString:
        if (text_.substr(i_).starts_with(quote_)) {
          copy(quote_.size());
          place_ = Place::kOutside;
          return {};
        }
        if (c == '\\' && place_ == Place::kBasicString && i_ + 1 < text_.size() &&
            static_cast<unsigned char>(text_[i_ + 1]) < 0x80 && text_[i_ + 1] != '\n') {
          copy(2);  // an escape: the byte after the backslash neither closes nor is rewritten
          return {};
        }
        break;
    }
    copy(1);
    return {};
  }

  void newline() {
    copy(1);
    ++line_;
    line_start_ = i_;
    if (place_ == Place::kComment || quote_.size() == 1) {
      place_ = Place::kOutside;  // a one-line string cannot go on: toml++ says so
    }
  }

  void open_string(char quote) {
    const bool triple = text_.substr(i_, 3) == std::string(3, quote);
    quote_ = text_.substr(i_, triple ? 3 : 1);
    place_ = quote == '"' ? Place::kBasicString : Place::kLiteralString;
    copy(quote_.size());
  }

  std::expected<void, TomlTextError> non_ascii() {
    auto code_point = decode_utf8(text_.substr(i_));
    if (!code_point) {
      return fail("a byte that is not UTF-8");
    }
    switch (place_) {
      case Place::kBasicString:
        if (escaping_backslash()) {
          return fail("a non-ASCII character after a backslash (no TOML escape)");
        }
        out_ += escape(code_point->value);
        break;
      case Place::kComment:
        out_ += '?';
        break;
      case Place::kLiteralString:
        return fail(
            "a non-ASCII character in a literal ('...') string: write the value in \"...\"");
      case Place::kOutside:
        return fail("a non-ASCII character outside a string or a comment");
    }
    i_ += code_point->length;
    return {};
  }

  // Whether the output ends in a backslash that starts an escape (an odd run of backslashes).
  bool escaping_backslash() const {
    std::size_t run = 0;
    for (auto it = out_.rbegin(); it != out_.rend() && *it == '\\'; ++it) {
      ++run;
    }
    return run % 2 == 1;
  }

  void copy(std::size_t count) {
    out_.append(text_.substr(i_, count));
    i_ += count;
  }

  std::unexpected<TomlTextError> fail(std::string message) const {
    return std::unexpected(TomlTextError{
        .line = line_, .column = i_ - line_start_ + 1, .message = std::move(message)});
  }

  std::string_view text_;
  std::string out_;
  std::size_t i_ = 0;
  std::size_t line_ = 1;
  std::size_t line_start_ = 0;
  Place place_ = Place::kOutside;
  std::string_view quote_;
};

}  // namespace

std::expected<std::string, TomlTextError> ascii_toml(std::string_view text) {
  return Rewriter(text).run();
}

}  // namespace liaison
