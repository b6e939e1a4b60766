#include "keys/tpm/endorsement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "keys/key_test_support.h"
#include "keys/tpm/testing/connect.h"
#include "keys/tpm/testing/swtpm_process.h"

namespace liaison::keys::tpm {
namespace {

using testing::bytes_of;
using ::testing::HasSubstr;
using testing::read_file;
using testing::run_command;
using testing::TempDir;
using testing::write_file;

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

// The DER SubjectPublicKeyInfo in a certificate, as openssl extracts it.
Bytes certificate_spki(const TempDir& dir, const Bytes& certificate_der) {
  const auto der = dir.path() / "cert.der";
  const auto pem = dir.path() / "pub.pem";
  const auto spki = dir.path() / "pub.der";
  write_file(der, certificate_der);
  auto extracted = run_command({"openssl", "x509", "-inform", "DER", "-in", der.string(), "-pubkey",
                                "-noout", "-out", pem.string()});
  if (extracted.exit_status != 0) {
    throw std::runtime_error("openssl x509 -pubkey: " + extracted.output);
  }
  auto converted = run_command(
      {"openssl", "pkey", "-pubin", "-in", pem.string(), "-outform", "DER", "-out", spki.string()});
  if (converted.exit_status != 0) {
    throw std::runtime_error("openssl pkey: " + converted.output);
  }
  return bytes_of(read_file(spki));
}

// A TPM manufactured by swtpm_setup with `options`: for each EK certificate, the EK derived for
// its index is the key the certificate certifies (openssl's reading of it), made from a
// template in NV or not as `template_from_nv` says, and with every bit of `attributes` set.
void expect_each_ek_is_its_certificates_key(SwtpmOptions options, bool template_from_nv,
                                            TPMA_OBJECT attributes) {
  auto swtpm = SwtpmProcess::start(std::move(options));
  ASSERT_TRUE(swtpm) << swtpm.error();
  auto tpm = connect(**swtpm);
  auto certificates = read_ek_certificates(*tpm);
  ASSERT_TRUE(certificates) << certificates.error().message;
  ASSERT_EQ(certificates->size(), 2u);

  TempDir dir;
  for (const EkCertificate& certificate : *certificates) {
    SCOPED_TRACE(certificate.key_type);
    auto ek = read_endorsement_key(*tpm, certificate.nv_index);
    ASSERT_TRUE(ek) << ek.error().message;
    EXPECT_EQ(ek->template_from_nv, template_from_nv);
    EXPECT_EQ(ek->spki, certificate_spki(dir, certificate.der));
    EXPECT_EQ(ek->public_area.publicArea.objectAttributes & attributes, attributes);
  }
}

// The key each EK certificate certifies is the one the profile's template makes in this TPM:
// what an attestation CA encrypts its credential to.
TEST(EndorsementTest, TheEkFromTheProfileTemplateIsTheKeyItsCertificateCertifies) {
  expect_each_ek_is_its_certificates_key({.provision_ek_certificates = true},
                                         /*template_from_nv=*/false, TPMA_OBJECT_RESTRICTED);
}

// swtpm_setup --allow-signing makes its EKs from templates of its own (sign and decrypt, not
// restricted) and stores them in NV beside the certificates: those, not the profile's, give the
// certified key.
TEST(EndorsementTest, ATemplateStoredInNvBesideTheCertificateIsTheOneUsed) {
  expect_each_ek_is_its_certificates_key(
      {.provision_ek_certificates = true, .ek_allows_signing = true},
      /*template_from_nv=*/true, TPMA_OBJECT_SIGN_ENCRYPT);
}

// The low range's ECC P-256 EK (no certificate on swtpm) is the one tpm2-tools' tpm2_createek
// makes from the same profile template: checked against an implementation not ours.
TEST(EndorsementTest, TheLowRangeEccEkIsTheOneTpm2CreateekMakes) {
  auto swtpm = SwtpmProcess::start();
  ASSERT_TRUE(swtpm) << swtpm.error();
  Bytes ours;
  {
    auto tpm = connect(**swtpm);
    auto ek = read_endorsement_key(*tpm, 0x01c0000a);
    ASSERT_TRUE(ek) << ek.error().message;
    ours = ek->spki;
  }  // swtpm serves one connection at a time: ours closes before tpm2-tools connects
  TempDir dir;
  const auto pem = dir.path() / "ek.pem";
  auto created =
      run_command({"tpm2_createek", "-T", (*swtpm)->tcti(), "-c", (dir.path() / "ek.ctx").string(),
                   "-G", "ecc", "-u", pem.string(), "-f", "pem"});
  ASSERT_EQ(created.exit_status, 0) << created.output;
  const auto der = dir.path() / "ek.der";
  auto converted = run_command(
      {"openssl", "pkey", "-pubin", "-in", pem.string(), "-outform", "DER", "-out", der.string()});
  ASSERT_EQ(converted.exit_status, 0) << converted.output;
  EXPECT_EQ(ours, bytes_of(read_file(der)));
}

TEST(EndorsementTest, AnIndexWithoutAKnownTemplateIsUnsupportedAndSaysWhich) {
  auto swtpm = SwtpmProcess::start();
  ASSERT_TRUE(swtpm) << swtpm.error();
  auto tpm = connect(**swtpm);
  auto ek = read_endorsement_key(*tpm, 0x01c00018);  // ECC P-521, high range
  ASSERT_FALSE(ek);
  EXPECT_EQ(ek.error().code, "unsupported");
  EXPECT_THAT(ek.error().message, HasSubstr("0x01c00018"));
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
