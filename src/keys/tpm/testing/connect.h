// For tests that talk to a swtpm through TpmConnection directly: a connection (shared: an
// attestation and a test may hold it together), or an exception that names why not (a test
// cannot go on without one).
#pragma once

#include <memory>
#include <stdexcept>

#include "keys/tpm/testing/swtpm_process.h"
#include "keys/tpm/tpm_connection.h"

namespace liaison::keys::tpm {

inline std::shared_ptr<TpmConnection> connect(const SwtpmProcess& swtpm) {
  auto tpm = TpmConnection::open(swtpm.tcti());
  if (!tpm) {
    throw std::runtime_error("cannot open the TPM: " + tpm.error().message);
  }
  return std::move(*tpm);
}

}  // namespace liaison::keys::tpm
