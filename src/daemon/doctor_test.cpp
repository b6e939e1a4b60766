#include "daemon/doctor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "keys/key_test_support.h"

namespace liaison::daemon {
namespace {

using keys::testing::bytes_of;
using keys::testing::read_file;
using keys::testing::run_command;
using keys::testing::TempDir;
using protocol::Finding;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

// A DER certificate issued to itself by `issuer`, valid for 10 days from now (openssl).
keys::Bytes certificate_der(const TempDir& dir, const std::string& issuer) {
  const auto path = [&](const char* name) { return (dir.path() / name).string(); };
  auto made =
      run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("k.pem"), "-outform", "DER",
                   "-out", path("c.der"), "-days", "10", "-subj", "/CN=" + issuer});
  if (made.exit_status != 0) {
    throw std::runtime_error(made.output);
  }
  return bytes_of(read_file(path("c.der")));
}

keys::AttestationState with_ek_certificates(const TempDir& dir) {
  keys::AttestationState state;
  for (uint32_t index : {0x01c00002u, 0x01c00016u}) {
    state.ek_certificates.push_back(
        {.nv_index = index, .key_type = "RSA 2048", .certificate = certificate_der(dir, "EK CA")});
  }
  return state;
}

TEST(AttestationFindingTest, BeforeEnrollItIsAFactNotAProblem) {
  TempDir dir;
  const Finding finding = attestation_finding(with_ek_certificates(dir), Clock::now());
  EXPECT_EQ(finding.status, Finding::Status::kInfo);
  EXPECT_EQ(finding.detail, "2 EK certificates (issuer CN=EK CA); no attestation key");
  EXPECT_EQ(finding.facts.at("ek_certificates").size(), 2u);
  EXPECT_EQ(finding.facts.at("ek_certificates").at(1).at("nv_index"), "0x01c00016");
  EXPECT_TRUE(finding.facts.at("attestation_key").is_null());
}

TEST(AttestationFindingTest, AnUncertifiedKeySaysWhatComesNext) {
  TempDir dir;
  keys::AttestationState state = with_ek_certificates(dir);
  state.key = keys::AttestationKey{.name = {0x00, 0x0b, 0x01}, .created = "2026-12-08T04:00:00Z"};
  const Finding finding = attestation_finding(state, Clock::now());
  EXPECT_EQ(finding.status, Finding::Status::kWarn);
  EXPECT_THAT(finding.detail, HasSubstr("enrolled 2026-12-08T04:00:00Z, not certified"));
  EXPECT_THAT(finding.hint, HasSubstr("attest install-cert"));
  EXPECT_EQ(finding.facts.at("attestation_key").at("name"), "000b01");
}

TEST(AttestationFindingTest, AKeyOfAnotherTpmFailsWithTheWayOut) {
  keys::AttestationState state;
  state.key = keys::AttestationKey{.created = "2026-12-08T04:00:00Z"};
  state.key_problem = keys::KeyError{"failed", "integrity check failed"};
  const Finding finding = attestation_finding(state, Clock::now());
  EXPECT_EQ(finding.status, Finding::Status::kFail);
  EXPECT_THAT(finding.detail, HasSubstr("does not load in this TPM: integrity check failed"));
  EXPECT_THAT(finding.hint, HasSubstr("remove /var/lib/liaison/attestation/ak.json"));
}

TEST(AttestationFindingTest, ACertifiedKeyIsOkUntilItsCertificateExpires) {
  TempDir dir;
  keys::AttestationState state;
  state.key = keys::AttestationKey{.created = "2026-12-08T04:00:00Z",
                                   .certificate_chain = {certificate_der(dir, "Attestation CA")}};
  const Finding now = attestation_finding(state, Clock::now());
  EXPECT_EQ(now.status, Finding::Status::kOk);
  EXPECT_THAT(now.detail, HasSubstr("no EK certificate in the TPM; attestation key certified by "
                                    "CN=Attestation CA until "));
  EXPECT_EQ(now.facts.at("attestation_key").at("certificate").at("expired"), false);

  const Finding later = attestation_finding(state, Clock::now() + std::chrono::hours(24 * 11));
  EXPECT_EQ(later.status, Finding::Status::kWarn);
  EXPECT_THAT(later.detail, HasSubstr("EXPIRED"));
  EXPECT_EQ(later.facts.at("attestation_key").at("certificate").at("expired"), true);
}

}  // namespace
}  // namespace liaison::daemon
