#include "keys/tpm/tpm_key_format.h"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
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
using ParamBuildPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM_free>>;

constexpr uint32_t kRsaDefaultExponent = 65537;  // what exponent 0 in a TPM public area means

// OpenSSL's group name and field size in bytes of a TPM curve; nullptr for one it has no name for.
struct Curve {
  const char* name;
  std::size_t size;
};
Curve curve_of(TPMI_ECC_CURVE curve) {
  switch (curve) {
    case TPM2_ECC_NIST_P256:
      return {"P-256", 32};
    case TPM2_ECC_NIST_P384:
      return {"P-384", 48};
    case TPM2_ECC_NIST_P521:
      return {"P-521", 66};
    default:
      return {nullptr, 0};
  }
}

// Appends a coordinate left-padded to `size` bytes; false when it is longer.
bool append_padded(Bytes& out, const TPM2B_ECC_PARAMETER& coordinate, std::size_t size) {
  if (coordinate.size > size) {
    return false;
  }
  out.insert(out.end(), size - coordinate.size, 0);
  out.insert(out.end(), coordinate.buffer, coordinate.buffer + coordinate.size);
  return true;
}

// The public key of `area` as OSSL_PARAMs for EVP_PKEY_fromdata, and the key type's name.
KeyResult<std::pair<ParamsPtr, const char*>> public_key_params(const TPMT_PUBLIC& area) {
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build) {
    return std::unexpected(openssl_key_error("build the public key"));
  }
  const char* type = nullptr;
  BignumPtr modulus;
  BignumPtr exponent;
  Bytes point;
  if (area.type == TPM2_ALG_RSA) {
    type = "RSA";
    const uint32_t e = area.parameters.rsaDetail.exponent;
    modulus.reset(BN_bin2bn(area.unique.rsa.buffer, area.unique.rsa.size, nullptr));
    exponent.reset(BN_new());
    if (!modulus || !exponent ||
        BN_set_word(exponent.get(), e == 0 ? kRsaDefaultExponent : e) != 1 ||
        OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
      return std::unexpected(openssl_key_error("build the RSA public key"));
    }
  } else if (area.type == TPM2_ALG_ECC) {
    type = "EC";
    const Curve curve = curve_of(area.parameters.eccDetail.curveID);
    if (curve.name == nullptr) {
      return std::unexpected(KeyError{
          "unsupported", fmt::format("ECC curve 0x{:x} is not one liaison reads (NIST P-256, "
                                     "P-384, P-521)",
                                     area.parameters.eccDetail.curveID)});
    }
    point.push_back(kUncompressedPoint);
    if (!append_padded(point, area.unique.ecc.x, curve.size) ||
        !append_padded(point, area.unique.ecc.y, curve.size)) {
      return std::unexpected(KeyError{
          "failed", fmt::format("an ECC coordinate over {} bytes on {}", curve.size, curve.name)});
    }
    if (OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.name, 0) !=
            1 ||
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return std::unexpected(openssl_key_error("build the ECC public key"));
    }
  } else {
    return std::unexpected(KeyError{
        "unsupported", fmt::format("a TPM key of type 0x{:x}, neither RSA nor ECC", area.type)});
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(build.get()));
  if (!params) {
    return std::unexpected(openssl_key_error("build the public key"));
  }
  return std::pair{std::move(params), type};
}

KeyError invalid_wrapped(std::string_view why) {
  return KeyError{"failed", fmt::format("not a liaison TPM key: {}", why)};
}

bool is_liaison_signing_key(const TPMT_PUBLIC& area) {
  const TPMS_ECC_PARMS& ecc = area.parameters.eccDetail;
  constexpr TPMA_OBJECT kRequired = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT;
  // Keys made since issue 14 leave the scheme to TPM2_Sign (NULL); older ones fix ECDSA/SHA-256.
  const bool scheme_ok =
      ecc.scheme.scheme == TPM2_ALG_NULL ||
      (ecc.scheme.scheme == TPM2_ALG_ECDSA && ecc.scheme.details.ecdsa.hashAlg == TPM2_ALG_SHA256);
  return area.type == TPM2_ALG_ECC && ecc.curveID == TPM2_ECC_NIST_P256 && scheme_ok &&
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
  // No scheme in the key: TPM2_Sign names ECDSA/SHA-256 itself. WebAuthn verifiers of `tpm`
  // attestation (python-fido2) read only ECC public areas whose scheme is NULL.
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return key;
}

TPM2B_PUBLIC attestation_key_template() {
  TPM2B_PUBLIC key = signing_key_template();
  key.publicArea.objectAttributes |= TPMA_OBJECT_RESTRICTED;
  TPMS_ECC_PARMS& ecc = key.publicArea.parameters.eccDetail;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;  // a restricted signing key signs with its own scheme
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  return key;
}

