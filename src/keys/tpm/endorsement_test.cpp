#include "keys/tpm/endorsement.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "keys/key_test_support.h"
#include "keys/tpm/testing/swtpm_process.h"

namespace liaison::keys::tpm {
namespace {

using ::testing::HasSubstr;
using testing::run_command;
using testing::TempDir;
using testing::write_file;

std::unique_ptr<TpmConnection> connect(const SwtpmProcess& swtpm) {
  auto tpm = TpmConnection::open(swtpm.tcti());
  if (!tpm) {
    throw std::runtime_error("cannot open the TPM: " + tpm.error().message);
  }
  return std::move(*tpm);
}

// What swtpm_setup --create-ek-cert makes (../shared/notes/tpm-attestation-facts.md): an RSA 2048
// EK certificate in the low range, an ECC P-384 one in the high range, both issued by its CA;
// checked by openssl, not by our code.
TEST(EndorsementTest, ReadsEveryEkCertificateAndEachVerifiesAgainstTheManufacturersCa) {
  auto swtpm = SwtpmProcess::start({.provision_ek_certificates = true});
  ASSERT_TRUE(swtpm) << swtpm.error();
  auto tpm = connect(**swtpm);

  auto certificates = read_ek_certificates(*tpm);
  ASSERT_TRUE(certificates) << certificates.error().message;
  ASSERT_EQ(certificates->size(), 2u);
  EXPECT_EQ((*certificates)[0].nv_index, 0x01c00002u);
  EXPECT_EQ((*certificates)[0].key_type, "RSA 2048");
  EXPECT_EQ((*certificates)[1].nv_index, 0x01c00016u);
  EXPECT_EQ((*certificates)[1].key_type, "ECC NIST P-384");

  TempDir dir;
  for (const EkCertificate& certificate : *certificates) {
    const auto der = dir.path() / "ek.der";
    const auto pem = dir.path() / "ek.pem";
    write_file(der, certificate.der);
    auto converted = run_command(
        {"openssl", "x509", "-inform", "DER", "-in", der.string(), "-out", pem.string()});
    ASSERT_EQ(converted.exit_status, 0) << converted.output;
    auto verified =
        run_command({"openssl", "verify", "-CAfile", (*swtpm)->ek_root_certificate().string(),
                     "-untrusted", (*swtpm)->ek_issuer_certificate().string(), pem.string()});
    EXPECT_EQ(verified.exit_status, 0) << verified.output;
    auto text = run_command({"openssl", "x509", "-in", pem.string(), "-noout", "-text"});
    ASSERT_EQ(text.exit_status, 0) << text.output;
    if (certificate.key_type == "RSA 2048") {
      EXPECT_THAT(text.output, HasSubstr("Public-Key: (2048 bit)"));
      EXPECT_THAT(text.output, HasSubstr("rsaEncryption"));
    } else {
      EXPECT_THAT(text.output, HasSubstr("NIST CURVE: P-384"));
    }
  }
}

TEST(EndorsementTest, ATpmWithoutEkCertificatesHasNone) {
  auto swtpm = SwtpmProcess::start();
  ASSERT_TRUE(swtpm) << swtpm.error();
  auto tpm = connect(**swtpm);
  auto certificates = read_ek_certificates(*tpm);
  ASSERT_TRUE(certificates) << certificates.error().message;
  EXPECT_TRUE(certificates->empty());
}

// An index longer than one TPM2_NV_Read returns comes back whole and in order: read in pieces
// of 100 bytes (11 reads for swtpm's 1 KB RSA certificate), it equals the one-read contents.
TEST(EndorsementTest, ReadsAnIndexLongerThanOneReadWhole) {
  auto swtpm = SwtpmProcess::start({.provision_ek_certificates = true});
  ASSERT_TRUE(swtpm) << swtpm.error();
  auto tpm = connect(**swtpm);
  auto whole = tpm->read_nv(0x01c00002);
  ASSERT_TRUE(whole) << whole.error().message;
  ASSERT_GT(whole->size(), 1000u);
  auto pieces = tpm->read_nv(0x01c00002, /*max_piece=*/100);
  ASSERT_TRUE(pieces) << pieces.error().message;
  EXPECT_EQ(*pieces, *whole);
  ASSERT_EQ((*whole)[0], 0x30);  // a DER SEQUENCE whose two length bytes give the size
  ASSERT_EQ((*whole)[1], 0x82);
  EXPECT_EQ(whole->size(), (std::size_t{(*whole)[2]} << 8 | (*whole)[3]) + 4);
}

TEST(EndorsementTest, AnIndexThatIsNotThereIsAClearError) {
  auto swtpm = SwtpmProcess::start();
  ASSERT_TRUE(swtpm) << swtpm.error();
  auto tpm = connect(**swtpm);
  auto missing = tpm->read_nv(0x01c00002);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not_found");
  EXPECT_THAT(missing.error().message, HasSubstr("has no NV index 0x01c00002"));
}

}  // namespace
}  // namespace liaison::keys::tpm
