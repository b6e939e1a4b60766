#include "daemon/agent_token.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "common/portable_calls.h"

namespace liaison::daemon {

std::string make_agent_token() {
  std::array<uint8_t, 32> bytes{};
  // Fails only on a kernel without a random generator: nothing safe to fall back to.
  if (!fill_random(bytes)) {
    throw std::runtime_error("the kernel gave no random bytes");
  }
  std::string token;
  token.reserve(bytes.size() * 2);
  for (uint8_t byte : bytes) {
    token += fmt::format("{:02x}", byte);
  }
  return token;
}

bool tokens_match(std::string_view expected, std::string_view presented) {
  if (expected.empty() || expected.size() != presented.size()) {
    return false;
  }
  unsigned char difference = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference |= static_cast<unsigned char>(expected[i] ^ presented[i]);
  }
  return difference == 0;
}

std::string token_digest(std::string_view token) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");  // only without memory: nothing sane to do
  }
  std::string hex;
  hex.reserve(std::size_t{length} * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += fmt::format("{:02x}", digest[i]);
  }
  return hex;
}

}  // namespace liaison::daemon