namespace {

template <typename T, auto marshal>
KeyResult<Bytes> marshal_structure(const T& value) {
  Bytes bytes(sizeof(T));
  std::size_t size = 0;
  if (marshal(&value, bytes.data(), bytes.size(), &size) != TSS2_RC_SUCCESS) {
    return std::unexpected(KeyError{"failed", "marshal a TPM structure"});
  }
  bytes.resize(size);
  return bytes;
}

template <typename T, auto unmarshal>
KeyResult<T> unmarshal_structure(std::span<const uint8_t> bytes, std::string_view what) {
  T value{};
  std::size_t offset = 0;
  if (unmarshal(bytes.data(), bytes.size(), &offset, &value) != TSS2_RC_SUCCESS ||
      offset != bytes.size()) {
    return std::unexpected(KeyError{"failed", fmt::format("not a {}", what)});
  }
  return value;
}

}  // namespace

KeyResult<Bytes> object_name(const TPMT_PUBLIC& area) {
  const EVP_MD* digest = area.nameAlg == TPM2_ALG_SHA256   ? EVP_sha256()
                         : area.nameAlg == TPM2_ALG_SHA384 ? EVP_sha384()
                                                           : nullptr;
  if (digest == nullptr) {
    return std::unexpected(KeyError{
        "unsupported", fmt::format("an object's name algorithm 0x{:x} (SHA-256 and SHA-384 "
                                   "are read)",
                                   area.nameAlg)});
  }
  auto marshalled = marshal_public_area(area);
  if (!marshalled) {
    return std::unexpected(marshalled.error());
  }
  Bytes name = {static_cast<uint8_t>(area.nameAlg >> 8), static_cast<uint8_t>(area.nameAlg & 0xff)};
  name.resize(2 + static_cast<std::size_t>(EVP_MD_get_size(digest)));
  unsigned int length = 0;
  if (EVP_Digest(marshalled->data(), marshalled->size(), name.data() + 2, &length, digest,
                 nullptr) != 1) {
    return std::unexpected(openssl_key_error("hash a public area"));
  }
  return name;
}

KeyResult<Bytes> marshal_public_area(const TPMT_PUBLIC& area) {
  return marshal_structure<TPMT_PUBLIC, Tss2_MU_TPMT_PUBLIC_Marshal>(area);
}
KeyResult<Bytes> marshal_public(const TPM2B_PUBLIC& public_area) {
  return marshal_structure<TPM2B_PUBLIC, Tss2_MU_TPM2B_PUBLIC_Marshal>(public_area);
}
KeyResult<TPM2B_PUBLIC> unmarshal_public(std::span<const uint8_t> bytes) {
  return unmarshal_structure<TPM2B_PUBLIC, Tss2_MU_TPM2B_PUBLIC_Unmarshal>(bytes, "TPM2B_PUBLIC");
}
KeyResult<Bytes> marshal_private(const TPM2B_PRIVATE& private_area) {
  return marshal_structure<TPM2B_PRIVATE, Tss2_MU_TPM2B_PRIVATE_Marshal>(private_area);
}
KeyResult<TPM2B_PRIVATE> unmarshal_private(std::span<const uint8_t> bytes) {
  return unmarshal_structure<TPM2B_PRIVATE, Tss2_MU_TPM2B_PRIVATE_Unmarshal>(bytes,
                                                                             "TPM2B_PRIVATE");
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
  if (!append_padded(spki, point.x, kP256CoordinateSize) ||
      !append_padded(spki, point.y, kP256CoordinateSize)) {
    return std::unexpected(KeyError{"failed", "the TPM returned a P-256 point over 32 bytes"});
  }
  // Decoding checks the point is on the curve: a key nobody can verify with is refused here.
  if (auto parsed = parse_p256_spki(spki); !parsed) {
    return std::unexpected(
        KeyError{"failed", fmt::format("the TPM's public key: {}", parsed.error().message)});
  }
  return spki;
}

KeyResult<Bytes> spki_from_any_public_area(const TPMT_PUBLIC& area) {
  auto params = public_key_params(area);
  if (!params) {
    return std::unexpected(params.error());
  }
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, params->second, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params->first.get()) != 1) {
    return std::unexpected(openssl_key_error("read the TPM's public key"));
  }
  EvpPkeyPtr key(raw);
  // fromdata takes an EC point without checking it: a point off the curve is refused here.
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return std::unexpected(openssl_key_error("check the TPM's public key"));
  }
  return encode_spki(key.get());
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
