// One connection to a TPM through tpm2-tss: the TCTI and ESAPI context, the storage root key kept
// loaded while in use, and the signing keys used lately kept loaded between signatures. It retries
// what the TPM asks to retry, flushes the least recently used key when the TPM runs out of object
// slots, recreates what a TPM reset lost, and reconnects after the transport failed.
//
// Single-threaded: one caller at a time (the daemon's event loop, or the agent's). Every call may
// block for the TPM's round trips: ~1 ms each on swtpm, tens of milliseconds on a discrete TPM.
#pragma once

#include <tss2_esys.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "keys/tpm/esys_handles.h"
#include "keys/tpm/tpm_error.h"
#include "keys/tpm/tpm_key_format.h"
#include "keys/unexportable_key.h"

namespace liaison::keys::tpm {

class TpmConnection {
  // Only open() makes connections (it connects them first); make_unique needs a public constructor.
  struct OpenToken {
    explicit OpenToken() = default;
  };

 public:
  using Clock = std::chrono::steady_clock;

  // Loads the TCTI for `tcti` ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"), makes an
  // ESAPI context and asks the TPM one question (one round trip), so that a missing TPM, a wrong
  // TCTI string or a TPM that does not answer fails here, with an error that says which.
  static KeyResult<std::unique_ptr<TpmConnection>> open(std::string tcti);

  TpmConnection(OpenToken, std::string tcti) : tcti_(std::move(tcti)) {}
  TpmConnection(const TpmConnection&) = delete;
  TpmConnection& operator=(const TpmConnection&) = delete;
  ~TpmConnection();

  const std::string& tcti() const { return tcti_; }

  // TPM2_Create of a signing key under the storage root key (created first when needed).
  KeyResult<TpmKeyBlob> create_signing_key();

  // TPM2_Create of a key from `key_template` under the storage root key (the attestation key).
  KeyResult<TpmKeyBlob> create_key(const TPM2B_PUBLIC& key_template);

  // Makes sure the key stored as `wrapped` (parsed: `blob`) is loaded: TPM2_Load unless it is
  // already. Loading proves the key belongs to this TPM. The handle is good until the next call.
  KeyResult<ESYS_TR> load_key(const Bytes& wrapped, const TpmKeyBlob& blob);

  // TPM2_Sign of `digest` with ECDSA/SHA-256, loading the key first when needed.
  KeyResult<TPMT_SIGNATURE> sign(const Bytes& wrapped, const TpmKeyBlob& blob,
                                 const TPM2B_DIGEST& digest);

  // Flushes the key stored as `wrapped` if it is loaded; nothing otherwise.
  void flush_key(const Bytes& wrapped);

  // flush_key, and the storage root key too when no key is left loaded: what a rare user of a
  // key (attestation) does after its command, so a TPM without a resource manager (swtpm: three
  // object slots for every process) has its slots back at once, not after the idle time.
  void release_key(const Bytes& wrapped);

  // Flushes the keys unused since `now - idle_after`, and the storage root key too once no key is
  // loaded and it has been idle as long. Returns how many objects it flushed.
  std::size_t flush_idle(Clock::time_point now, Clock::duration idle_after);

  std::size_t loaded_key_count() const { return loaded_keys_.size(); }

  // The public area of the primary key `key_template` makes in `hierarchy` (ESYS_TR_RH_ENDORSEMENT,
  // ...; authorized by its empty auth value): TPM2_CreatePrimary, then TPM2_FlushContext. A primary
  // is the same key every time until the hierarchy's seed changes.
  KeyResult<TPM2B_PUBLIC> primary_public(ESYS_TR hierarchy, const TPM2B_PUBLIC& key_template);

  // TPM2_ActivateCredential: recovers the secret an attestation CA encrypted to the EK made from
  // `ek_template` (in the endorsement hierarchy; its authPolicy must be PolicySecret(TPM_RH_
  // ENDORSEMENT), which a policy session satisfies with the hierarchy's empty auth) for the key
  // stored as `wrapped` (parsed: `blob`, the AK). Creates the EK and flushes it after: a few ms
  // for ECC, an RSA key up to seconds on a discrete TPM. A credential for another key or another
  // TPM fails with the TPM's integrity or value error.
  KeyResult<Bytes> activate_credential(const Bytes& wrapped, const TpmKeyBlob& blob,
                                       const TPM2B_PUBLIC& ek_template,
                                       const TPM2B_ID_OBJECT& credential,
                                       const TPM2B_ENCRYPTED_SECRET& secret);

