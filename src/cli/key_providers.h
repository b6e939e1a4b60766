// The key providers one liaison process can use, opened on first use: software always, the TPM
// through the configured TCTI where config places it, the Secure Enclave nowhere on Linux. The
// TPM's loaded keys are flushed after a while without use: each TPM lookup calls `tpm_used`, and
// its owner arms an IdleFlushTimer (idle_flush_timer.h) that calls flush_idle(). No event loop
// here, so the agent's key module (agent_keys_on_demand.h) carries none across its boundary.
// Linux only: it is built only where tpm2-tss is (src/cli/CMakeLists.txt, not APPLE); macOS's
// daemon and agent (src/cli/macos/*.mm) have their own software / Secure Enclave lookups and
// never include this header.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "keys/attestation.h"
#include "keys/software_provider.h"
#include "keys/tpm/tpm_attestation.h"
#include "keys/tpm/tpm_provider.h"

namespace liaison::cli {

class KeyProviders {
 public:
  // `tpm_here`: whether config places the TPM in this process's context.
  KeyProviders(keys::KeyContext context, bool tpm_here)
      : context_(context), tpm_here_(tpm_here), software_(context) {}

  // Called after every lookup of the TPM, to arm the owner's idle-flush timer.
  void on_tpm_used(std::function<void()> tpm_used) { tpm_used_ = std::move(tpm_used); }

  keys::KeyResult<keys::UnexportableKeyProvider*> lookup(std::string_view name,
                                                         const std::string& tpm_tcti);

  // The TPM's attestation (attest.*), on the TPM provider's connection. The attestation key is
  // the daemon's whichever context [keys] tpm_context places keys in, so this opens the TPM even
  // where lookup("tpm") says it is not used here.
  // Its attestation key is kept under `state_dir` (the daemon's).
  keys::KeyResult<keys::Attestation*> attestation(const std::string& tpm_tcti,
                                                  const std::filesystem::path& state_dir);

  // Flushes the TPM keys unused for TpmProvider::kIdleFlushAfter; whether any stay loaded.
  bool flush_idle();

 private:
  keys::KeyResult<keys::UnexportableKeyProvider*> open_tpm(const std::string& tpm_tcti);
  keys::KeyResult<keys::tpm::TpmProvider*> connected_tpm(const std::string& tpm_tcti);

  keys::KeyContext context_;
  bool tpm_here_;
  keys::SoftwareKeyProvider software_;
  std::unique_ptr<keys::tpm::TpmProvider> tpm_;
  std::shared_ptr<keys::tpm::TpmConnection> attestation_connection_;
  std::unique_ptr<keys::tpm::TpmAttestation> attestation_;
  std::function<void()> tpm_used_;
};

}  // namespace liaison::cli
