#include "platform/macos/secure_enclave_key_format.h"

#include <fmt/format.h>

namespace liaison::platform::macos {

std::expected<std::vector<uint8_t>, std::string> p256_spki_from_x963(
    std::span<const uint8_t> point) {
  if (point.size() != kX963P256PointSize || point[0] != 0x04) {
    return std::unexpected(fmt::format(
        "not an uncompressed P-256 point: {} bytes (want 65 starting with 04)", point.size()));
  }
  std::vector<uint8_t> spki(std::begin(kP256SpkiHeader), std::end(kP256SpkiHeader));
  spki.insert(spki.end(), point.begin(), point.end());
  return spki;
}

}  // namespace liaison::platform::macos
