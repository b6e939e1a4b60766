#include "keys/tpm/tpm_connection.h"

#include <fmt/format.h>
#include <tss2_rc.h>

#include <algorithm>
#include <thread>

#include "common/log.h"

namespace liaison::keys::tpm {
namespace {

// TPM2_RC_RETRY / _YIELDED / _TESTING: ESAPI (3.2.1) resubmits the command itself, at once, up to
// five submissions; when it gives up, the command is sent again after 5, 10, 20, 40, 80 ms. At
// most ~155 ms of sleeping, blocking the caller's event loop: fine for a TPM busy self-testing.
constexpr int kMaxRetries = 5;
constexpr std::chrono::milliseconds kFirstBackoff{5};

TSS2_RC probe(ESYS_CONTEXT* esys) {
  TPMS_CAPABILITY_DATA* raw = nullptr;
  TSS2_RC rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 1, nullptr, &raw);
  EsysPtr<TPMS_CAPABILITY_DATA> capability(raw);
  return rc;
}

// The first command to a freshly reset TPM (a simulator started without startup-clear) is refused
// with TPM2_RC_INITIALIZE until someone sends TPM2_Startup. Real TPMs are started by firmware.
TSS2_RC probe_starting_if_needed(ESYS_CONTEXT* esys) {
  TSS2_RC rc = probe(esys);
  if (classify(rc) != TpmFailureKind::kNotStarted) {
    return rc;
  }
  log::info("TPM was not started: sending TPM2_Startup(CLEAR)");
  if (TSS2_RC started = Esys_Startup(esys, TPM2_SU_CLEAR); started != TSS2_RC_SUCCESS) {
    return started;
  }
  return probe(esys);
}

}  // namespace

KeyResult<std::unique_ptr<TpmConnection>> TpmConnection::open(std::string tcti) {
  auto connection = std::make_unique<TpmConnection>(OpenToken{}, std::move(tcti));
  if (auto connected = connection->connect(); !connected) {
    return std::unexpected(connected.error());
  }
  return connection;
}

TpmConnection::~TpmConnection() {
  // Flushes every key and the storage root key (one round trip each) so a TPM without a resource
  // manager gets its slots back; members then finalize ESAPI and the TCTI in order.
  loaded_keys_.clear();
  storage_root_key_.flush();
}

KeyResult<void> TpmConnection::connect() {
  TSS2_TCTI_CONTEXT* raw_tcti = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti_.empty() ? nullptr : tcti_.c_str(), &raw_tcti);
  if (rc != TSS2_RC_SUCCESS) {
    return std::unexpected(tcti_load_error(tcti_, rc));
  }
  TctiPtr tcti_context(raw_tcti);

  ESYS_CONTEXT* raw_esys = nullptr;
  rc = Esys_Initialize(&raw_esys, tcti_context.get(), nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    return std::unexpected(to_key_error(TpmFailure{"Esys_Initialize", rc}, tcti_));
  }
  EsysContextPtr esys(raw_esys);

  rc = probe_starting_if_needed(esys.get());
  if (rc != TSS2_RC_SUCCESS) {
    if (classify(rc) == TpmFailureKind::kConnectionLost) {
      return std::unexpected(
          KeyError{"unavailable", fmt::format("no answer from the TPM at \"{}\": {} (0x{:x})",
                                              tcti_, Tss2_RC_Decode(rc), rc)});
    }
    return std::unexpected(to_key_error(TpmFailure{"Esys_GetCapability", rc}, tcti_));
  }
  esys_ = std::move(esys);
  tcti_context_ = std::move(tcti_context);
  return {};
}

void TpmConnection::disconnect() {
  forget_transient_objects();
  esys_.reset();
  tcti_context_.reset();
}

void TpmConnection::forget_transient_objects() {
  for (auto& [wrapped, key] : loaded_keys_) {
    key.object.forget();
  }
  loaded_keys_.clear();
  storage_root_key_.forget();
}

