#include "keys/tpm/tpm_provider.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "keys/tpm/tpm_connection.h"
#include "keys/tpm/tpm_key_format.h"

namespace liaison::keys::tpm {
namespace {

constexpr std::size_t kSha256DigestSize = 32;

class TpmSigningKey final : public UnexportableSigningKey {
 public:
  TpmSigningKey(std::shared_ptr<TpmConnection> connection, TpmKeyBlob blob, Bytes wrapped,
                Bytes spki)
      : connection_(std::move(connection)),
        blob_(blob),
        wrapped_(std::move(wrapped)),
        spki_(std::move(spki)) {}

  Bytes public_key_spki() const override { return spki_; }
  Bytes wrapped_key() const override { return wrapped_; }
  bool hardware_backed() const override { return true; }

  // TPM2_Sign (~0.7 ms on swtpm), after TPM2_Load when the key is not loaded (~1 ms more).
  KeyResult<Bytes> sign_digest(std::span<const uint8_t> digest) override {
    if (digest.size() != kSha256DigestSize) {
      return std::unexpected(KeyError{
          "invalid_params", fmt::format("a SHA-256 digest is 32 bytes, not {}", digest.size())});
    }
    TPM2B_DIGEST tpm_digest{};
    tpm_digest.size = kSha256DigestSize;
    std::copy(digest.begin(), digest.end(), tpm_digest.buffer);
    auto signature = connection_->sign(wrapped_, blob_, tpm_digest);
    if (!signature) {
      return std::unexpected(signature.error());
    }
    return der_signature_from_tpm(*signature);
  }

