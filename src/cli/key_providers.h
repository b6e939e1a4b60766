// The key providers one liaison process can use, opened on first use: software always, the TPM
// through the configured TCTI where config places it, the Secure Enclave nowhere on Linux. The
// TPM's loaded keys are flushed after a while without use by a one-shot timer that exists only
// while keys are loaded (no wakeups when idle). Linux only: it is built only where tpm2-tss is
// (src/cli/CMakeLists.txt, not APPLE); macOS's daemon and agent (src/cli/macos/*.mm) have their
// own software / Secure Enclave lookups and never include this header.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "keys/software_provider.h"
#include "keys/tpm/tpm_provider.h"

namespace liaison::cli {

class KeyProviders {
 public:
  // `tpm_here`: whether config places the TPM in this process's context.
  KeyProviders(asio::io_context& io, keys::KeyContext context, bool tpm_here)
      : idle_flush_(io), context_(context), tpm_here_(tpm_here), software_(context) {}

  keys::KeyResult<keys::UnexportableKeyProvider*> lookup(std::string_view name,
                                                         const std::string& tpm_tcti);

 private:
  keys::KeyResult<keys::UnexportableKeyProvider*> open_tpm(const std::string& tpm_tcti);
  void schedule_idle_flush();

  asio::steady_timer idle_flush_;
  keys::KeyContext context_;
  bool tpm_here_;
  keys::SoftwareKeyProvider software_;
  std::unique_ptr<keys::tpm::TpmProvider> tpm_;
};

}  // namespace liaison::cli
