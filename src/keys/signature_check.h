// Checks a signature the way a verifier of liaison's keys does (ECDSA P-256 over SHA-256, DER,
// as `openssl dgst -sha256 -verify` takes it): for the daemon, which verifies what a session's
// key signed without trusting the session (issue 26's presence checks on macOS). Microseconds.
#pragma once

#include <cstdint>
#include <span>

#include "keys/unexportable_key.h"

namespace liaison::keys {

// Ok when `spki` is a DER SubjectPublicKeyInfo of a P-256 key (and nothing after it).
KeyResult<void> check_p256_public_key(std::span<const uint8_t> spki);

// Ok when `signature` (DER) is the P-256 key `spki`'s signature of SHA-256(`message`); an error
// saying why not (a key that is not P-256, a malformed or wrong signature) otherwise.
KeyResult<void> check_p256_signature(std::span<const uint8_t> spki,
                                     std::span<const uint8_t> message,
                                     std::span<const uint8_t> signature);

}  // namespace liaison::keys
