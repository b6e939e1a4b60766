#include "keys/tpm/tpm_key_format.h"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <tss2_mu.h>

#include <algorithm>
#include <array>
#include <memory>

#include "keys/openssl_util.h"

namespace liaison::keys::tpm {
namespace {

constexpr std::array<uint8_t, 4> kWrappedMagic = {'L', 'T', 'P', 'K'};
constexpr uint8_t kWrappedVersion = 1;
constexpr std::size_t kHeaderSize = kWrappedMagic.size() + 1;
constexpr std::size_t kP256CoordinateSize = 32;

// DER of SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (65 bytes, 0 unused) }
// up to the uncompressed point: every P-256 SubjectPublicKeyInfo starts with these 26 bytes.
constexpr std::array<uint8_t, 26> kP256SpkiPrefix = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
constexpr uint8_t kUncompressedPoint = 0x04;

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslDeleter<ECDSA_SIG_free>>;

KeyError invalid_wrapped(std::string_view why) {
  return KeyError{"failed", fmt::format("not a liaison TPM key: {}", why)};
}

// Appends a TPM coordinate left-padded to 32 bytes (a TPM may drop leading zero bytes).
bool append_coordinate(Bytes& out, const TPM2B_ECC_PARAMETER& coordinate) {
  if (coordinate.size > kP256CoordinateSize) {
    return false;
  }
  out.insert(out.end(), kP256CoordinateSize - coordinate.size, 0);
  out.insert(out.end(), coordinate.buffer, coordinate.buffer + coordinate.size);
  return true;
}

bool is_liaison_signing_key(const TPMT_PUBLIC& area) {
  const TPMS_ECC_PARMS& ecc = area.parameters.eccDetail;
  constexpr TPMA_OBJECT kRequired = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT;
  return area.type == TPM2_ALG_ECC && ecc.curveID == TPM2_ECC_NIST_P256 &&
         ecc.scheme.scheme == TPM2_ALG_ECDSA &&
         ecc.scheme.details.ecdsa.hashAlg == TPM2_ALG_SHA256 &&
         (area.objectAttributes & kRequired) == kRequired &&
         (area.objectAttributes & TPMA_OBJECT_RESTRICTED) == 0;
}

}  // namespace

TPM2B_PUBLIC storage_root_key_template() {
  TPM2B_PUBLIC key{};
  TPMT_PUBLIC& area = key.publicArea;
  area.type = TPM2_ALG_ECC;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  TPMS_ECC_PARMS& ecc = area.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  area.unique.ecc.x.size = kP256CoordinateSize;  // zeros, as the TCG template has them
  area.unique.ecc.y.size = kP256CoordinateSize;
  return key;
}

TPM2B_PUBLIC signing_key_template() {
  TPM2B_PUBLIC key{};
  TPMT_PUBLIC& area = key.publicArea;
  area.type = TPM2_ALG_ECC;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_SIGN_ENCRYPT;
  TPMS_ECC_PARMS& ecc = area.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return key;
}

KeyResult<Bytes> wrap_key_blob(const TpmKeyBlob& blob) {
  Bytes wrapped(kHeaderSize + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE));
  std::copy(kWrappedMagic.begin(), kWrappedMagic.end(), wrapped.begin());
  wrapped[kWrappedMagic.size()] = kWrappedVersion;
  std::size_t offset = kHeaderSize;
  TSS2_RC rc =
      Tss2_MU_TPM2B_PUBLIC_Marshal(&blob.public_area, wrapped.data(), wrapped.size(), &offset);
  if (rc == TSS2_RC_SUCCESS) {
    rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&blob.private_area, wrapped.data(), wrapped.size(), &offset);
  }
  if (rc != TSS2_RC_SUCCESS) {
    return std::unexpected(
        KeyError{"failed", fmt::format("marshal the TPM key: error 0x{:x}", rc)});
  }
  wrapped.resize(offset);
  return wrapped;
}

KeyResult<TpmKeyBlob> unwrap_key_blob(std::span<const uint8_t> wrapped) {
  if (wrapped.size() < kHeaderSize ||
      !std::equal(kWrappedMagic.begin(), kWrappedMagic.end(), wrapped.begin())) {
    return std::unexpected(invalid_wrapped("no LTPK header"));
  }
  if (uint8_t version = wrapped[kWrappedMagic.size()]; version != kWrappedVersion) {
    return std::unexpected(invalid_wrapped(fmt::format(
        "format version {} (this liaison reads version {})", version, kWrappedVersion)));
  }
  TpmKeyBlob blob;
  std::size_t offset = kHeaderSize;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(wrapped.data(), wrapped.size(), &offset, &blob.public_area) !=
      TSS2_RC_SUCCESS) {
    return std::unexpected(invalid_wrapped("its public area is cut short or malformed"));
  }
  if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(wrapped.data(), wrapped.size(), &offset,
                                      &blob.private_area) != TSS2_RC_SUCCESS) {
    return std::unexpected(invalid_wrapped("its private area is cut short or malformed"));
  }
  if (offset != wrapped.size()) {
    return std::unexpected(invalid_wrapped(
        fmt::format("{} unexpected bytes after the private area", wrapped.size() - offset)));
  }
  if (!is_liaison_signing_key(blob.public_area.publicArea)) {
    return std::unexpected(invalid_wrapped("not a P-256 ECDSA/SHA-256 signing key"));
  }
  return blob;
}

KeyResult<Bytes> spki_from_public_area(const TPM2B_PUBLIC& public_area) {
  Bytes spki(kP256SpkiPrefix.begin(), kP256SpkiPrefix.end());
  spki.push_back(kUncompressedPoint);
  const TPMS_ECC_POINT& point = public_area.publicArea.unique.ecc;
  if (!append_coordinate(spki, point.x) || !append_coordinate(spki, point.y)) {
    return std::unexpected(KeyError{"failed", "the TPM returned a P-256 point over 32 bytes"});
  }
  // Decoding checks the point is on the curve: a key nobody can verify with is refused here.
  if (auto parsed = parse_p256_spki(spki); !parsed) {
    return std::unexpected(
        KeyError{"failed", fmt::format("the TPM's public key: {}", parsed.error().message)});
  }
  return spki;
}

KeyResult<Bytes> der_signature_from_tpm(const TPMT_SIGNATURE& signature) {
  if (signature.sigAlg != TPM2_ALG_ECDSA) {
    return std::unexpected(
        KeyError{"failed",
                 fmt::format("the TPM signed with algorithm 0x{:x}, not ECDSA", signature.sigAlg)});
  }
  const TPMS_SIGNATURE_ECC& ecdsa = signature.signature.ecdsa;
  BignumPtr r(BN_bin2bn(ecdsa.signatureR.buffer, ecdsa.signatureR.size, nullptr));
  BignumPtr s(BN_bin2bn(ecdsa.signatureS.buffer, ecdsa.signatureS.size, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) {
    return std::unexpected(openssl_key_error("ECDSA signature"));
  }
  ECDSA_SIG_set0(sig.get(), r.release(), s.release());  // takes ownership of both
  int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) {
    return std::unexpected(openssl_key_error("encode the ECDSA signature"));
  }
  Bytes der(static_cast<std::size_t>(length));
  unsigned char* cursor = der.data();
  i2d_ECDSA_SIG(sig.get(), &cursor);
  return der;
}

}  // namespace liaison::keys::tpm
