// Apple only, Objective-C++ (.mm files only). What liaison's Secure Enclave keys look like in the
// data protection keychain, shared by the key provider (secure_enclave_provider.mm) and the
// presence key (user_presence_key.mm): P-256, in the Secure Enclave, in `access_group` or the
// app's default group when it is nil ([keys] keychain_access_group = "").
#pragma once

#import <Foundation/Foundation.h>
#import <Security/Security.h>

namespace liaison::platform::macos {

// The query that names our private keys; the caller adds what picks one (a label, a tag).
inline NSMutableDictionary* secure_enclave_key_query(NSString* access_group) {
  NSMutableDictionary* query = [@{
    (id)kSecClass : (id)kSecClassKey,
    (id)kSecAttrKeyType : (id)kSecAttrKeyTypeECSECPrimeRandom,
    (id)kSecAttrTokenID : (id)kSecAttrTokenIDSecureEnclave,
    (id)kSecAttrKeyClass : (id)kSecAttrKeyClassPrivate,
    (id)kSecUseDataProtectionKeychain : @YES,
  } mutableCopy];
  if (access_group != nil) query[(id)kSecAttrAccessGroup] = access_group;
  return query;
}

// SecKeyCreateRandomKey's attributes for a new permanent key with `access` (which they take
// over) and, when not nil, the application tag `tag`.
inline NSDictionary* new_secure_enclave_key_attributes(SecAccessControlRef access,
                                                       NSString* access_group, NSData* tag) {
  NSMutableDictionary* private_attributes = [@{
    (id)kSecAttrIsPermanent : @YES,
    (id)kSecAttrAccessControl : (__bridge_transfer id)access,
  } mutableCopy];
  if (access_group != nil) private_attributes[(id)kSecAttrAccessGroup] = access_group;
  if (tag != nil) private_attributes[(id)kSecAttrApplicationTag] = tag;
  return @{
    (id)kSecAttrKeyType : (id)kSecAttrKeyTypeECSECPrimeRandom,
    (id)kSecAttrKeySizeInBits : @256,
    (id)kSecAttrTokenID : (id)kSecAttrTokenIDSecureEnclave,
    (id)kSecUseDataProtectionKeychain : @YES,
    (id)kSecPrivateKeyAttrs : private_attributes,
  };
}

}  // namespace liaison::platform::macos
