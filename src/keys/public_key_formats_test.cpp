#include "keys/public_key_formats.h"

#include <gtest/gtest.h>

#include "keys/key_test_support.h"
#include "keys/software_provider.h"

namespace liaison::keys {
namespace {

using testing::bytes_of;
using testing::from_hex;
using testing::run_command;
using testing::TempDir;
using testing::write_file;

// RFC 7517 appendix A.1's P-256 key. The SPKI and the compressed SPKI were built from x and y with
// Python's base64 and checked with `openssl pkey -pubin -text`; the RFC 7638 thumbprint was
// computed with Python's hashlib and matches what jose4j and Nimbus publish for this key.
constexpr std::string_view kRfcX = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
constexpr std::string_view kRfcY = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
constexpr std::string_view kRfcThumbprint = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";
constexpr std::string_view kRfcXHex =
    "30a0424cd21c2944838a2d75c92b37e76ea20d9f00893a3b4eee8a3c0aafec3e";
constexpr std::string_view kRfcYHex =
    "e04b65e92456d9888b52b379bdfbd51ee869ef1f0fc65b6659695b6cce081723";
constexpr std::string_view kRfcSpkiHex =
    "3059301306072a8648ce3d020106082a8648ce3d030107034200"
    "0430a0424cd21c2944838a2d75c92b37e76ea20d9f00893a3b4eee8a3c0aafec3e"
    "e04b65e92456d9888b52b379bdfbd51ee869ef1f0fc65b6659695b6cce081723";
constexpr std::string_view kRfcCompressedSpkiHex =
    "3039301306072a8648ce3d020106082a8648ce3d030107032200"
    "0330a0424cd21c2944838a2d75c92b37e76ea20d9f00893a3b4eee8a3c0aafec3e";

Bytes fresh_spki() {
  SoftwareKeyProvider provider;
  return (*provider.generate())->public_key_spki();
}

TEST(PublicKeyFormats, JwkOfTheRfc7517KeyHasItsCoordinatesAndTheKnownThumbprint) {
  auto jwk = public_key_jwk(from_hex(kRfcSpkiHex));
  ASSERT_TRUE(jwk) << jwk.error().message;
  EXPECT_EQ(
      *jwk,
      (nlohmann::json{
          {"kty", "EC"}, {"crv", "P-256"}, {"x", kRfcX}, {"y", kRfcY}, {"kid", kRfcThumbprint}}));
  EXPECT_EQ(*jwk_thumbprint(from_hex(kRfcSpkiHex)), kRfcThumbprint);
}

TEST(PublicKeyFormats, ReadsTheCoordinatesOfAnUncompressedOrCompressedPoint) {
  for (auto hex : {kRfcSpkiHex, kRfcCompressedSpkiHex}) {
    auto point = p256_point_from_spki(from_hex(hex));
    ASSERT_TRUE(point) << point.error().message;
    EXPECT_EQ(point->x, from_hex(kRfcXHex));
    EXPECT_EQ(point->y, from_hex(kRfcYHex));
  }
  EXPECT_EQ(*jwk_thumbprint(from_hex(kRfcCompressedSpkiHex)), kRfcThumbprint);
}

TEST(PublicKeyFormats, BuildsTheSpkiOfAPointAndRefusesAPointOffTheCurve) {
  auto spki = spki_from_p256_point(from_hex(kRfcXHex), from_hex(kRfcYHex));
  ASSERT_TRUE(spki) << spki.error().message;
  EXPECT_EQ(*spki, from_hex(kRfcSpkiHex));
  Bytes wrong_y = from_hex(kRfcYHex);
  wrong_y.back() ^= 1;
  auto off_curve = spki_from_p256_point(from_hex(kRfcXHex), wrong_y);
  ASSERT_FALSE(off_curve);
  EXPECT_EQ(off_curve.error().code, "invalid_params");
  EXPECT_FALSE(spki_from_p256_point(Bytes(31, 1), Bytes(32, 1)));
}

TEST(PublicKeyFormats, PemIsReadBackByOpensslAsTheSameKey) {
  TempDir dir;
  Bytes spki = fresh_spki();
  auto pem = public_key_pem(spki);
  ASSERT_TRUE(pem);
  EXPECT_TRUE(pem->starts_with("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_TRUE(pem->ends_with("\n-----END PUBLIC KEY-----\n"));
  write_file(dir.path() / "pub.pem", *pem);
  auto result = run_command({"openssl", "pkey", "-pubin", "-in", (dir.path() / "pub.pem").string(),
                             "-outform", "DER", "-out", (dir.path() / "pub.der").string()});
  ASSERT_EQ(result.exit_status, 0) << result.output;
  EXPECT_EQ(bytes_of(testing::read_file(dir.path() / "pub.der")), spki);
}

TEST(PublicKeyFormats, PemOfTheRfcKeyMatchesOpensslsOwnPem) {
  TempDir dir;
  write_file(dir.path() / "pub.der", from_hex(kRfcSpkiHex));
  auto openssl_pem = run_command(
      {"openssl", "pkey", "-pubin", "-inform", "DER", "-in", (dir.path() / "pub.der").string()});
  ASSERT_EQ(openssl_pem.exit_status, 0) << openssl_pem.output;
  EXPECT_EQ(*public_key_pem(from_hex(kRfcSpkiHex)), openssl_pem.output);
}

TEST(PublicKeyFormats, FormatPublicKeyWritesWhatEachFormatPromises) {
  Bytes spki = from_hex(kRfcSpkiHex);
  EXPECT_EQ(*format_public_key(spki, PublicKeyFormat::kDer), spki);
  EXPECT_EQ(*format_public_key(spki, PublicKeyFormat::kPem), bytes_of(*public_key_pem(spki)));
  Bytes jwk = *format_public_key(spki, PublicKeyFormat::kJwk);
  ASSERT_EQ(jwk.back(), '\n');
  std::string text(jwk.begin(), jwk.end() - 1);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(text)["kid"], kRfcThumbprint);
}

TEST(PublicKeyFormats, RefusesWhatIsNotAP256PublicKey) {
  TempDir dir;
  auto made = run_command({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                           "ec_paramgen_curve:P-384", "-out", (dir.path() / "p384.pem").string()});
  ASSERT_EQ(made.exit_status, 0) << made.output;
  auto exported =
      run_command({"openssl", "pkey", "-in", (dir.path() / "p384.pem").string(), "-pubout",
                   "-outform", "DER", "-out", (dir.path() / "p384.der").string()});
  ASSERT_EQ(exported.exit_status, 0) << exported.output;
  Bytes p384 = bytes_of(testing::read_file(dir.path() / "p384.der"));
  Bytes trailing = from_hex(kRfcSpkiHex);
  trailing.push_back(0);
  for (const Bytes& spki : {Bytes{}, bytes_of("garbage"), p384, trailing}) {
    for (auto format : {PublicKeyFormat::kPem, PublicKeyFormat::kDer, PublicKeyFormat::kJwk}) {
      auto result = format_public_key(spki, format);
      ASSERT_FALSE(result);
      EXPECT_EQ(result.error().code, "invalid_params");
    }
  }
  EXPECT_NE(p256_point_from_spki(p384).error().message.find("not an EC P-256 key"),
            std::string::npos);
}

TEST(PublicKeyFormats, ParsesFormatNames) {
  EXPECT_EQ(*parse_public_key_format("pem"), PublicKeyFormat::kPem);
  EXPECT_EQ(*parse_public_key_format("der"), PublicKeyFormat::kDer);
  EXPECT_EQ(*parse_public_key_format("jwk"), PublicKeyFormat::kJwk);
  auto unknown = parse_public_key_format("PEM");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("use pem, der or jwk"), std::string::npos);
  EXPECT_EQ(public_key_format_name(PublicKeyFormat::kJwk), "jwk");
}

TEST(Base64, EncodesTheRfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(bytes_of(plain)), encoded);
    EXPECT_EQ(base64_decode(encoded), bytes_of(plain)) << encoded;
  }
}

TEST(Base64, UrlFormUsesDashUnderscoreAndNoPadding) {
  EXPECT_EQ(base64url_encode(Bytes{0xfb, 0xff}), "-_8");
  EXPECT_EQ(base64_encode(Bytes{0xfb, 0xff}), "+/8=");
  EXPECT_EQ(base64url_encode(bytes_of("f")), "Zg");
}

TEST(Base64, DecodingIsStrict) {
  for (std::string_view bad :
       {"Zg", "Zg=", "Z===", "====", "Zm9v\n", "Zm 9v", "-_8=", "Zg==Zg=="}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

}  // namespace
}  // namespace liaison::keys
