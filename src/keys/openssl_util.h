// Owning pointers for the OpenSSL objects the key code uses, and OpenSSL's error queue turned into
// a message. Private to liaison_keys (and the TPM provider): nothing here is part of the key API.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "keys/unexportable_key.h"

namespace liaison::keys {

// unique_ptr deleter calling OpenSSL's own free function, e.g. OpenSslDeleter<EVP_PKEY_free>.
template <auto free_function>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* object) const {
    free_function(object);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, OpenSslDeleter<PKCS8_PRIV_KEY_INFO_free>>;

// `what` followed by the oldest error OpenSSL queued on this thread ("parse key: ... asn1 ...").
// Empties the queue: a stale entry would otherwise be blamed on the next, unrelated call.
std::string openssl_error(std::string_view what);

// The same, as a KeyError with code `failed`.
KeyError openssl_key_error(std::string_view what);

// Parses a DER SubjectPublicKeyInfo and insists on an EC key on P-256 (NIST prime256v1), the only
// kind of key liaison makes. Trailing bytes after the DER are refused.
KeyResult<EvpPkeyPtr> parse_p256_spki(std::span<const uint8_t> spki);

// True when `key` is an EC key on P-256.
bool is_p256_key(const EVP_PKEY* key);

// DER SubjectPublicKeyInfo of `key`'s public half.
KeyResult<Bytes> encode_spki(const EVP_PKEY* key);

}  // namespace liaison::keys
