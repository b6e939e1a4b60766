#include "keys/tpm/endorsement.h"

#include <fmt/format.h>
#include <tss2_mu.h>

#include <algorithm>
#include <array>
#include <optional>

namespace liaison::keys::tpm {
namespace {

constexpr TPM2_HANDLE kEkRangeFirst = 0x01c00000;
constexpr uint32_t kEkRangeCount = 0x20;  // through 0x01c0001f: both ranges of the profile

constexpr TPM2_HANDLE kRsa2048LowCertificate = 0x01c00002;
constexpr TPM2_HANDLE kEccP256LowCertificate = 0x01c0000a;
constexpr TPM2_HANDLE kEccP384HighCertificate = 0x01c00016;
constexpr TPM2_HANDLE kHighRangeFirst = 0x01c00012;

// Where a manufacturer may store its own EK template, and in the low range a nonce for the
// template's unique field, beside a certificate (profile 2.2.1.4 and 2.2.1.5).
struct TemplateIndices {
  TPM2_HANDLE template_index = 0;
  TPM2_HANDLE nonce_index = 0;  // 0: the range has none
};
TemplateIndices template_indices_of(TPM2_HANDLE certificate_index) {
  if (certificate_index == kRsa2048LowCertificate) {
    return {0x01c00004, 0x01c00003};
  }
  if (certificate_index == kEccP256LowCertificate) {
    return {0x01c0000c, 0x01c0000b};
  }
  return {certificate_index + 1, 0};  // high range: the template follows its certificate
}

// The endorsement hierarchy's policy the profile's EKs are used with, as authPolicy digests.
// Policy A (low range): PolicySecret(TPM_RH_ENDORSEMENT), SHA-256.
constexpr std::array<uint8_t, 32> kPolicyASha256 = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};
// Policy B (high range), SHA-384: PolicyOR of policy A's and the user-auth policy's digests.
constexpr std::array<uint8_t, 48> kPolicyBSha384 = {
    0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
    0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
    0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12};

// Restricted decryption keys, never duplicable: the low range's without userWithAuth (policy
// only), the high range's with it.
constexpr TPMA_OBJECT kLowRangeAttributes =
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
constexpr TPMA_OBJECT kHighRangeAttributes = kLowRangeAttributes | TPMA_OBJECT_USERWITHAUTH;

template <std::size_t N>
void set_policy(TPMT_PUBLIC& area, const std::array<uint8_t, N>& digest) {
  area.authPolicy.size = N;
  std::copy(digest.begin(), digest.end(), area.authPolicy.buffer);
}

void set_aes_cfb(TPMT_SYM_DEF_OBJECT& symmetric, uint16_t bits) {
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = bits;
  symmetric.mode.aes = TPM2_ALG_CFB;
}

// Template L-1: RSA 2048, SHA-256, AES-128, unique 256 zero bytes.
TPM2B_PUBLIC rsa2048_low_template() {
  TPM2B_PUBLIC key{};
  TPMT_PUBLIC& area = key.publicArea;
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = kLowRangeAttributes;
  set_policy(area, kPolicyASha256);
  set_aes_cfb(area.parameters.rsaDetail.symmetric, 128);
  area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  area.parameters.rsaDetail.keyBits = 2048;
  area.parameters.rsaDetail.exponent = 0;
  area.unique.rsa.size = 256;
  return key;
}

// The profile's ECC templates differ in curve, name algorithm, range and AES key size, and the
// low range fills the unique field with zeros the size of a coordinate.
struct EccTemplate {
  TPMI_ECC_CURVE curve;
  TPMI_ALG_HASH name_alg;
  bool high_range;
  uint16_t aes_bits;
  uint16_t unique_size;  // 0: empty
};

template <std::size_t N>
TPM2B_PUBLIC ecc_template(const EccTemplate& shape, const std::array<uint8_t, N>& policy) {
  TPM2B_PUBLIC key{};
  TPMT_PUBLIC& area = key.publicArea;
  area.type = TPM2_ALG_ECC;
  area.nameAlg = shape.name_alg;
  area.objectAttributes = shape.high_range ? kHighRangeAttributes : kLowRangeAttributes;
  set_policy(area, policy);
  set_aes_cfb(area.parameters.eccDetail.symmetric, shape.aes_bits);
  area.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  area.parameters.eccDetail.curveID = shape.curve;
  area.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  area.unique.ecc.x.size = shape.unique_size;
  area.unique.ecc.y.size = shape.unique_size;
  return key;
}

// Template L-2: ECC NIST P-256, SHA-256, AES-128, unique x and y 32 zero bytes each.
TPM2B_PUBLIC ecc_p256_low_template() {
  return ecc_template({TPM2_ECC_NIST_P256, TPM2_ALG_SHA256, false, 128, 32}, kPolicyASha256);
}

// Template H-3: ECC NIST P-384, SHA-384, AES-256, unique empty.
TPM2B_PUBLIC ecc_p384_high_template() {
  return ecc_template({TPM2_ECC_NIST_P384, TPM2_ALG_SHA384, true, 256, 0}, kPolicyBSha384);
}

std::optional<TPM2B_PUBLIC> profile_template(TPM2_HANDLE certificate_index) {
  switch (certificate_index) {
    case kRsa2048LowCertificate:
      return rsa2048_low_template();
    case kEccP256LowCertificate:
      return ecc_p256_low_template();
    case kEccP384HighCertificate:
      return ecc_p384_high_template();
    default:
      return std::nullopt;
  }
}

bool defined(const std::vector<TPM2_HANDLE>& indices, TPM2_HANDLE index) {
  return index != 0 && std::find(indices.begin(), indices.end(), index) != indices.end();
}

// A template the manufacturer stored: a marshalled TPMT_PUBLIC, nothing after it.
KeyResult<TPM2B_PUBLIC> parse_stored_template(TPM2_HANDLE index, const Bytes& stored) {
  TPM2B_PUBLIC key{};
  std::size_t offset = 0;
  if (Tss2_MU_TPMT_PUBLIC_Unmarshal(stored.data(), stored.size(), &offset, &key.publicArea) !=
          TSS2_RC_SUCCESS ||
      offset != stored.size()) {
    return std::unexpected(KeyError{
        "failed", fmt::format("the EK template in NV index 0x{:08x} is not a TPMT_PUBLIC", index)});
  }
  return key;
}

// Puts the low range's nonce into the template's unique field: the first bytes of the RSA
// modulus, or of the ECC x coordinate (profile 2.2.1.4.3).
KeyResult<void> apply_nonce(TPM2B_PUBLIC& key, TPM2_HANDLE index, const Bytes& nonce) {
  TPMT_PUBLIC& area = key.publicArea;
  uint8_t* unique = area.type == TPM2_ALG_RSA ? area.unique.rsa.buffer : area.unique.ecc.x.buffer;
  const std::size_t room =
      area.type == TPM2_ALG_RSA ? area.unique.rsa.size : area.unique.ecc.x.size;
  if (nonce.size() > room) {
    return std::unexpected(KeyError{
        "failed", fmt::format("the EK nonce in NV index 0x{:08x} is {} bytes, over the {} of the "
                              "template's unique field",
                              index, nonce.size(), room)});
  }
  std::copy(nonce.begin(), nonce.end(), unique);
  return {};
}

}  // namespace

