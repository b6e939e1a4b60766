#include "keys/tpm/tpm_attestation.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>

#include "keys/tpm/endorsement.h"
#include "keys/tpm/testing/swtpm_process.h"

namespace liaison::keys::tpm {
namespace {

std::shared_ptr<TpmConnection> connect(const SwtpmProcess& swtpm) {
  auto tpm = TpmConnection::open(swtpm.tcti());
  if (!tpm) {
    throw std::runtime_error("cannot open the TPM: " + tpm.error().message);
  }
  return std::move(*tpm);
}

TEST(TpmAttestationTest, EachEkCertificateComesWithItsEksPublicKey) {
  auto swtpm = SwtpmProcess::start({.provision_ek_certificates = true});
  ASSERT_TRUE(swtpm) << swtpm.error();
  auto tpm = connect(**swtpm);
  TpmAttestation attestation(tpm);

  auto evidence = attestation.endorsement();
  ASSERT_TRUE(evidence) << evidence.error().message;
  ASSERT_EQ(evidence->size(), 2u);
  for (const EndorsementEvidence& ek : *evidence) {
    SCOPED_TRACE(ek.key_type);
    ASSERT_TRUE(ek.certificate);
    ASSERT_TRUE(ek.public_key) << (ek.problem ? ek.problem->message : "");
    EXPECT_FALSE(ek.problem);
    EXPECT_EQ(ek.template_source, "profile");
    auto derived = read_endorsement_key(*tpm, ek.nv_index);
    ASSERT_TRUE(derived) << derived.error().message;
    EXPECT_EQ(ek.public_key, std::optional<Bytes>(derived->spki));
  }
  EXPECT_EQ((*evidence)[0].key_type, "RSA 2048");
  EXPECT_EQ((*evidence)[1].key_type, "ECC NIST P-384");

  auto again = attestation.endorsement();  // from memory, after listing the indices
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[1].public_key, (*evidence)[1].public_key);
}

TEST(TpmAttestationTest, ATpmWithoutCertificatesShowsTheLowRangeEksWithoutCertificates) {
  auto swtpm = SwtpmProcess::start();
  ASSERT_TRUE(swtpm) << swtpm.error();
  TpmAttestation attestation(connect(**swtpm));

  auto evidence = attestation.endorsement();
  ASSERT_TRUE(evidence) << evidence.error().message;
  ASSERT_EQ(evidence->size(), 2u);
  EXPECT_EQ((*evidence)[0].nv_index, 0x01c00002u);
  EXPECT_EQ((*evidence)[1].nv_index, 0x01c0000au);
  for (const EndorsementEvidence& ek : *evidence) {
    EXPECT_FALSE(ek.certificate);
    EXPECT_TRUE(ek.public_key);
  }
}

TEST(TpmAttestationTest, ATpmThatStoppedAnsweringIsUnavailable) {
  auto swtpm = SwtpmProcess::start();
  ASSERT_TRUE(swtpm) << swtpm.error();
  TpmAttestation attestation(connect(**swtpm));
  (*swtpm)->kill();
  auto evidence = attestation.endorsement();
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, "unavailable");
}

}  // namespace
}  // namespace liaison::keys::tpm
