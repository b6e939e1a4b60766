#include "keys/tpm/tpm_attestation.h"

#include "keys/tpm/endorsement.h"
#include "keys/tpm/tpm_connection.h"

namespace liaison::keys::tpm {
namespace {

// Where the profile's low-range EKs are looked for when the TPM holds no certificate at all.
constexpr EkCertificateIndex kLowRangeEks[] = {{0x01c00002, "RSA 2048"},
                                               {0x01c0000a, "ECC NIST P-256"}};

}  // namespace

std::string TpmAttestation::tpm_name() const { return tpm_->tcti(); }

TpmAttestation::DerivedEk TpmAttestation::derived_ek(uint32_t certificate_index) {
  if (auto found = derived_.find(certificate_index); found != derived_.end()) {
    return found->second;
  }
  auto ek = read_endorsement_key(*tpm_, certificate_index);
  DerivedEk derived{
      .public_key = ek ? KeyResult<Bytes>(ek->spki) : KeyResult<Bytes>(std::unexpected(ek.error())),
      .template_from_nv = ek && ek->template_from_nv};
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
