// What a tpm2-tss response code means for the TPM provider: whether to retry, flush, reconnect or
// give up, and the KeyError a person reads when it gives up.
#pragma once

#include <tss2_common.h>

#include <expected>
#include <string>
#include <string_view>

#include "keys/unexportable_key.h"

namespace liaison::keys::tpm {

// A failed tpm2-tss call: which call, and the code it returned (TPM, ESAPI or TCTI layer).
struct TpmFailure {
  std::string call;  // "Esys_Sign"
  TSS2_RC rc = TSS2_RC_SUCCESS;
};

template <typename T>
using TpmResult = std::expected<T, TpmFailure>;

enum class TpmFailureKind {
  kRetrySoon,  // TPM2_RC_RETRY, _YIELDED, _TESTING: the TPM asks for the same command again.
  kOutOfObjectMemory,  // TPM2_RC_OBJECT_MEMORY (0x902): flush a loaded object, then try again.
  kStaleHandle,        // An object we hold is gone from the TPM (TPM reset, simulator restart).
  kNotStarted,         // TPM2_RC_INITIALIZE: reset, and nobody sent TPM2_Startup since.
  kConnectionLost,     // The TCTI failed: the TPM or simulator stopped answering.
  kLockout,            // TPM2_RC_LOCKOUT: dictionary-attack lockout.
  kNotAuthorized,      // Wrong or unavailable authorization, or a disabled hierarchy.
  kOther,
};

// The TPM's own response code without the handle, parameter or session number that format-one
// codes carry, for comparing with TPM2_RC_* constants. Codes from the ESAPI and TCTI layers come
// back whole, so they never compare equal to a TPM code.
TSS2_RC tpm_base_rc(TSS2_RC rc);

TpmFailureKind classify(TSS2_RC rc);

// The error a caller sees when the provider gives up on `failure`: a stable code (DESIGN.md) and a
// message naming the TPM (`tcti`), the call, the response code and, where there is one, the fix.
// Dictionary-attack lockout is `unavailable`, like a missing TPM: the caller did nothing wrong and
// has nothing to fix; the TPM refuses for a while (or until an administrator clears it).
KeyError to_key_error(const TpmFailure& failure, std::string_view tcti);

// Why Tss2_TctiLdr_Initialize(`tcti`) failed with `rc`: an unknown TCTI module, a bad
// configuration string, a missing device, permission denied on it, or nothing listening. May
// open(2) the device named in `tcti` to tell those apart.
KeyError tcti_load_error(std::string_view tcti, TSS2_RC rc);

// The error for a TPM character device that open(2) refused with `error_number`.
KeyError device_open_error(std::string_view path, int error_number);

}  // namespace liaison::keys::tpm
