#include "daemon/attestation_service.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <optional>

#include "keys/fake_attestation.h"
#include "keys/public_key_formats.h"

namespace liaison::daemon {
namespace {

using protocol::Json;

protocol::Result<Json> run(AttestationService& service, const std::string& method,
                           Json params = Json::object()) {
  asio::io_context io;
  std::optional<protocol::Result<Json>> outcome;
  asio::co_spawn(io,
                 service.handle(protocol::Request{.method = method, .params = std::move(params)}),
                 [&](const std::exception_ptr&, protocol::Result<Json> result) {
                   outcome = std::move(result);
                 });
  io.run();
  return outcome.value_or(std::unexpected(protocol::Error::internal("the call did not end")));
}

TEST(AttestationServiceTest, EkShowsEachKeyItsCertificateOrWhyNot) {
  keys::EndorsementEvidence certified{.nv_index = 0x01c00002,
                                      .key_type = "RSA 2048",
                                      .certificate = keys::Bytes{'n', 'o', 't'},
                                      .public_key = keys::Bytes{1, 2, 3},
                                      .template_source = "nv"};
  keys::EndorsementEvidence unknown{
      .nv_index = 0x01c00018,
      .key_type = "ECC NIST P-521",
      .template_source = "profile",
      .problem = keys::KeyError{"unsupported", "no EK template for 0x01c00018"}};
  keys::FakeAttestation attestation(std::vector{certified, unknown});
  AttestationService service([&] { return keys::KeyResult<keys::Attestation*>(&attestation); });

  auto report = run(service, "attest.ek");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->at("tpm"), "fake:tpm");
  const Json& eks = report->at("endorsement_keys");
  ASSERT_EQ(eks.size(), 2u);
  EXPECT_EQ(eks[0].at("nv_index"), "0x01c00002");
  EXPECT_EQ(eks[0].at("template"), "nv");
  EXPECT_EQ(eks[0].at("public_key"), keys::pem_armor("PUBLIC KEY", keys::Bytes{1, 2, 3}));
  EXPECT_TRUE(eks[0].at("problem").is_null());
  // Bytes in NV that are no certificate are shown, with why, not dropped.
  EXPECT_EQ(eks[0].at("certificate").at("pem"),
            keys::pem_armor("CERTIFICATE", keys::Bytes{'n', 'o', 't'}));
  EXPECT_TRUE(eks[0].at("certificate").contains("problem"));
  EXPECT_FALSE(eks[0].at("certificate").contains("issuer"));

  EXPECT_EQ(eks[1].at("nv_index"), "0x01c00018");
  EXPECT_TRUE(eks[1].at("public_key").is_null());
  EXPECT_TRUE(eks[1].at("certificate").is_null());
  EXPECT_EQ(eks[1].at("problem").at("code"), "unsupported");
}

TEST(AttestationServiceTest, EnrollAddsTheAttestationKeyToWhatEkSays) {
  keys::EndorsementEvidence ek{.nv_index = 0x01c00002,
                               .key_type = "RSA 2048",
                               .public_key = keys::Bytes{1},
                               .public_area = keys::Bytes{0, 1, 0xff},
                               .template_source = "profile"};
  keys::Enrollment enrollment{.key = {.public_area = {0xab},
                                      .name = {0x00, 0x0b, 0xc0, 0xfe},
                                      .public_key = {7},
                                      .created = "2026-12-08T03:00:00Z"},
                              .created = true};
  keys::FakeAttestation attestation(std::vector{ek}, enrollment);
  AttestationService service([&] { return keys::KeyResult<keys::Attestation*>(&attestation); });

  auto report = run(service, "attest.enroll");
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->at("created"), true);
  EXPECT_EQ(report->at("endorsement_keys").at(0).at("public_area"), "AAH/");
  const Json& key = report->at("attestation_key");
  EXPECT_EQ(key.at("name"), "000bc0fe");
  EXPECT_EQ(key.at("public_area"), "qw==");
  EXPECT_EQ(key.at("public_key"), keys::pem_armor("PUBLIC KEY", keys::Bytes{7}));
  EXPECT_EQ(key.at("created"), "2026-12-08T03:00:00Z");
  EXPECT_EQ(key.at("certificate_chain"), Json::array());
}

TEST(AttestationServiceTest, ActivateTakesTheCredentialInBase64AndGivesTheSecretSo) {
  keys::FakeAttestation attestation({});
  attestation.activation = keys::Activation{.secret = {'h', 'i'}, .ek_index = 0x01c00002};
  AttestationService service([&] { return keys::KeyResult<keys::Attestation*>(&attestation); });

  auto answer = run(service, "attest.activate", {{"credential", "AQID"}});
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(attestation.activated_with, (keys::Bytes{1, 2, 3}));
  EXPECT_EQ(answer->at("secret"), "aGk=");
  EXPECT_EQ(answer->at("ek_nv_index"), "0x01c00002");

  for (const Json& params :
       {Json::object(), Json{{"credential", 5}}, Json{{"credential", "not base64!"}}}) {
    auto refused = run(service, "attest.activate", params);
    ASSERT_FALSE(refused) << params.dump();
    EXPECT_EQ(refused.error().code, -32602) << params.dump();
  }
}

TEST(AttestationServiceTest, InstallCertNeedsPemCertificatesBeforeTheTpmIsAsked) {
  keys::FakeAttestation attestation({});
  AttestationService service([&] { return keys::KeyResult<keys::Attestation*>(&attestation); });
  for (const Json& params : {Json::object(), Json{{"pem", 1}}, Json{{"pem", "no PEM here"}}}) {
    auto refused = run(service, "attest.install_cert", params);
    ASSERT_FALSE(refused) << params.dump();
    EXPECT_EQ(refused.error().code, -32602) << params.dump();
  }
  EXPECT_TRUE(attestation.installed.empty());
}

TEST(AttestationServiceTest, NoTpmIsTheLookupsErrorOnTheWire) {
  AttestationService service([] {
    return keys::KeyResult<keys::Attestation*>(
        std::unexpected(keys::KeyError{"unavailable", "no TPM at /dev/tpmrm0"}));
  });
  auto report = run(service, "attest.ek");
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().data_code, "unavailable");
  EXPECT_EQ(report.error().message, "no TPM at /dev/tpmrm0");
}

TEST(AttestationServiceTest, ATpmThatFailsIsItsErrorOnTheWire) {
  keys::FakeAttestation attestation(
      std::unexpected(keys::KeyError{"not_permitted", "permission denied on /dev/tpmrm0"}));
  AttestationService service([&] { return keys::KeyResult<keys::Attestation*>(&attestation); });
  auto report = run(service, "attest.ek");
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().data_code, "not_permitted");
  EXPECT_EQ(attestation.endorsement_calls, 1);
}

TEST(AttestationServiceTest, AnUnknownAttestMethodIsMethodNotFound) {
  AttestationService service([] {
    return keys::KeyResult<keys::Attestation*>(std::unexpected(keys::KeyError{"unavailable", ""}));
  });
  auto report = run(service, "attest.nonsense");
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, -32601);
}

}  // namespace
}  // namespace liaison::daemon
