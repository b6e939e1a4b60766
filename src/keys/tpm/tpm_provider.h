// The `tpm` key provider: ECDSA P-256 keys made by a TPM 2.0 through tpm2-tss (ESAPI, TCTI
// loader). The private key never leaves the TPM in the clear: the wrapped form is the TPM's own
// blob, encrypted under a storage root key that only this TPM can derive.
//
// Single-threaded, like the event loop that owns it: a provider and the keys it made share one
// TPM connection and must be used from one thread. Calls block for their TPM round trips. A TPM
// that vanishes makes calls fail with `unavailable` until it is back; the next call after that
// reconnects by itself. A TPM that accepts a command and never answers blocks the caller: the
// swtpm TCTI of tpm2-tss 3.2.1 ignores ESAPI's timeout (the kernel driver behind /dev/tpmrm0 has
// its own command timeouts).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "keys/unexportable_key.h"

namespace liaison::keys::tpm {

class TpmConnection;

// What `liaison doctor` shows about the TPM.
struct TpmDescription {
  std::string tcti;
  // TPM2_PT_MANUFACTURER as 4 ASCII characters, padding dropped: "IFX", "INTC", "MSFT", "STM",
  // "IBM" for swtpm (libtpms).
  std::string manufacturer;
  std::string vendor;            // TPM2_PT_VENDOR_STRING_1..4, e.g. "SLB9670", "SW   TPM"
  std::string firmware_version;  // the 16-bit halves of FIRMWARE_VERSION_1 and _2: "7.85.0.4"
  uint32_t firmware_version_1 = 0;
  uint32_t firmware_version_2 = 0;
  bool in_lockout = false;                 // TPMA_PERMANENT inLockout
  uint32_t failed_authorizations = 0;      // TPM2_PT_LOCKOUT_COUNTER
  uint32_t max_failed_authorizations = 0;  // TPM2_PT_MAX_AUTH_FAIL
};

class TpmProvider final : public UnexportableKeyProvider {
  struct OpenToken {
    explicit OpenToken() = default;
  };

 public:
  using Clock = std::chrono::steady_clock;
  // How long a loaded key stays in the TPM without being used, by default.
  static constexpr std::chrono::seconds kIdleFlushAfter{30};

  // Connects to the TPM through the TCTI loader: `tcti` is the `[keys] tpm_tcti` setting
  // ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"; empty for the loader's own search).
  // `context` is where the router must send this provider's operations: the daemon by default, the
  // user's session when the config places the TPM there. Errors: `unavailable` for no TPM device, a
  // wrong TCTI string or a TPM that does not answer; `not_permitted` for permission denied on the
  // device (root:tss 0660). One TPM round trip.
  static KeyResult<std::unique_ptr<TpmProvider>> open(const std::string& tcti,
                                                      KeyContext context = KeyContext::kDaemon);

  TpmProvider(OpenToken, std::shared_ptr<TpmConnection> connection, KeyContext context);
  ~TpmProvider() override;

  std::string name() const override { return "tpm"; }
  KeyContext context() const override { return context_; }
  bool hardware_backed() const override { return true; }

  // TPM2_Create under the storage root key (TPM2_CreatePrimary first, when it is not loaded):
  // ~2-4 ms on swtpm, up to a second on a slow discrete TPM.
  KeyResult<std::unique_ptr<UnexportableSigningKey>> generate() override;

  // Parses the wrapped form and loads the key (TPM2_Load, unless it is loaded already), so a key
  // from another TPM, or from before the TPM was cleared, fails here rather than at signing.
  KeyResult<std::unique_ptr<UnexportableSigningKey>> from_wrapped(
      std::span<const uint8_t> wrapped) override;

  // A TPM key is nothing but its wrapped form: this only flushes it from the TPM if it is loaded.
  // Never fails, even for a wrapped form that does not parse: deleting a damaged key must work.
  KeyResult<void> erase(std::span<const uint8_t> wrapped) override;

  // Manufacturer, firmware and lockout state (two TPM2_GetCapability round trips).
  KeyResult<TpmDescription> describe_tpm();

  // describe_tpm() for `liaison doctor`, with a lockout as the problem to fix.
  KeyResult<ProviderDescription> describe() override;

  // For the daemon's timer: flushes loaded keys unused for `idle_after`, and the storage root key
  // when nothing else is loaded, giving the TPM its object slots back. Returns the objects flushed.
  // The next signature reloads what it needs (~1 ms on swtpm, tens of ms on a discrete TPM).
  std::size_t flush_idle(Clock::time_point now = Clock::now(),
                         Clock::duration idle_after = kIdleFlushAfter);

  // Signing keys loaded in the TPM right now.
  std::size_t loaded_key_count() const;

  const std::string& tcti() const;

  // The provider's TPM connection, for what else the same process does with that TPM
  // (attestation): one connection per TPM per process.
  const std::shared_ptr<TpmConnection>& connection() const { return connection_; }

 private:
  std::shared_ptr<TpmConnection> connection_;  // shared with the keys this provider made
  KeyContext context_;
};

}  // namespace liaison::keys::tpm
