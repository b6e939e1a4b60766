// Apple only: compiled and linked by make macos-check, never run (docs/macos.md, "verified where").
// The wrapped form of a key is its keychain application label (SHA-1 of the public point): it
// finds the key again on this Mac and is useless anywhere else.
#include "platform/macos/secure_enclave_provider.h"

#import <Foundation/Foundation.h>
#import <Security/Security.h>

#include <fmt/format.h>

#include "platform/macos/osstatus_errors.h"
#include "platform/macos/secure_enclave_key_format.h"
#include "platform/macos/secure_enclave_keychain.h"

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

// The query that names our keys in the data protection keychain: in `access_group`, or in the
// app's default group when it is nil ([keys] keychain_access_group = ""). With a label: one key
// (also used to delete it); without: all of them.
NSMutableDictionary* key_query(NSString* access_group, NSData* application_label) {
  NSMutableDictionary* query = secure_enclave_key_query(access_group);
  if (application_label != nil) query[(id)kSecAttrApplicationLabel] = application_label;
  return query;
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
  // An empty group leaves kSecAttrAccessGroup out: the keychain then uses the app's default
  // group, the first entry of its keychain-access-groups entitlement.
  explicit SecureEnclaveProvider(std::string access_group)
      : access_group_(access_group.empty() ? nil : @(access_group.c_str())) {}

  std::string name() const override { return "secure-enclave"; }
  keys::KeyContext context() const override { return keys::KeyContext::kUserSession; }
  bool hardware_backed() const override { return true; }

  KeyResult<std::unique_ptr<keys::UnexportableSigningKey>> generate() override {
    CFErrorRef error = nullptr;
    SecAccessControlRef access =
        SecAccessControlCreateWithFlags(nullptr, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
                                        kSecAccessControlPrivateKeyUsage, &error);
    if (!access) return std::unexpected(key_error("creating the key's access control", error));
    NSDictionary* attributes = new_secure_enclave_key_attributes(access, access_group_, nil);
    SecKeyRef private_key = SecKeyCreateRandomKey((__bridge CFDictionaryRef)attributes, &error);
    if (!private_key) return std::unexpected(key_error("creating a Secure Enclave key", error));
    return wrap(private_key);
  }

  KeyResult<std::unique_ptr<keys::UnexportableSigningKey>> from_wrapped(
      std::span<const uint8_t> wrapped) override {
    NSMutableDictionary* query = key_query(access_group_, data_from(wrapped));
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

  // Two checks, cheapest first, both read-only for the keychain: (1) the Secure Enclave makes a
  // throwaway key that is never stored (kSecAttrIsPermanent NO: no keychain item, so no
  // entitlement question yet) -- fails on Macs without one (no T2 / Apple silicon) and, per
  // Apple DTS, in daemons; (2) a search for our keys in the data protection keychain group,
  // which gives errSecMissingEntitlement (-34018) exactly when generate() would. Uncertain (no
  // Mac here): whether (1) alone ever needs the entitlement; if it does, (1) reports -34018 too,
  // which the same message explains.
  KeyResult<keys::ProviderDescription> describe() override {
    CFErrorRef error = nullptr;
    SecAccessControlRef access =
        SecAccessControlCreateWithFlags(nullptr, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
                                        kSecAccessControlPrivateKeyUsage, &error);
    if (!access) return std::unexpected(key_error("creating an access control", error));
    NSDictionary* throwaway_attributes = @{
      (id)kSecAttrKeyType : (id)kSecAttrKeyTypeECSECPrimeRandom,
      (id)kSecAttrKeySizeInBits : @256,
      (id)kSecAttrTokenID : (id)kSecAttrTokenIDSecureEnclave,
      (id)kSecPrivateKeyAttrs : @{
        (id)kSecAttrIsPermanent : @NO,
        (id)kSecAttrAccessControl : (__bridge_transfer id)access,
      },
    };
    SecKeyRef throwaway =
        SecKeyCreateRandomKey((__bridge CFDictionaryRef)throwaway_attributes, &error);
    if (!throwaway) {
      return std::unexpected(key_error("making a throwaway Secure Enclave key", error));
    }
    CFRelease(throwaway);

    NSMutableDictionary* query = key_query(access_group_, nil);
    query[(id)kSecMatchLimit] = (id)kSecMatchLimitAll;
    query[(id)kSecReturnAttributes] = @YES;
    CFTypeRef result = nullptr;
    const OSStatus status = SecItemCopyMatching((__bridge CFDictionaryRef)query, &result);
    NSArray* items = CFBridgingRelease(result);  // nil when nothing was returned
    if (status != errSecSuccess && status != errSecItemNotFound) {
      return std::unexpected(key_error("searching the keychain for Secure Enclave keys", status));
    }
    const std::size_t count = status == errSecSuccess ? items.count : 0;
    const std::string group =
        access_group_ != nil ? std::string(access_group_.UTF8String) : std::string();
    return keys::ProviderDescription{
        .summary = fmt::format(
            "Secure Enclave (P-256), keys in the data protection keychain, group {}; {} key{} "
            "there",
            group.empty() ? "the app's default" : group, count, count == 1 ? "" : "s"),
        .facts = {{"hardware_backed", true},
                  {"access_group", group},
                  {"data_protection_keychain", true},
                  {"keys", count}},
        .problem = "",
        .fix = ""};
  }

 private:
  NSString* access_group_;  // nil: the app's default group
};

}  // namespace

std::unique_ptr<keys::UnexportableKeyProvider> make_secure_enclave_provider(
    std::string access_group) {
  return std::make_unique<SecureEnclaveProvider>(std::move(access_group));
}

}  // namespace liaison::platform::macos
