#include "platform/macos/osstatus_errors.h"

#include <fmt/format.h>

namespace liaison::platform::macos {
namespace {

struct Explanation {
  std::string_view code;
  std::string_view text;
};

Explanation explain(int32_t status) {
  switch (status) {
    case kErrSecMissingEntitlement:
      return {"not_permitted",
              "errSecMissingEntitlement: this process lacks the keychain-access-groups "
              "entitlement authorised by a provisioning profile. Run the agent as the main "
              "executable of a signed Liaison.app with embedded.provisionprofile, not from the "
              "root daemon or an unsigned build; see docs/macos.md"};
    case kErrSecItemNotFound:
      return {"not_found", "errSecItemNotFound: no such key in the keychain"};
    case kErrSecDuplicateItem:
      return {"exists", "errSecDuplicateItem: a key with that label already exists"};
    case kErrSecInteractionNotAllowed:
      return {"unavailable",
              "errSecInteractionNotAllowed: the keychain needs the user (device locked since boot, "
              "or no user session); retry after the user has logged in and unlocked"};
    case kErrSecNotAvailable:
      return {"unavailable",
              "errSecNotAvailable: no keychain is available to this process (no user session, "
              "or an unentitled binary)"};
    case kErrSecInternal:
      return {"unavailable",
              "errSecInternal: the Secure Enclave refused the operation; this is what key "
              "generation from a daemon gives: Secure Enclave work must run in the user's agent "
              "(see docs/macos.md)"};
    case kErrSecInternalComponent:
      return {"failed",
              "errSecInternalComponent: a keychain component failed (often a locked keychain)"};
    case kErrSecParam:
      return {"failed",
              "errSecParam: Security.framework rejected the request; from a root daemon this is "
              "the usual answer to Secure Enclave key generation (see docs/macos.md)"};
    default:
      return {"failed", "unexpected Security.framework error"};
  }
}

}  // namespace

OsStatusError osstatus_error(std::string_view what, int32_t status) {
  const auto explanation = explain(status);
  return OsStatusError{
      .code = std::string(explanation.code),
      .message = fmt::format("{}: {} (OSStatus {})", what, explanation.text, status),
  };
}

}  // namespace liaison::platform::macos
