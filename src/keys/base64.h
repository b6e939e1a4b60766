// RFC 4648 base64 and base64url: the wire's encoding of keys, digests and signatures. Plain code,
// no OpenSSL, so the command line can use it without loading libcrypto (src/cli/service_module.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::keys {

// RFC 4648 base64 with padding.
std::string base64_encode(std::span<const uint8_t> data);
// RFC 4648 base64url without padding (as JOSE uses it).
std::string base64url_encode(std::span<const uint8_t> data);
// Strict RFC 4648 base64 with padding: no whitespace, no missing padding, no other alphabet.
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace liaison::keys