 private:
  std::shared_ptr<TpmConnection> connection_;
  TpmKeyBlob blob_;
  Bytes wrapped_;
  Bytes spki_;
};

KeyResult<std::unique_ptr<UnexportableSigningKey>> make_key(
    std::shared_ptr<TpmConnection> connection, const TpmKeyBlob& blob, Bytes wrapped) {
  auto spki = spki_from_public_area(blob.public_area);
  if (!spki) {
    return std::unexpected(spki.error());
  }
  return std::make_unique<TpmSigningKey>(std::move(connection), blob, std::move(wrapped),
                                         *std::move(spki));
}

// Four bytes of a TPM property as text: big-endian ASCII, NUL padding and spaces trimmed.
std::string property_text(uint32_t value) {
  std::string text;
  for (int shift = 24; shift >= 0; shift -= 8) {
    char c = static_cast<char>((value >> shift) & 0xFF);
    if (std::isprint(static_cast<unsigned char>(c))) {
      text.push_back(c);
    }
  }
  return text;
}

std::string trimmed(std::string text) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

void apply_property(TpmDescription& description, const TPMS_TAGGED_PROPERTY& property) {
  uint32_t value = property.value;
  switch (property.property) {
    case TPM2_PT_MANUFACTURER:
      description.manufacturer = trimmed(property_text(value));
      break;
    case TPM2_PT_VENDOR_STRING_1:
    case TPM2_PT_VENDOR_STRING_2:
    case TPM2_PT_VENDOR_STRING_3:
    case TPM2_PT_VENDOR_STRING_4:
      description.vendor += property_text(value);  // in order: the TPM lists properties sorted
      break;
    case TPM2_PT_FIRMWARE_VERSION_1:
      description.firmware_version_1 = value;
      break;
    case TPM2_PT_FIRMWARE_VERSION_2:
      description.firmware_version_2 = value;
      break;
    case TPM2_PT_PERMANENT:
      description.in_lockout = (value & TPMA_PERMANENT_INLOCKOUT) != 0;
      break;
    case TPM2_PT_LOCKOUT_COUNTER:
      description.failed_authorizations = value;
      break;
    case TPM2_PT_MAX_AUTH_FAIL:
      description.max_failed_authorizations = value;
      break;
    default:
      break;
  }
}

}  // namespace

KeyResult<std::unique_ptr<TpmProvider>> TpmProvider::open(const std::string& tcti,
                                                          KeyContext context) {
  // tpm2-tss logs every error it returns to stderr, including the ones handled here (a full TPM,
  // a reconnect): quiet it unless the operator asked for its log with TSS2_LOG.
  setenv("TSS2_LOG", "all+none", /*overwrite=*/0);
  auto connection = TpmConnection::open(tcti);
  if (!connection) {
    return std::unexpected(connection.error());
  }
  return std::make_unique<TpmProvider>(OpenToken{}, *std::move(connection), context);
}

TpmProvider::TpmProvider(OpenToken, std::shared_ptr<TpmConnection> connection, KeyContext context)
    : connection_(std::move(connection)), context_(context) {}

TpmProvider::~TpmProvider() = default;

KeyResult<std::unique_ptr<UnexportableSigningKey>> TpmProvider::generate() {
  auto blob = connection_->create_signing_key();
  if (!blob) {
    return std::unexpected(blob.error());
  }
  auto wrapped = wrap_key_blob(*blob);
  if (!wrapped) {
    return std::unexpected(wrapped.error());
  }
  return make_key(connection_, *blob, *std::move(wrapped));
}

KeyResult<std::unique_ptr<UnexportableSigningKey>> TpmProvider::from_wrapped(
    std::span<const uint8_t> wrapped) {
  auto blob = unwrap_key_blob(wrapped);
  if (!blob) {
    return std::unexpected(blob.error());
  }
  Bytes wrapped_bytes(wrapped.begin(), wrapped.end());
  if (auto loaded = connection_->load_key(wrapped_bytes, *blob); !loaded) {
    return std::unexpected(loaded.error());
  }
  return make_key(connection_, *blob, std::move(wrapped_bytes));
}

KeyResult<void> TpmProvider::erase(std::span<const uint8_t> wrapped) {
  connection_->flush_key(Bytes(wrapped.begin(), wrapped.end()));
  return {};
}

KeyResult<TpmDescription> TpmProvider::describe_tpm() {
  TpmDescription description;
  description.tcti = connection_->tcti();
  // MANUFACTURER (0x105) through FIRMWARE_VERSION_2 (0x10c), then PERMANENT (0x200) through
  // MAX_AUTH_FAIL (0x20f).
  auto fixed = connection_->tpm_properties(TPM2_PT_MANUFACTURER,
                                           TPM2_PT_FIRMWARE_VERSION_2 - TPM2_PT_MANUFACTURER + 1);
  if (!fixed) {
    return std::unexpected(fixed.error());
  }
  auto variable =
      connection_->tpm_properties(TPM2_PT_PERMANENT, TPM2_PT_MAX_AUTH_FAIL - TPM2_PT_PERMANENT + 1);
  if (!variable) {
    return std::unexpected(variable.error());
  }
  for (const auto& property : *fixed) {
    apply_property(description, property);
  }
  for (const auto& property : *variable) {
    apply_property(description, property);
  }
  description.vendor = trimmed(description.vendor);
  uint32_t v1 = description.firmware_version_1;
  uint32_t v2 = description.firmware_version_2;
  description.firmware_version =
      fmt::format("{}.{}.{}.{}", v1 >> 16, v1 & 0xFFFF, v2 >> 16, v2 & 0xFFFF);
  return description;
}

KeyResult<ProviderDescription> TpmProvider::describe() {
  auto tpm = describe_tpm();
  if (!tpm) {
    return std::unexpected(tpm.error());
  }
  ProviderDescription description{
      .summary = fmt::format("TPM 2.0 by {} ({}), firmware {}, through {}", tpm->manufacturer,
                             tpm->vendor, tpm->firmware_version, tpm->tcti),
      .facts = {{"tcti", tpm->tcti},
                {"manufacturer", tpm->manufacturer},
                {"vendor", tpm->vendor},
                {"firmware_version", tpm->firmware_version},
                {"in_lockout", tpm->in_lockout},
                {"failed_authorizations", tpm->failed_authorizations},
                {"max_failed_authorizations", tpm->max_failed_authorizations}},
      .problem = "",
      .fix = ""};
  if (tpm->in_lockout) {
    description.problem = fmt::format(
        "the TPM is in dictionary-attack lockout ({} of {} failed authorizations): it refuses to "
        "use keys until the lockout ends",
        tpm->failed_authorizations, tpm->max_failed_authorizations);
    description.fix =
        "wait for the lockout recovery time, or reset it with the lockout authorization: "
        "tpm2_dictionarylockout --clear-lockout";
  }
  return description;
}

std::size_t TpmProvider::flush_idle(Clock::time_point now, Clock::duration idle_after) {
  return connection_->flush_idle(now, idle_after);
}

std::size_t TpmProvider::loaded_key_count() const { return connection_->loaded_key_count(); }

const std::string& TpmProvider::tcti() const { return connection_->tcti(); }

}  // namespace liaison::keys::tpm