KeyResult<std::vector<EkCertificate>> read_ek_certificates(TpmConnection& tpm) {
  auto defined = tpm.nv_indices(kEkRangeFirst, kEkRangeCount);
  if (!defined) {
    return std::unexpected(defined.error());
  }
  std::vector<EkCertificate> certificates;
  for (const EkCertificateIndex& candidate : kEkCertificateIndices) {
    if (std::find(defined->begin(), defined->end(), candidate.nv_index) == defined->end()) {
      continue;
    }
    auto der = tpm.read_nv(candidate.nv_index);
    if (!der) {
      return std::unexpected(der.error());
    }
    certificates.push_back({candidate.nv_index, candidate.key_type, std::move(*der)});
  }
  return certificates;
}

bool uses_endorsement_secret_policy(const TPMT_PUBLIC& area) {
  return area.nameAlg == TPM2_ALG_SHA256 && area.authPolicy.size == kPolicyASha256.size() &&
         std::equal(kPolicyASha256.begin(), kPolicyASha256.end(), area.authPolicy.buffer);
}

KeyResult<EkTemplate> ek_template(TpmConnection& tpm, TPM2_HANDLE certificate_index) {
  auto indices = tpm.nv_indices(kEkRangeFirst, kEkRangeCount);
  if (!indices) {
    return std::unexpected(indices.error());
  }
  const TemplateIndices beside = template_indices_of(certificate_index);
  std::optional<TPM2B_PUBLIC> key_template;
  if (defined(*indices, beside.template_index)) {
    auto stored = tpm.read_nv(beside.template_index);
    if (!stored) {
      return std::unexpected(stored.error());
    }
    auto parsed = parse_stored_template(beside.template_index, *stored);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    key_template = *parsed;
  } else {
    key_template = profile_template(certificate_index);
  }
  if (!key_template) {
    return std::unexpected(KeyError{
        "unsupported",
        fmt::format("no EK template for the certificate in NV index 0x{:08x}: the TPM stores "
                    "none beside it, and liaison knows the profile's templates only for 0x{:08x} "
                    "(RSA 2048), 0x{:08x} (ECC P-256) and 0x{:08x} (ECC P-384)",
                    certificate_index, kRsa2048LowCertificate, kEccP256LowCertificate,
                    kEccP384HighCertificate)});
  }
  if (certificate_index < kHighRangeFirst && defined(*indices, beside.nonce_index)) {
    auto nonce = tpm.read_nv(beside.nonce_index);
    if (!nonce) {
      return std::unexpected(nonce.error());
    }
    if (auto applied = apply_nonce(*key_template, beside.nonce_index, *nonce); !applied) {
      return std::unexpected(applied.error());
    }
  }
  return EkTemplate{.public_area = *key_template,
                    .from_nv = defined(*indices, beside.template_index)};
}

KeyResult<EndorsementKey> read_endorsement_key(TpmConnection& tpm, TPM2_HANDLE certificate_index) {
  auto key_template = ek_template(tpm, certificate_index);
  if (!key_template) {
    return std::unexpected(key_template.error());
  }
  auto public_area = tpm.primary_public(ESYS_TR_RH_ENDORSEMENT, key_template->public_area);
  if (!public_area) {
    return std::unexpected(public_area.error());
  }
  auto spki = spki_from_any_public_area(public_area->publicArea);
  if (!spki) {
    return std::unexpected(spki.error());
  }
  return EndorsementKey{.certificate_index = certificate_index,
                        .public_area = *public_area,
                        .spki = std::move(*spki),
                        .template_from_nv = key_template->from_nv};
}

}  // namespace liaison::keys::tpm
