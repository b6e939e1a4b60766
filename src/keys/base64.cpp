#include "keys/base64.h"

#include <algorithm>

namespace liaison::keys {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode_with(std::string_view alphabet, std::span<const uint8_t> data, bool pad) {
  std::string text;
  text.reserve((data.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < data.size(); i += 3) {
    std::size_t chunk = std::min<std::size_t>(3, data.size() - i);
    uint32_t bits = uint32_t{data[i]} << 16;
    if (chunk > 1) {
      bits |= uint32_t{data[i + 1]} << 8;
    }
    if (chunk > 2) {
      bits |= uint32_t{data[i + 2]};
    }
    for (std::size_t k = 0; k < 4; ++k) {
      if (k <= chunk) {
        text += alphabet[(bits >> (18 - 6 * k)) & 0x3f];
      } else if (pad) {
        text += '=';
      }
    }
  }
  return text;
}

}  // namespace

std::string base64_encode(std::span<const uint8_t> data) {
  return encode_with(kBase64Alphabet, data, /*pad=*/true);
}

std::string base64url_encode(std::span<const uint8_t> data) {
  return encode_with(kBase64UrlAlphabet, data, /*pad=*/false);
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  std::vector<uint8_t> data;
  data.reserve(text.size() / 4 * 3);
  uint32_t bits = 0;
  int bit_count = 0;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    std::size_t value = kBase64Alphabet.find(text[i]);
    if (value == std::string_view::npos) {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      data.push_back(static_cast<uint8_t>((bits >> bit_count) & 0xff));
    }
  }
  return data;
}

}  // namespace liaison::keys
