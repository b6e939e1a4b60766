// What a person or a script needs to see of an X.509 certificate without running openssl: who
// issued it to whom, when it expires, its serial, and the certificate itself as PEM. For the
// TPM's EK certificates and the attestation key's certificate chain (issue 14).
#pragma once

#include <span>
#include <string>

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

}  // namespace liaison::keys
