#include "keys/tpm/tpm_attestation.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <span>

#include "common/safe_files.h"
#include "keys/base64.h"
#include "keys/key_store.h"
#include "keys/tpm/credential.h"
#include "keys/tpm/endorsement.h"
#include "keys/tpm/tpm_connection.h"
#include "keys/tpm/tpm_key_format.h"
#include "keys/x509_summary.h"

namespace liaison::keys::tpm {
namespace {

using Json = nlohmann::json;

constexpr int kKeyRecordVersion = 1;
// The profile's low range, the first two of its certificate indices: RSA 2048 and ECC P-256. Its
// EKs are looked for when the TPM holds no certificate at all, and activate uses them.
constexpr std::span<const EkCertificateIndex> kLowRangeEks{kEkCertificateIndices, 2};
constexpr uint32_t kRsa2048LowEk = kLowRangeEks[0].nv_index;
constexpr uint32_t kEccP256LowEk = kLowRangeEks[1].nv_index;
static_assert(kRsa2048LowEk == 0x01c00002 && kEccP256LowEk == 0x01c0000a);
constexpr uint16_t kRsa2048SeedSize = 256;  // a seed encrypted to an RSA 2048 key (OAEP)
constexpr std::string_view kKeyDirectory = "attestation";
constexpr std::string_view kKeyFileName = "attestation/ak.json";
constexpr std::size_t kMaxKeyFileSize = std::size_t{256} * 1024;  // an AK and a certificate chain

KeyError system_key_error(const SystemError& error) { return KeyError{"failed", error.message()}; }

}  // namespace

std::string TpmAttestation::tpm_name() const { return tpm_->tcti(); }

struct TpmAttestation::StoredKey {
  std::string created;
  TpmKeyBlob blob;
  std::vector<Bytes> certificate_chain;
  Bytes id;  // the marshalled public and private areas: how the connection knows it loaded
};

std::filesystem::path TpmAttestation::key_file() const { return state_dir_ / kKeyFileName; }

KeyResult<std::optional<TpmAttestation::StoredKey>> TpmAttestation::read_stored_key() const {
  auto state = open_directory(state_dir_.string(), /*create=*/true, 0755);
  if (!state) {
    return std::unexpected(system_key_error(state.error()));
  }
  auto contents = read_file_beneath(state->get(), kKeyFileName, kMaxKeyFileSize);
  if (!contents) {
    return std::unexpected(system_key_error(contents.error()));
  }
  const std::optional<std::string>& file_text = *contents;
  if (!file_text) {
    return std::nullopt;
  }
  auto damaged = [&](std::string_view why) {
    return std::unexpected(
        KeyError{"failed", fmt::format("the attestation key file {} is damaged ({}): remove it and "
                                       "enroll again, then have the new key certified",
                                       key_file().string(), why)});
  };
  const Json record = Json::parse(*file_text, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || record.value("version", 0) != kKeyRecordVersion) {
    return damaged("not a version 1 record");
  }
  auto text = [&](const char* field) {
    auto found = record.find(field);
    return found != record.end() && found->is_string() ? found->get<std::string>() : "";
  };
  auto public_bytes = base64_decode(text("public_area"));
  auto private_bytes = base64_decode(text("private_area"));
  if (!public_bytes || !private_bytes) {
    return damaged("its key areas are not base64");
  }
  auto public_area = unmarshal_public(*public_bytes);
  auto private_area = unmarshal_private(*private_bytes);
  if (!public_area || !private_area) {
    return damaged("its key areas are not a TPM key");
  }
  StoredKey key{.created = text("created"), .blob = {*public_area, *private_area}};
  key.id = *public_bytes;
  key.id.insert(key.id.end(), private_bytes->begin(), private_bytes->end());
  const auto chain = record.find("certificate_chain");
  if (chain != record.end() && chain->is_array()) {
    for (const Json& certificate : *chain) {
      auto der =
          certificate.is_string() ? base64_decode(certificate.get<std::string>()) : std::nullopt;
      if (!der) {
        return damaged("a certificate is not base64");
      }
      key.certificate_chain.push_back(std::move(*der));
    }
  }
  return key;
}

KeyResult<void> TpmAttestation::write_stored_key(const StoredKey& key) const {
  auto public_bytes = marshal_public(key.blob.public_area);
  auto private_bytes = marshal_private(key.blob.private_area);
  if (!public_bytes || !private_bytes) {
    return std::unexpected(!public_bytes ? public_bytes.error() : private_bytes.error());
  }
  Json chain = Json::array();
  for (const Bytes& certificate : key.certificate_chain) {
    chain.push_back(base64_encode(certificate));
  }
  const Json record = {{"version", kKeyRecordVersion},
                       {"created", key.created},
                       {"public_area", base64_encode(*public_bytes)},
                       {"private_area", base64_encode(*private_bytes)},
                       {"certificate_chain", chain}};
  auto state = open_directory(state_dir_.string(), /*create=*/true, 0755);
  if (!state) {
    return std::unexpected(system_key_error(state.error()));
  }
  // Root's alone: the private area is useless off this TPM, but which key vouches for every
  // user's keys is nobody else's business, and nobody else may replace it.
  auto directory = open_directory_beneath(state->get(), kKeyDirectory, /*create=*/true, 0700);
  if (!directory) {
    return std::unexpected(system_key_error(directory.error()));
  }
  auto written = write_file_beneath(state->get(), kKeyFileName, record.dump(2) + "\n", 0600);
  if (!written) {
    return std::unexpected(system_key_error(written.error()));
  }
  return {};
}

KeyResult<AttestationKey> TpmAttestation::describe(const StoredKey& key) const {
  auto public_bytes = marshal_public(key.blob.public_area);
  if (!public_bytes) {
    return std::unexpected(public_bytes.error());
  }
  auto name = object_name(key.blob.public_area.publicArea);
  if (!name) {
    return std::unexpected(name.error());
  }
  auto spki = spki_from_public_area(key.blob.public_area);
  if (!spki) {
    return std::unexpected(spki.error());
  }
  return AttestationKey{.public_area = std::move(*public_bytes),
                        .name = std::move(*name),
                        .public_key = std::move(*spki),
                        .created = key.created,
                        .certificate_chain = key.certificate_chain};
}

KeyResult<Enrollment> TpmAttestation::enroll() {
  auto stored = read_stored_key();
  if (!stored) {
    return std::unexpected(stored.error());
  }
  if (const std::optional<StoredKey>& existing = *stored; existing) {
    if (auto loaded = tpm_->load_key(existing->id, existing->blob); !loaded) {
      return std::unexpected(KeyError{
          loaded.error().code,
          fmt::format("the attestation key in {} does not load in this TPM ({}); if the TPM "
                      "was cleared or replaced, remove the file, enroll again and have the new "
                      "key certified",
                      key_file().string(), loaded.error().message)});
    }
    tpm_->release_key(existing->id);
    auto key = describe(*existing);
    if (!key) {
      return std::unexpected(key.error());
    }
    return Enrollment{.key = std::move(*key), .created = false};
  }
  auto blob = tpm_->create_key(attestation_key_template());
  tpm_->release_key({});  // the storage root key, unless the TPM keys of key.* keep it
  if (!blob) {
    return std::unexpected(blob.error());
  }
  StoredKey key{.created = iso8601_utc(std::chrono::system_clock::now()), .blob = *blob};
  if (auto written = write_stored_key(key); !written) {
    return std::unexpected(written.error());
  }
  auto described = describe(key);
  if (!described) {
    return std::unexpected(described.error());
  }
  return Enrollment{.key = std::move(*described), .created = true};
}

KeyResult<AttestationKey> TpmAttestation::install_certificate(std::vector<Bytes> chain) {
  auto stored = read_stored_key();
  if (!stored) {
    return std::unexpected(stored.error());
  }
  const std::optional<StoredKey>& existing = *stored;
  if (!existing) {
    return std::unexpected(
        KeyError{"not_found",
                 "no attestation key to install a certificate for: run `liaison attest "
                 "enroll` first, and have the CA certify the key it prints"});
  }
  StoredKey key = *existing;
  auto spki = spki_from_public_area(key.blob.public_area);
  if (!spki) {
    return std::unexpected(spki.error());
  }
  if (auto checked = check_certificate_chain(chain, *spki); !checked) {
    return std::unexpected(KeyError{
        checked.error().code, fmt::format("not a certificate chain for this attestation key: {}",
                                          checked.error().message)});
  }
  key.certificate_chain = std::move(chain);
  if (auto written = write_stored_key(key); !written) {
    return std::unexpected(written.error());
  }
  return describe(key);
}

KeyResult<AttestationState> TpmAttestation::state() {
  auto certificates = read_ek_certificates(*tpm_);
  if (!certificates) {
    return std::unexpected(certificates.error());
  }
  AttestationState state;
  for (EkCertificate& certificate : *certificates) {
    state.ek_certificates.push_back({.nv_index = certificate.nv_index,
                                     .key_type = std::string(certificate.key_type),
                                     .certificate = std::move(certificate.der)});
  }
  auto stored = read_stored_key();
  if (!stored) {
    return std::unexpected(stored.error());
  }
  if (const std::optional<StoredKey>& key = *stored; key) {
    if (auto loaded = tpm_->load_key(key->id, key->blob); !loaded) {
      state.key_problem = loaded.error();
    }
    tpm_->release_key(key->id);
    auto described = describe(*key);
    if (!described) {
      return std::unexpected(described.error());
    }
    state.key = std::move(*described);
  }
  return state;
}

KeyResult<Bytes> TpmAttestation::public_key_of(std::span<const uint8_t> wrapped_key) const {
  auto blob = unwrap_key_blob(wrapped_key);
  if (!blob) {
    return std::unexpected(blob.error());
  }
  return spki_from_public_area(blob->public_area);
}

KeyResult<Certification> TpmAttestation::certify(std::span<const uint8_t> wrapped_key,
                                                 std::span<const uint8_t> extra_data) {
  auto blob = unwrap_key_blob(wrapped_key);  // refuses anything but a liaison TPM signing key
  if (!blob) {
    return std::unexpected(blob.error());
  }
  auto stored = read_stored_key();
  if (!stored) {
    return std::unexpected(stored.error());
  }
  const std::optional<StoredKey>& ak = *stored;
  if (!ak || ak->certificate_chain.empty()) {
    return std::unexpected(KeyError{
        "not_found",
        fmt::format("{}: a verifier trusts an attestation through the attestation key's "
                    "certificate (liaison attest enroll, activate with the CA's credential, "
                    "install-cert)",
                    ak ? "the attestation key has no certificate yet" : "no attestation key")});
  }
  const Bytes key_id(wrapped_key.begin(), wrapped_key.end());
  auto certified = tpm_->certify(key_id, *blob, ak->id, ak->blob, extra_data);
  tpm_->release_key(ak->id);
  tpm_->release_key(key_id);
  if (!certified) {
    return std::unexpected(certified.error());
  }
  auto signature = der_signature_from_tpm(certified->signature);
  if (!signature) {
    return std::unexpected(signature.error());
  }
  auto public_area = marshal_public_area(blob->public_area.publicArea);
  if (!public_area) {
    return std::unexpected(public_area.error());
  }
  return Certification{.certify_info = std::move(certified->attest),
                       .signature = std::move(*signature),
                       .public_area = std::move(*public_area),
                       .ak_certificate_chain = ak->certificate_chain};
}

KeyResult<Activation> TpmAttestation::activate(std::span<const uint8_t> credential_file) {
  auto credential = parse_credential_file(credential_file);
  if (!credential) {
    return std::unexpected(credential.error());
  }
  auto stored = read_stored_key();
  if (!stored) {
    return std::unexpected(stored.error());
  }
  const std::optional<StoredKey>& key = *stored;
  if (!key) {
    return std::unexpected(
        KeyError{"not_found",
                 "no attestation key to activate a credential for: run `liaison attest "
                 "enroll` first, and have the CA make the credential for the name it prints"});
  }
  const uint32_t ek_index =
      credential->secret.size == kRsa2048SeedSize ? kRsa2048LowEk : kEccP256LowEk;
  auto ek = ek_template(*tpm_, ek_index);
  if (!ek) {
    return std::unexpected(ek.error());
  }
  if (!uses_endorsement_secret_policy(ek->public_area.publicArea)) {
    return std::unexpected(KeyError{
        "unsupported",
        fmt::format("the EK of certificate index 0x{:08x} comes from the manufacturer's "
                    "template in NV, whose policy is not the profile's PolicySecret(endorsement): "
                    "liaison cannot satisfy it",
                    ek_index)});
  }
  auto secret = tpm_->activate_credential(key->id, key->blob, ek->public_area, credential->blob,
                                          credential->secret);
  tpm_->release_key(key->id);
  if (!secret) {
    return std::unexpected(
        KeyError{secret.error().code,
                 fmt::format("the TPM refused the credential ({}): was it made for this TPM's EK "
                             "(NV index 0x{:08x}) and the name `liaison attest enroll` prints?",
                             secret.error().message, ek_index)});
  }
  return Activation{.secret = std::move(*secret), .ek_index = ek_index};
}

TpmAttestation::DerivedEk TpmAttestation::derived_ek(uint32_t certificate_index) {
  if (auto found = derived_.find(certificate_index); found != derived_.end()) {
    return found->second;
  }
  auto ek = read_endorsement_key(*tpm_, certificate_index);
  DerivedEk derived{
      .public_key = ek ? KeyResult<Bytes>(ek->spki) : KeyResult<Bytes>(std::unexpected(ek.error())),
      .template_from_nv = ek && ek->template_from_nv};
  if (ek) {
    if (auto marshalled = marshal_public(ek->public_area)) {
      derived.public_area = std::move(*marshalled);
    }
  }
  // An unsupported template stays so; a TPM that failed to answer is asked again next time.
  if (ek || ek.error().code == "unsupported") {
    derived_.emplace(certificate_index, derived);
  }
  return derived;
}

KeyResult<std::vector<EndorsementEvidence>> TpmAttestation::endorsement() {
  auto certificates = read_ek_certificates(*tpm_);
  if (!certificates) {
    return std::unexpected(certificates.error());
  }
  std::vector<EndorsementEvidence> evidence;
  auto add = [&](TPM2_HANDLE index, std::string_view key_type, std::optional<Bytes> certificate) {
    const DerivedEk ek = derived_ek(index);
    EndorsementEvidence entry{.nv_index = index,
                              .key_type = std::string(key_type),
                              .certificate = std::move(certificate),
                              .template_source = ek.template_from_nv ? "nv" : "profile"};
    if (ek.public_key) {
      entry.public_key = *ek.public_key;
      entry.public_area = ek.public_area;
    } else {
      entry.problem = ek.public_key.error();
    }
    evidence.push_back(std::move(entry));
  };
  for (EkCertificate& certificate : *certificates) {
    add(certificate.nv_index, certificate.key_type, std::move(certificate.der));
  }
  if (certificates->empty()) {
    for (const EkCertificateIndex& low : kLowRangeEks) {
      add(low.nv_index, low.key_type, std::nullopt);
    }
  }
  return evidence;
}

}  // namespace liaison::keys::tpm
