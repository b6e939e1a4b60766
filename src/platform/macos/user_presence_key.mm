// Apple only: compiled and linked by make macos-check, never run (docs/macos.md, "verified where").
#include "platform/macos/user_presence_key.h"

#import <Foundation/Foundation.h>
#import <LocalAuthentication/LocalAuthentication.h>
#import <Security/Security.h>

#include <fmt/format.h>

#include <mutex>

#include "platform/macos/osstatus_errors.h"
#include "platform/macos/secure_enclave_key_format.h"
#include "platform/macos/secure_enclave_keychain.h"

namespace liaison::platform::macos {
namespace {

using protocol::Error;
using protocol::Result;

NSData* const kTag = [@"dev.liaison.presence" dataUsingEncoding:NSUTF8StringEncoding];

Error unavailable(std::string_view what, OSStatus status) {
  auto error = osstatus_error(what, status);
  return Error::application(protocol::codes::kUnavailable, std::move(error.message));
}

// CFErrorRef from SecKey calls carries the OSStatus, or an LAError, as its code.
OSStatus status_of(CFErrorRef error) {
  NSError* ns_error = CFBridgingRelease(error);
  return static_cast<OSStatus>(ns_error.code);
}

class UserPresenceKey final : public agent::PresenceKey {
 public:
  explicit UserPresenceKey(std::string access_group)
      : access_group_(access_group.empty() ? nil : @(access_group.c_str())) {}

  Result<std::vector<uint8_t>> public_key() override {
    SecKeyRef key = find(nil);
    if (key == nullptr) {
      auto made = create();
      if (!made) return std::unexpected(made.error());
      key = *made;
    }
    SecKeyRef public_half = SecKeyCopyPublicKey(key);
    CFRelease(key);
    if (public_half == nullptr) {
      return std::unexpected(
          Error::application(protocol::codes::kUnavailable, "the presence key has no public key"));
    }
    CFErrorRef error = nullptr;
    NSData* point = CFBridgingRelease(SecKeyCopyExternalRepresentation(public_half, &error));
    CFRelease(public_half);
    if (point == nil)
      return std::unexpected(unavailable("reading the presence key", status_of(error)));
    const auto* bytes = static_cast<const uint8_t*>(point.bytes);
    auto spki = p256_spki_from_x963(std::vector<uint8_t>(bytes, bytes + point.length));
    if (!spki)
      return std::unexpected(Error::application(protocol::codes::kUnavailable, spki.error()));
    return *spki;
  }

  void sign(std::vector<uint8_t> message, std::string reason, Signed done) override {
    LAContext* context = [[LAContext alloc] init];
    context.localizedReason = @(reason.c_str());
    {
      std::lock_guard lock(mutex_);
      context_ = context;
      cancelled_ = false;
    }
    NSData* data = [NSData dataWithBytes:message.data() length:message.size()];
    // The prompt blocks the calling thread until the user answers: not the agent's loop.
    dispatch_async(dispatch_get_global_queue(QOS_CLASS_USER_INITIATED, 0), ^{
      done(sign_now(context, data));
    });
  }

  void cancel() override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    [context_ invalidate];
  }

 private:
  Result<std::vector<uint8_t>> sign_now(LAContext* context, NSData* message) {
    SecKeyRef key = find(context);
    if (key == nullptr) {
      return std::unexpected(
          Error::application(protocol::codes::kUnavailable, "this user has no presence key yet"));
    }
    CFErrorRef error = nullptr;
    NSData* signature = CFBridgingRelease(SecKeyCreateSignature(
        key, kSecKeyAlgorithmECDSASignatureMessageX962SHA256, (__bridge CFDataRef)message, &error));
    CFRelease(key);
    if (signature != nil) {
      const auto* bytes = static_cast<const uint8_t*>(signature.bytes);
      return std::vector<uint8_t>(bytes, bytes + signature.length);
    }
    const OSStatus status = status_of(error);
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) {
        return std::unexpected(
            Error::application(protocol::codes::kTimeout, "the prompt was withdrawn"));
      }
    }
    if (status == errSecUserCanceled || status == errSecAuthFailed || status == LAErrorUserCancel ||
        status == LAErrorAuthenticationFailed || status == LAErrorUserFallback) {
      return std::unexpected(Error::application(
          "denied", status == errSecAuthFailed || status == LAErrorAuthenticationFailed
                        ? "authentication failed"
                        : "the user dismissed the prompt"));
    }
    return std::unexpected(unavailable("signing with the presence key", status));
  }

  NSMutableDictionary* query() const {
    NSMutableDictionary* query = secure_enclave_key_query(access_group_);
    query[(id)kSecAttrApplicationTag] = kTag;
    return query;
  }

  // The key, or null. With `context`, using it later goes through that context's prompt.
  SecKeyRef find(LAContext* context) const {
    NSMutableDictionary* q = query();
    q[(id)kSecReturnRef] = @YES;
    q[(id)kSecMatchLimit] = (id)kSecMatchLimitOne;
    if (context != nil) q[(id)kSecUseAuthenticationContext] = context;
    CFTypeRef result = nullptr;
    if (SecItemCopyMatching((__bridge CFDictionaryRef)q, &result) != errSecSuccess) return nullptr;
    return static_cast<SecKeyRef>(const_cast<void*>(result));
  }

  Result<SecKeyRef> create() const {
    CFErrorRef error = nullptr;
    // WhenPasscodeSet: no key on a Mac without a login password, where presence means nothing.
    SecAccessControlRef access = SecAccessControlCreateWithFlags(
        nullptr, kSecAttrAccessibleWhenPasscodeSetThisDeviceOnly,
        kSecAccessControlPrivateKeyUsage | kSecAccessControlUserPresence, &error);
    if (access == nullptr) {
      return std::unexpected(unavailable("the presence key's access control", status_of(error)));
    }
    NSDictionary* attributes = new_secure_enclave_key_attributes(access, access_group_, kTag);
    SecKeyRef key = SecKeyCreateRandomKey((__bridge CFDictionaryRef)attributes, &error);
    if (key == nullptr) {
      return std::unexpected(unavailable("creating the presence key", status_of(error)));
    }
    return key;
  }

  NSString* access_group_;
  std::mutex mutex_;
  LAContext* context_ = nil;  // the prompt in progress, for cancel()
  bool cancelled_ = false;
};

}  // namespace

std::unique_ptr<agent::PresenceKey> make_user_presence_key(std::string access_group) {
  return std::make_unique<UserPresenceKey>(std::move(access_group));
}

}  // namespace liaison::platform::macos
