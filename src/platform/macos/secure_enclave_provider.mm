// Apple only, not compiled on the Linux build host: see docs/macos.md "verified here".
// The wrapped form of a key is its keychain application label (SHA-1 of the public point): it
// finds the key again on this Mac and is useless anywhere else.
#include "platform/macos/secure_enclave_provider.h"

#import <Foundation/Foundation.h>
#import <Security/Security.h>

#include <fmt/format.h>

#include "platform/macos/osstatus_errors.h"
#include "platform/macos/secure_enclave_key_format.h"

namespace liaison::platform::macos {
namespace {

using keys::Bytes;
using keys::KeyError;
using keys::KeyResult;

KeyError key_error(std::string_view what, OSStatus status) {
  auto error = osstatus_error(what, status);
  return KeyError{std::move(error.code), std::move(error.message)};
}

// CFErrorRef from SecKey calls carries the OSStatus as its code (NSOSStatusErrorDomain).
KeyError key_error(std::string_view what, CFErrorRef error) {
  NSError* ns_error = CFBridgingRelease(error);
  return key_error(what, static_cast<OSStatus>(ns_error.code));
}

NSData* data_from(std::span<const uint8_t> bytes) {
  return [NSData dataWithBytes:bytes.data() length:bytes.size()];
}

Bytes bytes_from(NSData* data) {
  const auto* begin = static_cast<const uint8_t*>(data.bytes);
  return Bytes(begin, begin + data.length);
}

// The query that names one of our keys; also used to delete it.
NSDictionary* key_query(NSString* access_group, NSData* application_label) {
  return @{
    (id)kSecClass : (id)kSecClassKey,
    (id)kSecAttrKeyType : (id)kSecAttrKeyTypeECSECPrimeRandom,
    (id)kSecAttrTokenID : (id)kSecAttrTokenIDSecureEnclave,
    (id)kSecAttrKeyClass : (id)kSecAttrKeyClassPrivate,
    (id)kSecAttrApplicationLabel : application_label,
    (id)kSecAttrAccessGroup : access_group,
    (id)kSecUseDataProtectionKeychain : @YES,
  };
}

class SecureEnclaveKey final : public keys::UnexportableSigningKey {
 public:
  SecureEnclaveKey(SecKeyRef private_key, Bytes spki, Bytes application_label)
      : private_key_(private_key), spki_(std::move(spki)), label_(std::move(application_label)) {}
  ~SecureEnclaveKey() override { CFRelease(private_key_); }
  SecureEnclaveKey(const SecureEnclaveKey&) = delete;
  SecureEnclaveKey& operator=(const SecureEnclaveKey&) = delete;

  Bytes public_key_spki() const override { return spki_; }
  Bytes wrapped_key() const override { return label_; }
  bool hardware_backed() const override { return true; }

  KeyResult<Bytes> sign_digest(std::span<const uint8_t> digest) override {
    if (digest.size() != 32) {
      return std::unexpected(KeyError{"invalid_params", "a SHA-256 digest is 32 bytes"});
    }
    // The Digest variant signs our digest as given (the Message variant would hash it again);
    // both return ASN.1 DER, as the interface promises.
    CFErrorRef error = nullptr;
    NSData* signature = CFBridgingRelease(
        SecKeyCreateSignature(private_key_, kSecKeyAlgorithmECDSASignatureDigestX962SHA256,
                              (__bridge CFDataRef)data_from(digest), &error));
    if (!signature) return std::unexpected(key_error("signing with the Secure Enclave", error));
    return bytes_from(signature);
  }

