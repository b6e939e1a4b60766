// What a person or a script needs to see of an X.509 certificate without running openssl: who
// issued it to whom, when it expires, its serial, and the certificate itself as PEM. For the
// TPM's EK certificates and the attestation key's certificate chain (issue 14).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keys/unexportable_key.h"

namespace liaison::keys {

struct CertificateSummary {
  std::string subject;     // RFC 2253, as `openssl x509 -nameopt RFC2253` prints it; "" if empty
  std::string issuer;      // the same
  std::string serial;      // lower-case hex, no separators
  std::string not_before;  // ISO 8601 UTC, "2026-12-08T03:30:00Z"
  std::string not_after;
  std::string pem;  // "-----BEGIN CERTIFICATE-----\n..."
};

// Parses one DER certificate; trailing bytes are refused. Errors: `invalid_params` for what is
// not a certificate (the caller decides whether that is the peer's fault or ours).
KeyResult<CertificateSummary> summarize_certificate(std::span<const uint8_t> der);

// Every certificate in PEM text ("-----BEGIN CERTIFICATE-----" blocks, in order; text around them
// is ignored), as DER. None, or a block that does not parse, is `invalid_params`.
KeyResult<std::vector<Bytes>> certificates_from_pem(std::string_view pem);

// What a chain to install for a key must be: the first certificate certifies `leaf_spki` (DER
// SubjectPublicKeyInfo), each is signed by the key of the one after it, and none has expired.
// Errors are `invalid_params`, naming the certificate (1 is the first) and what is wrong.
KeyResult<void> check_certificate_chain(const std::vector<Bytes>& chain,
                                        std::span<const uint8_t> leaf_spki);

}  // namespace liaison::keys
