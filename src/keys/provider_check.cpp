#include "keys/provider_check.h"

#include <fmt/format.h>

namespace liaison::keys {
namespace {

using protocol::Finding;

// One line that fixes a provider that cannot be reached, by provider and error code.
std::string fix_for(std::string_view provider, const KeyError& error, std::string_view where) {
  if (provider == "tpm") {
    if (error.code == "not_permitted") {
      return fmt::format(
          "{} cannot open the TPM device: add the user to group tss (root:tss 0660), or set "
          "[keys] tpm_context = \"daemon\"",
          where);
    }
    return "check [keys] tpm_tcti in /etc/liaison/liaison.toml; is there a TPM "
           "(ls -l /dev/tpmrm0; the tpm_crb or tpm_tis module)? Otherwise set [keys] backend = "
           "\"software\"";
  }
  if (provider == "secure-enclave") {
    if (error.message.find("-34018") != std::string::npos) {
      return "sign Liaison.app with the keychain-access-groups entitlement and its provisioning "
             "profile (docs/macos.md)";
    }
    return "the Secure Enclave needs a Mac with Apple silicon or a T2 chip, and the agent must "
           "run in the user's GUI session (launch-agent strategy; docs/macos.md)";
  }
  return "see docs/troubleshooting.md";
}

}  // namespace

Finding check_provider(std::string_view name, KeyResult<UnexportableKeyProvider*> opened,
                       std::string_view where) {
  const std::string check = provider_check_name(name);
  if (!opened) {
    return Finding::fail(check, fmt::format("from {}: {}", where, opened.error().message),
                         fix_for(name, opened.error(), where));
  }
  auto described = (*opened)->describe();
  if (!described) {
    return Finding::fail(check, fmt::format("from {}: {}", where, described.error().message),
                         fix_for(name, described.error(), where));
  }
  if (!described->problem.empty()) {
    return Finding::fail(check, fmt::format("{}: {}", described->summary, described->problem),
                         described->fix, described->facts);
  }
  if (!(*opened)->hardware_backed()) {
    // Works, and says loudly what it is not.
    return Finding::info(check, described->summary, described->facts);
  }
  return Finding::ok(check, fmt::format("{} (from {})", described->summary, where),
                     described->facts);
}

}  // namespace liaison::keys