// Runs `operation` (which may send several commands) and, when it failed because the TPM was reset
// or the transport broke, recovers (forgets the lost objects, or reconnects) and runs it once more.
template <typename Operation>
auto TpmConnection::with_recovery(Operation&& operation)
    -> KeyResult<typename std::invoke_result_t<Operation&>::value_type> {
  if (!esys_) {
    // The last attempt to reconnect failed: try again now, the TPM may be back.
    if (auto connected = connect(); !connected) {
      return std::unexpected(connected.error());
    }
  }
  auto result = operation();
  if (result) {
    return *std::move(result);
  }

  const TpmFailure& failure = result.error();
  switch (classify(failure.rc)) {
    case TpmFailureKind::kConnectionLost: {
      log::warning(fmt::format("TPM at \"{}\" stopped answering ({}): reconnecting", tcti_,
                               Tss2_RC_Decode(failure.rc)));
      disconnect();
      if (auto connected = connect(); !connected) {
        KeyError lost = to_key_error(failure, tcti_);
        lost.message += fmt::format("; reconnecting failed: {}", connected.error().message);
        return std::unexpected(std::move(lost));
      }
      break;
    }
    case TpmFailureKind::kStaleHandle:
      log::info(fmt::format("TPM at \"{}\" lost our objects (reset?): loading them again", tcti_));
      forget_transient_objects();
      break;
    case TpmFailureKind::kNotStarted:
      log::info(fmt::format("TPM at \"{}\" was reset: starting it", tcti_));
      forget_transient_objects();
      if (TSS2_RC rc = Esys_Startup(esys_.get(), TPM2_SU_CLEAR); rc != TSS2_RC_SUCCESS) {
        return std::unexpected(to_key_error(TpmFailure{"Esys_Startup", rc}, tcti_));
      }
      break;
    default:
      return std::unexpected(to_key_error(failure, tcti_));
  }

  result = operation();
  if (!result) {
    return std::unexpected(to_key_error(result.error(), tcti_));
  }
  return *std::move(result);
}

template <typename Command>
TpmResult<void> TpmConnection::run(const char* call, OnObjectMemoryFull on_full,
                                   Command&& command) {
  int retries = 0;
  for (;;) {
    TSS2_RC rc = command();
    if (rc == TSS2_RC_SUCCESS) {
      return {};
    }
    TpmFailureKind kind = classify(rc);
    if (kind == TpmFailureKind::kRetrySoon && retries < kMaxRetries) {
      std::this_thread::sleep_for(kFirstBackoff * (1 << retries++));
      continue;
    }
    if (kind == TpmFailureKind::kOutOfObjectMemory &&
        on_full == OnObjectMemoryFull::kEvictLeastRecentlyUsed && evict_least_recently_used_key()) {
      continue;
    }
    return std::unexpected(TpmFailure{call, rc});
  }
}

