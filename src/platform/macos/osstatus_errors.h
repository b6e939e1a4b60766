// Security.framework OSStatus values the Secure Enclave provider meets, as liaison error codes
// (DESIGN.md: not_found, exists, unavailable, not_permitted, failed, invalid_params) and messages
// a person can act on. Plain integers here so Linux tests cover the table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace liaison::platform::macos {

inline constexpr int32_t kErrSecMissingEntitlement = -34018;
inline constexpr int32_t kErrSecItemNotFound = -25300;
inline constexpr int32_t kErrSecDuplicateItem = -25299;
inline constexpr int32_t kErrSecInteractionNotAllowed = -25308;
inline constexpr int32_t kErrSecNotAvailable = -25291;
inline constexpr int32_t kErrSecInternal = -26276;
inline constexpr int32_t kErrSecInternalComponent = -2070;
inline constexpr int32_t kErrSecParam = -50;

struct OsStatusError {
  std::string code;     // liaison error code
  std::string message;  // "<what>: <explanation> (OSStatus N)"
};

// `what` names the operation ("creating a Secure Enclave key").
OsStatusError osstatus_error(std::string_view what, int32_t status);

}  // namespace liaison::platform::macos
