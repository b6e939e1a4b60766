#include "keys/tpm/tpm_error.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <tss2_rc.h>
#include <tss2_tpm2_types.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/unique_fd.h"

namespace liaison::keys::tpm {
namespace {

bool is_tpm_layer(TSS2_RC rc) {
  TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  // A resource manager (tabrmd) answers some commands on the TPM's behalf, in its own layer.
  return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;
}

bool is_broken_transport(TSS2_RC rc) {
  if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
    return true;
  }
  // After a failed round trip ESAPI refuses every later call with BAD_SEQUENCE: only a new context
  // helps, which is what reconnecting makes.
  return rc == TSS2_ESYS_RC_BAD_SEQUENCE || rc == TSS2_ESYS_RC_MALFORMED_RESPONSE ||
         rc == TSS2_ESYS_RC_INSUFFICIENT_RESPONSE || rc == TSS2_SYS_RC_MALFORMED_RESPONSE ||
         rc == TSS2_SYS_RC_INSUFFICIENT_RESPONSE;
}

std::string describe_rc(const TpmFailure& failure) {
  return fmt::format("{}: {} (0x{:x})", failure.call, Tss2_RC_Decode(failure.rc), failure.rc);
}

// "device:/dev/tpmrm0" -> {"device", "/dev/tpmrm0"}.
std::pair<std::string_view, std::string_view> split_tcti(std::string_view tcti) {
  std::size_t colon = tcti.find(':');
  if (colon == std::string_view::npos) {
    return {tcti, {}};
  }
  return {tcti.substr(0, colon), tcti.substr(colon + 1)};
}

// Opens the device the device TCTI could not, only to learn errno. Costs one open and close.
KeyError device_tcti_error(std::string_view tcti, std::string_view path, TSS2_RC rc) {
  std::string path_string(path.empty() ? "/dev/tpm0" : path);
  UniqueFd fd(::open(path_string.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    return device_open_error(path_string, errno);
  }
  return KeyError{"unavailable",
                  fmt::format("the TPM device {} (tpm_tcti \"{}\") did not answer: {}", path_string,
                              tcti, Tss2_RC_Decode(rc))};
}

}  // namespace

TSS2_RC tpm_base_rc(TSS2_RC rc) {
  if (!is_tpm_layer(rc)) {
    return rc;
  }
  TSS2_RC code = rc & ~TSS2_RC_LAYER_MASK;
  if (code & TPM2_RC_FMT1) {
    return code & (TPM2_RC_FMT1 | 0x3F);
  }
  return code;
}

TpmFailureKind classify(TSS2_RC rc) {
  if (is_broken_transport(rc)) {
    return TpmFailureKind::kConnectionLost;
  }
  if (!is_tpm_layer(rc)) {
    return TpmFailureKind::kOther;
  }
  TSS2_RC base = tpm_base_rc(rc);
  switch (base) {
    case TPM2_RC_RETRY:
    case TPM2_RC_YIELDED:
    case TPM2_RC_TESTING:
      return TpmFailureKind::kRetrySoon;
    case TPM2_RC_OBJECT_MEMORY:
      return TpmFailureKind::kOutOfObjectMemory;
    case TPM2_RC_HANDLE:
      return TpmFailureKind::kStaleHandle;
    case TPM2_RC_INITIALIZE:
      return TpmFailureKind::kNotStarted;
    case TPM2_RC_LOCKOUT:
      return TpmFailureKind::kLockout;
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
    case TPM2_RC_AUTH_UNAVAILABLE:
    case TPM2_RC_HIERARCHY:
      return TpmFailureKind::kNotAuthorized;
    default:
      break;
  }
  if (base >= TPM2_RC_REFERENCE_H0 && base <= TPM2_RC_REFERENCE_H6) {
    return TpmFailureKind::kStaleHandle;
  }
  return TpmFailureKind::kOther;
}

KeyError to_key_error(const TpmFailure& failure, std::string_view tcti) {
  std::string what = describe_rc(failure);
  switch (classify(failure.rc)) {
    case TpmFailureKind::kConnectionLost:
      return KeyError{"unavailable",
                      fmt::format("the TPM at \"{}\" stopped answering ({})", tcti, what)};
    case TpmFailureKind::kLockout:
      return KeyError{
          "unavailable",
          fmt::format("the TPM is in dictionary-attack lockout after too many failed "
                      "authorizations and refuses this key until its lockout recovery time has "
                      "passed, or an administrator runs `tpm2_dictionarylockout --clear-lockout` "
                      "({})",
                      what)};
    case TpmFailureKind::kOutOfObjectMemory:
      return KeyError{"unavailable",
                      fmt::format("the TPM has no free object slots: other programs hold them "
                                  "(use the kernel resource manager, device:/dev/tpmrm0) ({})",
                                  what)};
    case TpmFailureKind::kRetrySoon:
      return KeyError{"unavailable", fmt::format("the TPM stayed busy, try again ({})", what)};
    case TpmFailureKind::kStaleHandle:
    case TpmFailureKind::kNotStarted:
      return KeyError{"unavailable",
                      fmt::format("the TPM was reset while in use, try again ({})", what)};
    case TpmFailureKind::kNotAuthorized:
      return KeyError{"not_permitted",
                      fmt::format("the TPM refused authorization: liaison needs the owner "
                                  "hierarchy enabled with an empty owner password ({})",
                                  what)};
    case TpmFailureKind::kOther:
      break;
  }
  if (tpm_base_rc(failure.rc) == TPM2_RC_INTEGRITY) {
    return KeyError{"failed",
                    fmt::format("the key was made by another TPM, or this TPM was cleared since: "
                                "it cannot be loaded here ({})",
                                what)};
  }
  return KeyError{"failed", fmt::format("the TPM refused {}", what)};
}

KeyError tcti_load_error(std::string_view tcti, TSS2_RC rc) {
  auto [name, configuration] = split_tcti(tcti);
  TSS2_RC base = rc & ~TSS2_RC_LAYER_MASK;
  if (tcti.empty()) {
    return KeyError{"unavailable", fmt::format("no TPM found by the TCTI loader's default search "
                                               "(tabrmd, /dev/tpmrm0, /dev/tpm0, ...): {}",
                                               Tss2_RC_Decode(rc))};
  }
  if (base == TSS2_BASE_RC_NOT_SUPPORTED || base == TSS2_BASE_RC_NOT_IMPLEMENTED) {
    return KeyError{
        "unavailable",
        fmt::format("unknown TCTI \"{}\" in tpm_tcti \"{}\": no libtss2-tcti-{}.so "
                    "(expected e.g. device:/dev/tpmrm0 or swtpm:host=127.0.0.1,port=2321)",
                    name, tcti, name)};
  }
  if (base == TSS2_BASE_RC_BAD_VALUE) {
    return KeyError{"unavailable",
                    fmt::format("bad TCTI configuration \"{}\" in tpm_tcti \"{}\": {}",
                                configuration, tcti, Tss2_RC_Decode(rc))};
  }
  if (name == "device") {
    return device_tcti_error(tcti, configuration, rc);
  }
  return KeyError{"unavailable",
                  fmt::format("no TPM answering through tpm_tcti \"{}\" (is the TPM simulator "
                              "running there?): {}",
                              tcti, Tss2_RC_Decode(rc))};
}

KeyError device_open_error(std::string_view path, int error_number) {
  std::string reason = std::generic_category().message(error_number);
  switch (error_number) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return KeyError{"unavailable",
                      fmt::format("no TPM device at {} (no TPM 2.0 in this machine, or its "
                                  "driver is not loaded): {}",
                                  path, reason)};
    case EACCES:
    case EPERM:
      return KeyError{"not_permitted",
                      fmt::format("permission denied on the TPM device {} (owned root:tss, mode "
                                  "0660): run the TPM provider in the daemon (tpm_context = "
                                  "\"daemon\") or add this user to the tss group",
                                  path)};
    case EBUSY:
      return KeyError{"unavailable",
                      fmt::format("the TPM device {} is busy: another program holds it open "
                                  "(use the resource manager, device:/dev/tpmrm0)",
                                  path)};
    default:
      return KeyError{"unavailable",
                      fmt::format("cannot open the TPM device {}: {}", path, reason)};
  }
}

}  // namespace liaison::keys::tpm