bool TpmConnection::evict_least_recently_used_key() {
  auto oldest = std::min_element(
      loaded_keys_.begin(), loaded_keys_.end(),
      [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
  if (oldest == loaded_keys_.end()) {
    return false;
  }
  log::debug("TPM object slots full: flushing the least recently used key");
  loaded_keys_.erase(oldest);  // TransientObject's destructor flushes it
  return true;
}

TpmResult<ESYS_TR> TpmConnection::storage_root_key() {
  storage_root_key_last_used_ = Clock::now();
  if (storage_root_key_.loaded()) {
    return storage_root_key_.get();
  }

  // ~2 ms on swtpm; a discrete TPM derives an ECC primary in tens of milliseconds.
  auto created = create_primary(ESYS_TR_RH_OWNER, storage_root_key_template());
  if (!created) {
    return std::unexpected(created.error());
  }
  storage_root_key_ = std::move(*created);
  return storage_root_key_.get();
}

TpmResult<TransientObject> TpmConnection::create_primary(ESYS_TR hierarchy,
                                                         const TPM2B_PUBLIC& key_template,
                                                         TPM2B_PUBLIC* public_area) {
  TPM2B_SENSITIVE_CREATE sensitive{};  // empty auth, no data
  TPM2B_DATA outside_info{};
  TPML_PCR_SELECTION creation_pcrs{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* raw_public = nullptr;
  auto created = run("Esys_CreatePrimary", OnObjectMemoryFull::kEvictLeastRecentlyUsed, [&] {
    return Esys_CreatePrimary(esys_.get(), hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                              &sensitive, &key_template, &outside_info, &creation_pcrs, &handle,
                              public_area != nullptr ? &raw_public : nullptr, nullptr, nullptr,
                              nullptr);
  });
  EsysPtr<TPM2B_PUBLIC> returned_public(raw_public);
  if (!created) {
    return std::unexpected(created.error());
  }
  if (public_area != nullptr) {
    *public_area = *returned_public;
  }
  return TransientObject(esys_.get(), handle);
}

TpmResult<ESYS_TR> TpmConnection::loaded_key(const Bytes& wrapped, const TpmKeyBlob& blob) {
  if (auto found = loaded_keys_.find(wrapped); found != loaded_keys_.end()) {
    found->second.last_used = Clock::now();
    return found->second.object.get();
  }
  auto parent = storage_root_key();
  if (!parent) {
    return std::unexpected(parent.error());
  }
  ESYS_TR handle = ESYS_TR_NONE;
  auto loaded = run("Esys_Load", OnObjectMemoryFull::kEvictLeastRecentlyUsed, [&] {
    return Esys_Load(esys_.get(), *parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                     &blob.private_area, &blob.public_area, &handle);
  });
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  loaded_keys_.emplace(wrapped, LoadedKey{TransientObject(esys_.get(), handle), Clock::now()});
  return handle;
}

KeyResult<TpmKeyBlob> TpmConnection::create_signing_key() {
  return create_key(signing_key_template());
}

KeyResult<TpmKeyBlob> TpmConnection::create_key(const TPM2B_PUBLIC& key_template) {
  return with_recovery([&]() -> TpmResult<TpmKeyBlob> {
    auto parent = storage_root_key();
    if (!parent) {
      return std::unexpected(parent.error());
    }
    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_DATA outside_info{};
    TPML_PCR_SELECTION creation_pcrs{};
    TPM2B_PRIVATE* raw_private = nullptr;
    TPM2B_PUBLIC* raw_public = nullptr;
    // TPM2_Create needs a free object slot for the key it makes, hence the eviction.
    auto created = run("Esys_Create", OnObjectMemoryFull::kEvictLeastRecentlyUsed, [&] {
      return Esys_Create(esys_.get(), *parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                         &sensitive, &key_template, &outside_info, &creation_pcrs, &raw_private,
                         &raw_public, nullptr, nullptr, nullptr);
    });
    EsysPtr<TPM2B_PRIVATE> private_area(raw_private);
    EsysPtr<TPM2B_PUBLIC> public_area(raw_public);
    if (!created) {
      return std::unexpected(created.error());
    }
    return TpmKeyBlob{*public_area, *private_area};
  });
}

KeyResult<ESYS_TR> TpmConnection::load_key(const Bytes& wrapped, const TpmKeyBlob& blob) {
  return with_recovery([&] { return loaded_key(wrapped, blob); });
}

KeyResult<TPMT_SIGNATURE> TpmConnection::sign(const Bytes& wrapped, const TpmKeyBlob& blob,
                                              const TPM2B_DIGEST& digest) {
  return with_recovery([&]() -> TpmResult<TPMT_SIGNATURE> {
    auto key = loaded_key(wrapped, blob);
    if (!key) {
      return std::unexpected(key.error());
    }
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    // A null ticket: the key is not restricted, so the TPM need not have hashed the data itself.
    TPMT_TK_HASHCHECK no_ticket{};
    no_ticket.tag = TPM2_ST_HASHCHECK;
    no_ticket.hierarchy = TPM2_RH_NULL;
    TPMT_SIGNATURE* raw_signature = nullptr;
    // Signing needs no object slot: never flush a key here (it could be the one signing).
    auto signed_ok = run("Esys_Sign", OnObjectMemoryFull::kFail, [&] {
      return Esys_Sign(esys_.get(), *key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                       &scheme, &no_ticket, &raw_signature);
    });
    EsysPtr<TPMT_SIGNATURE> signature(raw_signature);
    if (!signed_ok) {
      return std::unexpected(signed_ok.error());
    }
    return *signature;
  });
}

KeyResult<TPM2B_PUBLIC> TpmConnection::primary_public(ESYS_TR hierarchy,
                                                      const TPM2B_PUBLIC& key_template) {
  return with_recovery([&]() -> TpmResult<TPM2B_PUBLIC> {
    TPM2B_PUBLIC public_area{};
    auto primary = create_primary(hierarchy, key_template, &public_area);  // flushed on leaving
    if (!primary) {
      return std::unexpected(primary.error());
    }
    return public_area;
  });
}

KeyResult<Bytes> TpmConnection::activate_credential(const Bytes& wrapped, const TpmKeyBlob& blob,
                                                    const TPM2B_PUBLIC& ek_template,
                                                    const TPM2B_ID_OBJECT& credential,
                                                    const TPM2B_ENCRYPTED_SECRET& secret) {
  return with_recovery([&]() -> TpmResult<Bytes> {
    auto key = loaded_key(wrapped, blob);
    if (!key) {
      return std::unexpected(key.error());
    }
    auto ek = create_primary(ESYS_TR_RH_ENDORSEMENT, ek_template);  // flushed on leaving
    if (!ek) {
      return std::unexpected(ek.error());
    }
    // The EK's policy, PolicySecret(TPM_RH_ENDORSEMENT), in a session of its own.
    TPMT_SYM_DEF no_symmetric{.algorithm = TPM2_ALG_NULL};
    ESYS_TR session_handle = ESYS_TR_NONE;
    auto started = run("Esys_StartAuthSession", OnObjectMemoryFull::kFail, [&] {
      return Esys_StartAuthSession(esys_.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_POLICY,
                                   &no_symmetric, TPM2_ALG_SHA256, &session_handle);
    });
    if (!started) {
      return std::unexpected(started.error());
    }
    TransientObject session(esys_.get(), session_handle);  // flushed on leaving, used or not
    auto satisfied = run("Esys_PolicySecret", OnObjectMemoryFull::kFail, [&] {
      TPM2B_TIMEOUT* timeout = nullptr;
      TPMT_TK_AUTH* ticket = nullptr;
      TSS2_RC rc = Esys_PolicySecret(esys_.get(), ESYS_TR_RH_ENDORSEMENT, session_handle,
                                     ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr,
                                     nullptr, 0, &timeout, &ticket);
      Esys_Free(timeout);
      Esys_Free(ticket);
      return rc;
    });
    if (!satisfied) {
      return std::unexpected(satisfied.error());
    }
    TPM2B_DIGEST* raw_secret = nullptr;
    auto activated = run("Esys_ActivateCredential", OnObjectMemoryFull::kFail, [&] {
      return Esys_ActivateCredential(esys_.get(), *key, ek->get(), ESYS_TR_PASSWORD, session_handle,
                                     ESYS_TR_NONE, &credential, &secret, &raw_secret);
    });
    EsysPtr<TPM2B_DIGEST> recovered(raw_secret);
    if (!activated) {
      return std::unexpected(activated.error());
    }
    return Bytes(recovered->buffer, recovered->buffer + recovered->size);
  });
}

KeyResult<TpmConnection::Certified> TpmConnection::certify(
    const Bytes& wrapped, const TpmKeyBlob& blob, const Bytes& signer_wrapped,
    const TpmKeyBlob& signer, std::span<const uint8_t> qualifying_data) {
  TPM2B_DATA extra{};
  if (qualifying_data.size() > sizeof(extra.buffer)) {
    return std::unexpected(KeyError{
        "invalid_params", fmt::format("{} bytes of qualifying data, more than a TPM takes ({})",
                                      qualifying_data.size(), sizeof(extra.buffer))});
  }
  extra.size = static_cast<uint16_t>(qualifying_data.size());
  std::copy(qualifying_data.begin(), qualifying_data.end(), extra.buffer);
  return with_recovery([&]() -> TpmResult<Certified> {
    auto signing = loaded_key(signer_wrapped, signer);
    if (!signing) {
      return std::unexpected(signing.error());
    }
    auto object = loaded_key(wrapped, blob);
    if (!object) {
      return std::unexpected(object.error());
    }
    if (!loaded_keys_.contains(signer_wrapped)) {
      // Loading the key evicted the signer (object slots full): load it again.
      signing = loaded_key(signer_wrapped, signer);
      if (!signing) {
        return std::unexpected(signing.error());
      }
    }
    if (!loaded_keys_.contains(signer_wrapped) || !loaded_keys_.contains(wrapped)) {
      // Each load evicted the other: the TPM has room for one of them beside the storage root.
      return std::unexpected(TpmFailure{"Esys_Load", TPM2_RC_OBJECT_MEMORY});
    }
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    TPM2B_ATTEST* raw_attest = nullptr;
    TPMT_SIGNATURE* raw_signature = nullptr;
    auto certified = run("Esys_Certify", OnObjectMemoryFull::kFail, [&] {
      return Esys_Certify(esys_.get(), *object, *signing, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
                          ESYS_TR_NONE, &extra, &scheme, &raw_attest, &raw_signature);
    });
    EsysPtr<TPM2B_ATTEST> attest(raw_attest);
    EsysPtr<TPMT_SIGNATURE> signature(raw_signature);
    if (!certified) {
      return std::unexpected(certified.error());
    }
    return Certified{
        .attest = Bytes(attest->attestationData, attest->attestationData + attest->size),
        .signature = *signature};
  });
}

void TpmConnection::flush_key(const Bytes& wrapped) { loaded_keys_.erase(wrapped); }

void TpmConnection::release_key(const Bytes& wrapped) {
  loaded_keys_.erase(wrapped);
  if (loaded_keys_.empty()) {
    storage_root_key_.flush();
  }
}

std::size_t TpmConnection::flush_idle(Clock::time_point now, Clock::duration idle_after) {
  std::size_t flushed = std::erase_if(
      loaded_keys_, [&](const auto& entry) { return now - entry.second.last_used >= idle_after; });
  if (loaded_keys_.empty() && storage_root_key_.loaded() &&
      now - storage_root_key_last_used_ >= idle_after) {
    storage_root_key_.flush();
    ++flushed;
  }
  return flushed;
}

TpmResult<EsysPtr<TPMS_CAPABILITY_DATA>> TpmConnection::capability(TPM2_CAP kind, uint32_t first,
                                                                   uint32_t count) {
  TPMS_CAPABILITY_DATA* raw = nullptr;
  auto asked = run("Esys_GetCapability", OnObjectMemoryFull::kFail, [&] {
    return Esys_GetCapability(esys_.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, kind, first,
                              count, nullptr, &raw);
  });
  EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
  if (!asked) {
    return std::unexpected(asked.error());
  }
  return data;
}

KeyResult<std::vector<TPMS_TAGGED_PROPERTY>> TpmConnection::tpm_properties(TPM2_PT first,
                                                                           uint32_t count) {
  return with_recovery([&]() -> TpmResult<std::vector<TPMS_TAGGED_PROPERTY>> {
    auto data = capability(TPM2_CAP_TPM_PROPERTIES, first, count);
    if (!data) {
      return std::unexpected(data.error());
    }
    const TPML_TAGGED_TPM_PROPERTY& list = (*data)->data.tpmProperties;
    return std::vector<TPMS_TAGGED_PROPERTY>(list.tpmProperty, list.tpmProperty + list.count);
  });
}

KeyResult<std::vector<TPM2_HANDLE>> TpmConnection::nv_indices(TPM2_HANDLE first, uint32_t count) {
  return with_recovery([&]() -> TpmResult<std::vector<TPM2_HANDLE>> {
    auto data = capability(TPM2_CAP_HANDLES, first, count);
    if (!data) {
      return std::unexpected(data.error());
    }
    std::vector<TPM2_HANDLE> indices;
    const TPML_HANDLE& list = (*data)->data.handles;
    for (uint32_t i = 0; i < list.count; ++i) {
      if (list.handle[i] < first + count) {
        indices.push_back(list.handle[i]);
      }
    }
    return indices;
  });
}

KeyResult<Bytes> TpmConnection::read_nv(TPM2_HANDLE index, uint16_t max_piece) {
  // Asked first: a missing index answers TPM_RC_HANDLE, which recovery takes for objects a TPM
  // reset lost, and a person should read "not defined", not "reset?".
  auto defined = nv_indices(index, 1);
  if (!defined) {
    return std::unexpected(defined.error());
  }
  if (defined->empty()) {
    return std::unexpected(KeyError{
        "not_found", fmt::format("the TPM at \"{}\" has no NV index 0x{:08x}", tcti_, index)});
  }
  // The most one TPM2_NV_Read may return: TPM_PT_NV_BUFFER_MAX, asked once, on the first read.
  if (nv_read_piece_ == 0) {
    if (auto properties = tpm_properties(TPM2_PT_NV_BUFFER_MAX, 1);
        properties && !properties->empty() &&
        properties->front().property == TPM2_PT_NV_BUFFER_MAX) {
      nv_read_piece_ = properties->front().value;
    }
    if (nv_read_piece_ == 0 || nv_read_piece_ > TPM2_MAX_NV_BUFFER_SIZE) {
      nv_read_piece_ = 512;  // every TPM 2.0 reads this much at once
    }
  }
  uint32_t piece = nv_read_piece_;
  if (max_piece != 0 && max_piece < piece) {
    piece = max_piece;
  }
  return with_recovery([&]() -> TpmResult<Bytes> {
    ESYS_TR nv = ESYS_TR_NONE;
    auto found = run("Esys_TR_FromTPMPublic", OnObjectMemoryFull::kFail, [&] {
      return Esys_TR_FromTPMPublic(esys_.get(), index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &nv);
    });
    if (!found) {
      return std::unexpected(found.error());
    }
    // A reference to the index, not an object of ours: closed, never flushed.
    struct Closer {
      ESYS_CONTEXT* esys;
      ESYS_TR* nv;
      ~Closer() { Esys_TR_Close(esys, nv); }
    } closer{esys_.get(), &nv};
    TPM2B_NV_PUBLIC* raw_public = nullptr;
    auto described = run("Esys_NV_ReadPublic", OnObjectMemoryFull::kFail, [&] {
      return Esys_NV_ReadPublic(esys_.get(), nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                &raw_public, nullptr);
    });
    EsysPtr<TPM2B_NV_PUBLIC> nv_public(raw_public);
    if (!described) {
      return std::unexpected(described.error());
    }
    const uint16_t size = nv_public->nvPublic.dataSize;
    Bytes contents;
    contents.reserve(size);
    while (contents.size() < size) {
      const auto length =
          static_cast<uint16_t>(std::min<std::size_t>(piece, size - contents.size()));
      TPM2B_MAX_NV_BUFFER* raw_data = nullptr;
      auto read = run("Esys_NV_Read", OnObjectMemoryFull::kFail, [&] {
        return Esys_NV_Read(esys_.get(), nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                            length, static_cast<uint16_t>(contents.size()), &raw_data);
      });
      EsysPtr<TPM2B_MAX_NV_BUFFER> data(raw_data);
      if (!read) {
        return std::unexpected(read.error());
      }
      if (data->size == 0) {
        break;  // never loop on a TPM that returns nothing
      }
      contents.insert(contents.end(), data->buffer, data->buffer + data->size);
    }
    return contents;
  });
}

}  // namespace liaison::keys::tpm