 private:
  SecKeyRef private_key_;
  Bytes spki_;
  Bytes label_;
};

// Public half and application label of a private key we hold.
KeyResult<std::unique_ptr<keys::UnexportableSigningKey>> wrap(SecKeyRef private_key) {
  SecKeyRef public_key = SecKeyCopyPublicKey(private_key);
  if (!public_key) {
    CFRelease(private_key);
    return std::unexpected(KeyError{"failed", "the Secure Enclave key has no public key"});
  }
  CFErrorRef error = nullptr;
  NSData* point = CFBridgingRelease(SecKeyCopyExternalRepresentation(public_key, &error));
  CFRelease(public_key);
  if (!point) {
    CFRelease(private_key);
    return std::unexpected(key_error("reading the public key", error));
  }
  NSDictionary* attributes = CFBridgingRelease(SecKeyCopyAttributes(private_key));
  NSData* label = attributes[(id)kSecAttrApplicationLabel];
  auto spki = p256_spki_from_x963(bytes_from(point));
  if (!spki || !label) {
    CFRelease(private_key);
    return std::unexpected(
        KeyError{"failed", spki ? "the key has no application label" : spki.error()});
  }
  return std::make_unique<SecureEnclaveKey>(private_key, std::move(*spki), bytes_from(label));
}

class SecureEnclaveProvider final : public keys::UnexportableKeyProvider {
 public:
  explicit SecureEnclaveProvider(std::string access_group)
      : access_group_(@(access_group.c_str())) {}

  std::string name() const override { return "secure-enclave"; }
  keys::KeyContext context() const override { return keys::KeyContext::kUserSession; }
  bool hardware_backed() const override { return true; }

  KeyResult<std::unique_ptr<keys::UnexportableSigningKey>> generate() override {
    CFErrorRef error = nullptr;
    SecAccessControlRef access =
        SecAccessControlCreateWithFlags(nullptr, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
                                        kSecAccessControlPrivateKeyUsage, &error);
    if (!access) return std::unexpected(key_error("creating the key's access control", error));
    NSDictionary* attributes = @{
      (id)kSecAttrKeyType : (id)kSecAttrKeyTypeECSECPrimeRandom,
      (id)kSecAttrKeySizeInBits : @256,
      (id)kSecAttrTokenID : (id)kSecAttrTokenIDSecureEnclave,
      (id)kSecUseDataProtectionKeychain : @YES,
      (id)kSecPrivateKeyAttrs : @{
        (id)kSecAttrIsPermanent : @YES,
        (id)kSecAttrAccessControl : (__bridge_transfer id)access,
        (id)kSecAttrAccessGroup : access_group_,
      },
    };
    SecKeyRef private_key = SecKeyCreateRandomKey((__bridge CFDictionaryRef)attributes, &error);
    if (!private_key) return std::unexpected(key_error("creating a Secure Enclave key", error));
    return wrap(private_key);
  }

  KeyResult<std::unique_ptr<keys::UnexportableSigningKey>> from_wrapped(
      std::span<const uint8_t> wrapped) override {
    NSMutableDictionary* query = [key_query(access_group_, data_from(wrapped)) mutableCopy];
    query[(id)kSecReturnRef] = @YES;
    query[(id)kSecMatchLimit] = (id)kSecMatchLimitOne;
    CFTypeRef result = nullptr;
    const OSStatus status = SecItemCopyMatching((__bridge CFDictionaryRef)query, &result);
    if (status != errSecSuccess) {
      return std::unexpected(key_error("finding the Secure Enclave key", status));
    }
    return wrap(static_cast<SecKeyRef>(const_cast<void*>(result)));
  }

  KeyResult<void> erase(std::span<const uint8_t> wrapped) override {
    const OSStatus status =
        SecItemDelete((__bridge CFDictionaryRef)key_query(access_group_, data_from(wrapped)));
    if (status != errSecSuccess && status != errSecItemNotFound) {
      return std::unexpected(key_error("deleting the Secure Enclave key", status));
    }
    return {};
  }

 private:
  NSString* access_group_;
};

}  // namespace

std::unique_ptr<keys::UnexportableKeyProvider> make_secure_enclave_provider(
    std::string access_group) {
  return std::make_unique<SecureEnclaveProvider>(std::move(access_group));
}

}  // namespace liaison::platform::macos
