// SHA-256 for `liaison key sign`, from OpenSSL's libcrypto loaded when it is first asked for. The
// command line does not link libcrypto: the other commands (notify above all) would pay for its
// loading and relocation, about a millisecond, at every start (issue 13). The digest is
// libcrypto's own EVP_Digest, never a hand-written one.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

namespace liaison::cli {

// The SHA-256 digest of `data`, or why libcrypto could not give it. The first call dlopen()s
// libcrypto.so.3 (about a millisecond); later calls cost the hashing alone.
std::expected<std::vector<uint8_t>, std::string> sha256_on_demand(std::span<const uint8_t> data);

}  // namespace liaison::cli
