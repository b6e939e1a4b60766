// macOS: the binary links OpenSSL's libcrypto anyway (its daemon and agent are in it:
// service_module.h), so there is nothing to load on demand.
#include "cli/sha256_on_demand.h"
#include "keys/unexportable_key.h"

namespace liaison::cli {

std::expected<std::vector<uint8_t>, std::string> sha256_on_demand(std::span<const uint8_t> data) {
  return keys::sha256(data);
}

}  // namespace liaison::cli
