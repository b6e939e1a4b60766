#include "cli/key_providers.h"

#include <fmt/format.h>

namespace liaison::cli {

keys::KeyResult<keys::UnexportableKeyProvider*> KeyProviders::lookup(std::string_view name,
                                                                     const std::string& tpm_tcti) {
  if (name == keys::kSoftwareProviderName) {
    return &software_;
  }
  if (name == "tpm") {
    return open_tpm(tpm_tcti);
  }
  if (name == "secure-enclave") {
    return std::unexpected(
        keys::KeyError{"unavailable", "the Secure Enclave exists only on macOS"});
  }
  return std::unexpected(
      keys::KeyError{"invalid_params", fmt::format("no key backend \"{}\"", name)});
}

keys::KeyResult<keys::UnexportableKeyProvider*> KeyProviders::open_tpm(
    const std::string& tpm_tcti) {
  if (!tpm_here_) {
    return std::unexpected(keys::KeyError{
        "unavailable",
        fmt::format("the TPM is not used in the {} ([keys] tpm_context)",
                    context_ == keys::KeyContext::kDaemon ? "daemon" : "user's session")});
  }
  return connected_tpm(tpm_tcti);
}

keys::KeyResult<keys::tpm::TpmProvider*> KeyProviders::connected_tpm(const std::string& tpm_tcti) {
  // A TCTI that changed (the daemon forwards its config to agents) means another TPM.
  if (tpm_ && tpm_->tcti() != tpm_tcti) {
    tpm_.reset();
  }
  if (!tpm_) {
    // Not remembered on failure: a TPM that appears later (a module loaded) is found then.
    auto opened = keys::tpm::TpmProvider::open(tpm_tcti, context_);
    if (!opened) {
      return std::unexpected(opened.error());
    }
    tpm_ = std::move(*opened);
  }
  if (tpm_used_) {
    tpm_used_();
  }
  return tpm_.get();
}

keys::KeyResult<keys::Attestation*> KeyProviders::attestation(
    const std::string& tpm_tcti, const std::filesystem::path& state_dir) {
  auto tpm = connected_tpm(tpm_tcti);
  if (!tpm) {
    return std::unexpected(tpm.error());
  }
  if (!attestation_ || attestation_connection_ != (*tpm)->connection()) {
    attestation_connection_ = (*tpm)->connection();
    attestation_ = std::make_unique<keys::tpm::TpmAttestation>(attestation_connection_, state_dir);
  }
  return attestation_.get();
}

bool KeyProviders::flush_idle() {
  if (!tpm_) {
    return false;
  }
  tpm_->flush_idle();
  return tpm_->loaded_key_count() > 0;
}

}  // namespace liaison::cli
