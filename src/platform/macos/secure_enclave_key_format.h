// The byte formats the Secure Enclave provider converts between, kept portable so Linux tests
// check them with OpenSSL: Security.framework gives a P-256 public key as the 65-byte X9.63 point
// (04 || X || Y); liaison's interface wants DER SubjectPublicKeyInfo.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

namespace liaison::platform::macos {

// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) ... }: the 26
// bytes every P-256 SPKI starts with, followed by the 65-byte point (91 bytes in all).
inline constexpr uint8_t kP256SpkiHeader[26] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

inline constexpr size_t kX963P256PointSize = 65;

std::expected<std::vector<uint8_t>, std::string> p256_spki_from_x963(
    std::span<const uint8_t> point);

}  // namespace liaison::platform::macos
