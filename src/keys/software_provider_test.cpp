#include "keys/software_provider.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <cstddef>
#include <thread>

#include "keys/key_test_support.h"
#include "keys/openssl_util.h"
#include "keys/public_key_formats.h"

namespace liaison::keys {
namespace {

using testing::bytes_of;
using testing::from_hex;
using testing::run_command;
using testing::signature_verifies;
using testing::TempDir;
using testing::write_file;

std::unique_ptr<UnexportableSigningKey> generate_key(SoftwareKeyProvider& provider) {
  auto key = provider.generate();
  if (!key) {
    throw std::runtime_error(key.error().message);
  }
  return std::move(*key);
}

Bytes sign_message(UnexportableSigningKey& key, std::string_view message) {
  auto signature = key.sign_digest(sha256(bytes_of(message)));
  if (!signature) {
    throw std::runtime_error(signature.error().message);
  }
  return *signature;
}

TEST(KeyContextName, NamesBothContexts) {
  EXPECT_EQ(key_context_name(KeyContext::kDaemon), "daemon");
  EXPECT_EQ(key_context_name(KeyContext::kUserSession), "user-session");
}

TEST(Sha256, MatchesTheFips180Vectors) {
  EXPECT_EQ(sha256(bytes_of("abc")),
            from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  EXPECT_EQ(sha256(bytes_of("")),
            from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

TEST(SoftwareKeyProvider, SaysWhatItIsAndWhereItRuns) {
  SoftwareKeyProvider daemon_side;
  EXPECT_EQ(daemon_side.name(), "software");
  EXPECT_FALSE(daemon_side.hardware_backed());
  EXPECT_EQ(daemon_side.context(), KeyContext::kDaemon);
  SoftwareKeyProvider session_side(KeyContext::kUserSession);
  EXPECT_EQ(session_side.context(), KeyContext::kUserSession);
  EXPECT_FALSE(generate_key(session_side)->hardware_backed());
}

TEST(SoftwareKeyProvider, GeneratesDistinctP256Keys) {
  SoftwareKeyProvider provider;
  auto first = generate_key(provider);
  auto second = generate_key(provider);
  EXPECT_NE(first->public_key_spki(), second->public_key_spki());
  auto point = p256_point_from_spki(first->public_key_spki());
  ASSERT_TRUE(point) << point.error().message;
  EXPECT_EQ(point->x.size(), 32u);
}

TEST(SoftwareKeyProvider, SignaturesVerifyInProcessAndTamperingIsCaught) {
  SoftwareKeyProvider provider;
  auto key = generate_key(provider);
  const std::string message = "restart the print server at 22:00";
  Bytes signature = sign_message(*key, message);
  EXPECT_TRUE(signature_verifies(key->public_key_spki(), bytes_of(message), signature));
  EXPECT_FALSE(signature_verifies(key->public_key_spki(), bytes_of(message + "!"), signature));
  Bytes flipped = signature;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(signature_verifies(key->public_key_spki(), bytes_of(message), flipped));
  auto other = generate_key(provider);
  EXPECT_FALSE(signature_verifies(other->public_key_spki(), bytes_of(message), signature));
}

TEST(SoftwareKeyProvider, OpensslDgstVerifiesSignaturesAndRejectsATamperedMessage) {
  TempDir dir;
  SoftwareKeyProvider provider;
  auto key = generate_key(provider);
  const std::string message = "deploy 4f2a9c to production\n";
  auto pem = public_key_pem(key->public_key_spki());
  ASSERT_TRUE(pem);
  write_file(dir.path() / "pub.pem", *pem, 0644);
  write_file(dir.path() / "message", message, 0644);
  write_file(dir.path() / "tampered", "deploy 4f2a9d to production\n", 0644);
  write_file(dir.path() / "sig.der", sign_message(*key, message), 0644);
  auto verify = [&](const char* file) {
    return run_command({"openssl", "dgst", "-sha256", "-verify", (dir.path() / "pub.pem").string(),
                        "-signature", (dir.path() / "sig.der").string(),
                        (dir.path() / file).string()});
  };
  auto accepted = verify("message");
  EXPECT_EQ(accepted.exit_status, 0) << accepted.output;
  EXPECT_NE(accepted.output.find("Verified OK"), std::string::npos) << accepted.output;
  auto rejected = verify("tampered");
  EXPECT_EQ(rejected.exit_status, 1) << rejected.output;
  EXPECT_NE(rejected.output.find("Verification failure"), std::string::npos) << rejected.output;
}

TEST(SoftwareKeyProvider, RefusesDigestsThatAreNot32Bytes) {
  SoftwareKeyProvider provider;
  auto key = generate_key(provider);
  for (std::size_t size : {0, 1, 20, 31, 33, 48, 64}) {
    Bytes digest(size, 0x42);
    auto signature = key->sign_digest(digest);
    ASSERT_FALSE(signature) << size;
    EXPECT_EQ(signature.error().code, "invalid_params");
    EXPECT_NE(signature.error().message.find("32 bytes"), std::string::npos)
        << signature.error().message;
  }
}

TEST(SoftwareKeyProvider, WrappedFormReloadsTheSameKey) {
  SoftwareKeyProvider provider;
  auto original = generate_key(provider);
  auto reloaded = provider.from_wrapped(original->wrapped_key());
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_EQ((*reloaded)->public_key_spki(), original->public_key_spki());
  EXPECT_EQ((*reloaded)->wrapped_key(), original->wrapped_key());
  const std::string message = "signed after a restart";
  EXPECT_TRUE(signature_verifies(original->public_key_spki(), bytes_of(message),
                                 sign_message(**reloaded, message)));
}

TEST(SoftwareKeyProvider, WrappedFormIsPkcs8ThatOpensslReads) {
  TempDir dir;
  SoftwareKeyProvider provider;
  auto key = generate_key(provider);
  write_file(dir.path() / "key.der", key->wrapped_key());
  auto result =
      run_command({"openssl", "pkey", "-inform", "DER", "-in", (dir.path() / "key.der").string(),
                   "-pubout", "-outform", "DER", "-out", (dir.path() / "pub.der").string()});
  ASSERT_EQ(result.exit_status, 0) << result.output;
  EXPECT_EQ(bytes_of(testing::read_file(dir.path() / "pub.der")), key->public_key_spki());
  // PKCS#8 PrivateKeyInfo starts SEQUENCE { INTEGER 0, SEQUENCE { id-ecPublicKey ... } }.
  auto info = run_command(
      {"openssl", "asn1parse", "-inform", "DER", "-in", (dir.path() / "key.der").string()});
  EXPECT_NE(info.output.find("id-ecPublicKey"), std::string::npos) << info.output;
}

TEST(SoftwareKeyProvider, GarbageWrappedKeysAreClearErrors) {
  SoftwareKeyProvider provider;
  Bytes wrapped = generate_key(provider)->wrapped_key();
  Bytes truncated(wrapped.begin(),
                  wrapped.begin() + static_cast<std::ptrdiff_t>(wrapped.size() / 2));
  Bytes trailing = wrapped;
  trailing.push_back(0);
  for (const Bytes& garbage : {Bytes{}, bytes_of("not a key at all"), truncated, trailing}) {
    auto key = provider.from_wrapped(garbage);
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code, "failed");
    EXPECT_NE(key.error().message.find("software key: wrapped key is"), std::string::npos)
        << key.error().message;
  }
}

TEST(SoftwareKeyProvider, RefusesAKeyOnAnotherCurve) {
  EvpPkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_TRUE(p384);
  Pkcs8Ptr info(EVP_PKEY2PKCS8(p384.get()));
  unsigned char* der = nullptr;
  int length = i2d_PKCS8_PRIV_KEY_INFO(info.get(), &der);
  ASSERT_GT(length, 0);
  Bytes wrapped(der, der + length);
  OPENSSL_free(der);
  SoftwareKeyProvider provider;
  auto key = provider.from_wrapped(wrapped);
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("not an EC P-256 key"), std::string::npos)
      << key.error().message;
}

TEST(SoftwareKeyProvider, EraseHasNothingToDo) {
  SoftwareKeyProvider provider;
  EXPECT_TRUE(provider.erase(generate_key(provider)->wrapped_key()));
}

TEST(SoftwareKeyProvider, EightThreadsSharingOneKeyMakeOnlyValidSignatures) {
  SoftwareKeyProvider provider;
  auto key = generate_key(provider);
  const Bytes spki = key->public_key_spki();
  std::atomic<int> valid{0};
  std::vector<std::thread> signers;
  signers.reserve(8);
  for (int thread = 0; thread < 8; ++thread) {
    signers.emplace_back([&, thread] {
      for (int i = 0; i < 125; ++i) {
        std::string message = fmt::format("signer {} message {}", thread, i);
        auto signature = key->sign_digest(sha256(bytes_of(message)));
        if (signature && signature_verifies(spki, bytes_of(message), *signature)) {
          ++valid;
        }
      }
    });
  }
  for (auto& signer : signers) {
    signer.join();
  }
  EXPECT_EQ(valid.load(), 1000);
}

}  // namespace
}  // namespace liaison::keys