  // TPM2_Certify of the key stored as `wrapped` (parsed: `blob`) by the restricted signing key
  // stored as `signer_wrapped` (`signer`, the AK), ECDSA/SHA-256, with `qualifying_data` (at most
  // 64 bytes) as the attestation's extraData. Loads both keys as needed. Returns the TPMS_ATTEST
  // the TPM made (marshalled) and its signature over it.
  struct Certified {
    Bytes attest;
    TPMT_SIGNATURE signature{};
  };
  KeyResult<Certified> certify(const Bytes& wrapped, const TpmKeyBlob& blob,
                               const Bytes& signer_wrapped, const TpmKeyBlob& signer,
                               std::span<const uint8_t> qualifying_data);

  // TPM2_GetCapability(TPM_PROPERTIES) from `first`, up to `count` properties (one round trip).
  KeyResult<std::vector<TPMS_TAGGED_PROPERTY>> tpm_properties(TPM2_PT first, uint32_t count);

  // The NV indices the TPM defines in [first, first + count): TPM2_GetCapability(HANDLES), one
  // round trip.
  KeyResult<std::vector<TPM2_HANDLE>> nv_indices(TPM2_HANDLE first, uint32_t count);

  // The whole contents of NV index `index`, authorized by the index itself with its empty auth
  // value (as EK certificate indices are read): TPM2_NV_ReadPublic for its size, then
  // TPM2_NV_Read in pieces of at most TPM_PT_NV_BUFFER_MAX bytes (or `max_piece`, when smaller
  // and not 0: for tests). Round trips: 3 + size / piece, one more on the first call (the
  // piece size). An index the TPM does not define is `not_found`.
  KeyResult<Bytes> read_nv(TPM2_HANDLE index, uint16_t max_piece = 0);

 private:
  struct LoadedKey {
    TransientObject object;
    Clock::time_point last_used;
  };
  // Whether a command that finds the TPM's object slots full may flush a loaded key to make room.
  enum class OnObjectMemoryFull { kFail, kEvictLeastRecentlyUsed };

  KeyResult<void> connect();
  void disconnect();
  // Drops our records of every transient object after the TPM lost them, sending nothing.
  void forget_transient_objects();

  template <typename Operation>
  auto with_recovery(Operation&& operation)
      -> KeyResult<typename std::invoke_result_t<Operation&>::value_type>;
  template <typename Command>
  TpmResult<void> run(const char* call, OnObjectMemoryFull on_full, Command&& command);

  // TPM2_GetCapability of `kind` from `first`, up to `count` entries: one round trip.
  TpmResult<EsysPtr<TPMS_CAPABILITY_DATA>> capability(TPM2_CAP kind, uint32_t first,
                                                      uint32_t count);
  // TPM2_CreatePrimary of `key_template` in `hierarchy`, authorized by its empty auth value; the
  // object is flushed when the result goes. Its public area is copied to `public_area` if given.
  TpmResult<TransientObject> create_primary(ESYS_TR hierarchy, const TPM2B_PUBLIC& key_template,
                                            TPM2B_PUBLIC* public_area = nullptr);
  bool evict_least_recently_used_key();
  TpmResult<ESYS_TR> storage_root_key();
  TpmResult<ESYS_TR> loaded_key(const Bytes& wrapped, const TpmKeyBlob& blob);

  std::string tcti_;
  // Declared in the order they depend on each other: destroyed keys first, the TCTI last.
  TctiPtr tcti_context_;
  EsysContextPtr esys_;
  TransientObject storage_root_key_;
  Clock::time_point storage_root_key_last_used_;
  std::map<Bytes, LoadedKey> loaded_keys_;  // by wrapped form
  uint32_t nv_read_piece_ = 0;              // TPM_PT_NV_BUFFER_MAX, once read_nv asked for it
};

}  // namespace liaison::keys::tpm
