#include "keys/tpm/tpm_attestation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <tss2_mu.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "keys/key_test_support.h"
#include "keys/public_key_formats.h"
#include "keys/tpm/endorsement.h"
#include "keys/tpm/testing/connect.h"
#include "keys/tpm/testing/swtpm_process.h"
#include "keys/tpm/tpm_key_format.h"
#include "keys/x509_summary.h"

namespace liaison::keys::tpm {
namespace {

using testing::bytes_of;
using ::testing::HasSubstr;
using testing::read_file;
using testing::run_command;
using testing::TempDir;
using testing::write_file;

// Each test gets a swtpm of its own (start_tpm) and a state directory, the daemon's
// /var/lib/liaison; a TpmAttestation made again over them is a daemon started again.
class TpmAttestationTest : public ::testing::Test {
 protected:
  void start_tpm(SwtpmOptions options = {}) {
    auto started = SwtpmProcess::start(std::move(options));
    ASSERT_TRUE(started) << started.error();
    swtpm_ = std::move(*started);
  }

  std::unique_ptr<SwtpmProcess> swtpm_;
  TempDir state_;
};

TEST_F(TpmAttestationTest, EachEkCertificateComesWithItsEksPublicKey) {
  ASSERT_NO_FATAL_FAILURE(start_tpm({.provision_ek_certificates = true}));
  auto tpm = connect(*swtpm_);
  TpmAttestation attestation(tpm, state_.path());

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
    // Its TPM2B_PUBLIC, what a CA's tpm2_makecredential reads, is the same key.
    auto area = unmarshal_public(ek.public_area.value_or(Bytes{}));
    ASSERT_TRUE(area) << area.error().message;
    auto spki = spki_from_any_public_area(area->publicArea);
    ASSERT_TRUE(spki) << spki.error().message;
    EXPECT_EQ(*spki, derived->spki);
  }
  EXPECT_EQ((*evidence)[0].key_type, "RSA 2048");
  EXPECT_EQ((*evidence)[1].key_type, "ECC NIST P-384");

  auto again = attestation.endorsement();  // from memory, after listing the indices
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[1].public_key, (*evidence)[1].public_key);
}

TEST_F(TpmAttestationTest, ATpmWithoutCertificatesShowsTheLowRangeEksWithoutCertificates) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  TpmAttestation attestation(connect(*swtpm_), state_.path());

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

TEST_F(TpmAttestationTest, EnrollMakesTheAttestationKeyOnceAndKeepsItForRootAlone) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  Enrollment first;
  {
    TpmAttestation attestation(connect(*swtpm_), state_.path());
    auto enrolled = attestation.enroll();
    ASSERT_TRUE(enrolled) << enrolled.error().message;
    EXPECT_TRUE(enrolled->created);
    first = *enrolled;
  }
  struct stat file {};
  ASSERT_EQ(::stat((state_.path() / "attestation/ak.json").c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 07777, 0600u);
  struct stat directory {};
  ASSERT_EQ(::stat((state_.path() / "attestation").c_str(), &directory), 0);
  EXPECT_EQ(directory.st_mode & 07777, 0700u);

  auto area = unmarshal_public(first.key.public_area);
  ASSERT_TRUE(area) << area.error().message;
  constexpr TPMA_OBJECT kRestrictedSigning = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                             TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                             TPMA_OBJECT_SENSITIVEDATAORIGIN;
  EXPECT_EQ(area->publicArea.objectAttributes & kRestrictedSigning, kRestrictedSigning);
  EXPECT_TRUE(first.key.certificate_chain.empty());

  // A daemon started again (a new connection, the same state) finds the same key.
  TpmAttestation again(connect(*swtpm_), state_.path());
  auto second = again.enroll();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->key.name, first.key.name);
  EXPECT_EQ(second->key.public_area, first.key.public_area);
  EXPECT_EQ(second->key.created, first.key.created);
}

// The name a CA binds its credential to, as the TPM itself computes it (tpm2_loadexternal).
TEST_F(TpmAttestationTest, TheAttestationKeysNameIsTheOneTheTpmComputes) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  TpmAttestation attestation(connect(*swtpm_), state_.path());
  auto enrolled = attestation.enroll();
  ASSERT_TRUE(enrolled) << enrolled.error().message;
  EXPECT_EQ(enrolled->key.name.size(), 34u);  // SHA-256 name alg, then the digest

  const auto public_file = state_.path() / "ak.pub";
  const auto name_file = state_.path() / "ak.name";
  write_file(public_file, enrolled->key.public_area);
  auto loaded =
      run_command({"tpm2_loadexternal", "-T", swtpm_->tcti(), "-C", "n", "-u", public_file.string(),
                   "-c", (state_.path() / "ak.ctx").string(), "-n", name_file.string()});
  ASSERT_EQ(loaded.exit_status, 0) << loaded.output;
  EXPECT_EQ(enrolled->key.name, bytes_of(read_file(name_file)));
}

TEST_F(TpmAttestationTest, AnAttestationKeyOfAnotherTpmIsAnErrorNamingTheFileNeverReplaced) {
  {
    auto first_tpm = SwtpmProcess::start();
    ASSERT_TRUE(first_tpm) << first_tpm.error();
    TpmAttestation attestation(connect(**first_tpm), state_.path());
    ASSERT_TRUE(attestation.enroll());
  }
  const std::string before = read_file(state_.path() / "attestation/ak.json");
  auto other_tpm = SwtpmProcess::start();  // a TPM with other seeds: as if cleared or replaced
  ASSERT_TRUE(other_tpm) << other_tpm.error();
  TpmAttestation attestation(connect(**other_tpm), state_.path());
  auto enrolled = attestation.enroll();
  ASSERT_FALSE(enrolled);
  EXPECT_THAT(enrolled.error().message, HasSubstr("does not load in this TPM"));
  EXPECT_THAT(enrolled.error().message,
              HasSubstr((state_.path() / "attestation/ak.json").string()));
  EXPECT_EQ(read_file(state_.path() / "attestation/ak.json"), before);
}

TEST_F(TpmAttestationTest, ADamagedOrPlantedKeyFileIsRefusedWithWhy) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  TpmAttestation attestation(connect(*swtpm_), state_.path());
  std::filesystem::create_directory(state_.path() / "attestation");
  write_file(state_.path() / "attestation/ak.json", std::string_view("{\"version\": 1}"));
  auto damaged = attestation.enroll();
  ASSERT_FALSE(damaged);
  EXPECT_THAT(damaged.error().message, HasSubstr("is damaged"));

  std::filesystem::remove(state_.path() / "attestation/ak.json");
  write_file(state_.path() / "elsewhere.json", std::string_view("{}"));
  std::filesystem::create_symlink(state_.path() / "elsewhere.json",
                                  state_.path() / "attestation/ak.json");
  auto planted = attestation.enroll();
  ASSERT_FALSE(planted);
  EXPECT_EQ(read_file(state_.path() / "elsewhere.json"), "{}");
}

std::string hex(const Bytes& bytes) {
  std::string text;
  for (uint8_t byte : bytes) {
    text += "0123456789abcdef"[byte >> 4];
    text += "0123456789abcdef"[byte & 0xf];
  }
  return text;
}

// What an attestation CA does, with tpm2-tools and no TPM (-T none): a credential of `secret`
// for the key named `name`, encrypted to the EK whose public key is `ek_spki`.
Bytes make_credential(const TempDir& dir, const Bytes& ek_spki, const char* algorithm,
                      const Bytes& name, const Bytes& secret) {
  const auto ek = dir.path() / "ek.pem";
  const auto secret_file = dir.path() / "secret.bin";
  const auto out = dir.path() / "credential.bin";
  write_file(ek, pem_armor("PUBLIC KEY", ek_spki));
  write_file(secret_file, secret);
  auto made = run_command({"tpm2_makecredential", "-T", "none", "-u", ek.string(), "-G", algorithm,
                           "-s", secret_file.string(), "-n", hex(name), "-o", out.string()});
  if (made.exit_status != 0) {
    throw std::runtime_error("tpm2_makecredential: " + made.output);
  }
  return bytes_of(read_file(out));
}

const EndorsementEvidence& ek_at(const std::vector<EndorsementEvidence>& evidence, uint32_t index) {
  for (const EndorsementEvidence& ek : evidence) {
    if (ek.nv_index == index) {
      return ek;
    }
  }
  throw std::runtime_error("no EK at that index");
}

// The CA's secret comes back only from this TPM, for this AK: with either low-range EK.
TEST_F(TpmAttestationTest, ActivateRecoversTheCasSecretForTheAttestationKey) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  TpmAttestation attestation(connect(*swtpm_), state_.path());
  auto enrolled = attestation.enroll();
  ASSERT_TRUE(enrolled) << enrolled.error().message;
  auto evidence = attestation.endorsement();
  ASSERT_TRUE(evidence) << evidence.error().message;

  struct Case {
    uint32_t index;
    const char* algorithm;
  };
  for (const Case& c : {Case{0x01c00002, "rsa"}, Case{0x01c0000a, "ecc"}}) {
    SCOPED_TRACE(c.algorithm);
    const EndorsementEvidence& ek = ek_at(*evidence, c.index);
    ASSERT_TRUE(ek.public_key);
    const Bytes secret = bytes_of(std::string("the CA's nonce: ") + c.algorithm);
    const Bytes credential = make_credential(state_, ek.public_key.value_or(Bytes{}), c.algorithm,
                                             enrolled->key.name, secret);
    auto activated = attestation.activate(credential);
    ASSERT_TRUE(activated) << activated.error().message;
    EXPECT_EQ(activated->secret, secret);
    EXPECT_EQ(activated->ek_index, c.index);
  }
}

TEST_F(TpmAttestationTest, ACredentialForAnotherKeyOrBeforeEnrollIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  TpmAttestation attestation(connect(*swtpm_), state_.path());
  auto evidence = attestation.endorsement();
  ASSERT_TRUE(evidence) << evidence.error().message;
  const Bytes rsa_ek = ek_at(*evidence, 0x01c00002).public_key.value_or(Bytes{});

  Bytes some_name(34, 0x11);
  some_name[0] = 0x00;
  some_name[1] = 0x0b;
  auto early =
      attestation.activate(make_credential(state_, rsa_ek, "rsa", some_name, bytes_of("nonce")));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, "not_found");
  EXPECT_THAT(early.error().message, HasSubstr("liaison attest enroll"));

  auto enrolled = attestation.enroll();
  ASSERT_TRUE(enrolled) << enrolled.error().message;
  Bytes other_name = enrolled->key.name;
  other_name.back() ^= 1;
  auto refused =
      attestation.activate(make_credential(state_, rsa_ek, "rsa", other_name, bytes_of("nonce")));
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("the TPM refused the credential"));

  auto garbage = attestation.activate(bytes_of("not a credential"));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, "invalid_params");
}

// What a CA issues for `spki` (DER), made with the openssl command: its certificate and the CA's,
// PEM, leaf first.
std::string certificate_chain_for(const TempDir& dir, const Bytes& spki) {
  const auto path = [&](const char* name) { return (dir.path() / name).string(); };
  write_file(path("subject.pem"), pem_armor("PUBLIC KEY", spki));
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "30", "-subj",
            "/CN=attestation CA"},
           {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", path("any.key"), "-out", path("any.csr"), "-subj", "/"},
           {"openssl", "x509", "-req", "-in", path("any.csr"), "-force_pubkey", path("subject.pem"),
            "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial", "-days", "10",
            "-out", path("ak.pem")}}) {
    auto result = run_command(argv);
    if (result.exit_status != 0) {
      throw std::runtime_error(result.output);
    }
  }
  return read_file(path("ak.pem")) + read_file(path("ca.pem"));
}

TEST_F(TpmAttestationTest, AnInstalledCertificateChainIsKeptWithTheKey) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  TpmAttestation attestation(connect(*swtpm_), state_.path());
  auto before = attestation.install_certificate({bytes_of("x")});
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, "not_found");

  auto enrolled = attestation.enroll();
  ASSERT_TRUE(enrolled) << enrolled.error().message;
  auto chain = certificates_from_pem(certificate_chain_for(state_, enrolled->key.public_key));
  ASSERT_TRUE(chain) << chain.error().message;
  auto installed = attestation.install_certificate(*chain);
  ASSERT_TRUE(installed) << installed.error().message;
  EXPECT_EQ(installed->certificate_chain, *chain);
  EXPECT_EQ(installed->name, enrolled->key.name);

  TpmAttestation again(connect(*swtpm_), state_.path());  // a restarted daemon
  auto reloaded = again.enroll();
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_EQ(reloaded->key.certificate_chain, *chain);

  // A chain for another key is refused, and the installed one stays.
  TempDir other;
  auto other_key =
      run_command({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                   "-out", (other.path() / "k.pem").string()});
  ASSERT_EQ(other_key.exit_status, 0) << other_key.output;
  auto other_spki =
      run_command({"openssl", "pkey", "-in", (other.path() / "k.pem").string(), "-pubout",
                   "-outform", "DER", "-out", (other.path() / "k.der").string()});
  ASSERT_EQ(other_spki.exit_status, 0) << other_spki.output;
  auto wrong = certificates_from_pem(
      certificate_chain_for(other, bytes_of(read_file(other.path() / "k.der"))));
  ASSERT_TRUE(wrong) << wrong.error().message;
  auto refused = again.install_certificate(*wrong);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "invalid_params");
  EXPECT_THAT(refused.error().message, HasSubstr("certifies another key"));
  EXPECT_EQ(again.enroll()->key.certificate_chain, *chain);
}

// The AK's signature over certInfo checks with its certified public key (OpenSSL), and certInfo
// is a TPM-made certification of exactly that key's name with the caller's extraData.
TEST_F(TpmAttestationTest, CertifyIsTheTpmVouchingForThatKeyWithTheCallersData) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  auto tpm = connect(*swtpm_);
  TpmAttestation attestation(tpm, state_.path());
  auto key_blob = tpm->create_signing_key();
  ASSERT_TRUE(key_blob) << key_blob.error().message;
  auto wrapped = wrap_key_blob(*key_blob);
  ASSERT_TRUE(wrapped) << wrapped.error().message;
  const Bytes extra(32, 0x5a);

  auto no_ak = attestation.certify(*wrapped, extra);
  ASSERT_FALSE(no_ak);
  EXPECT_EQ(no_ak.error().code, "not_found");
  auto enrolled = attestation.enroll();
  ASSERT_TRUE(enrolled) << enrolled.error().message;
  auto uncertified = attestation.certify(*wrapped, extra);
  ASSERT_FALSE(uncertified);
  EXPECT_THAT(uncertified.error().message, HasSubstr("install-cert"));
  auto chain = certificates_from_pem(certificate_chain_for(state_, enrolled->key.public_key));
  ASSERT_TRUE(chain) << chain.error().message;
  ASSERT_TRUE(attestation.install_certificate(*chain));

  auto certified = attestation.certify(*wrapped, extra);
  ASSERT_TRUE(certified) << certified.error().message;
  EXPECT_EQ(tpm->loaded_key_count(), 0u);  // the AK and the key are flushed again at once
  EXPECT_EQ(certified->ak_certificate_chain, *chain);
  EXPECT_TRUE(testing::signature_verifies(enrolled->key.public_key, certified->certify_info,
                                          certified->signature));

  TPMS_ATTEST attest{};
  std::size_t offset = 0;
  ASSERT_EQ(Tss2_MU_TPMS_ATTEST_Unmarshal(certified->certify_info.data(),
                                          certified->certify_info.size(), &offset, &attest),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(offset, certified->certify_info.size());
  EXPECT_EQ(attest.magic, TPM2_GENERATED_VALUE);
  EXPECT_EQ(attest.type, TPM2_ST_ATTEST_CERTIFY);
  EXPECT_EQ(Bytes(attest.extraData.buffer, attest.extraData.buffer + attest.extraData.size), extra);
  TPMT_PUBLIC area{};
  offset = 0;
  ASSERT_EQ(Tss2_MU_TPMT_PUBLIC_Unmarshal(certified->public_area.data(),
                                          certified->public_area.size(), &offset, &area),
            TSS2_RC_SUCCESS);
  auto name = object_name(area);
  ASSERT_TRUE(name) << name.error().message;
  const TPM2B_NAME& certified_name = attest.attested.certify.name;
  EXPECT_EQ(Bytes(certified_name.name, certified_name.name + certified_name.size), *name);
  auto spki = spki_from_any_public_area(area);
  ASSERT_TRUE(spki) << spki.error().message;
  auto expected_spki = spki_from_public_area(key_blob->public_area);
  ASSERT_TRUE(expected_spki);
  EXPECT_EQ(*spki, *expected_spki);

  // Not a TPM key of liaison's: refused before the TPM is asked.
  auto software = attestation.certify(bytes_of("-----BEGIN PRIVATE KEY-----"), extra);
  ASSERT_FALSE(software);
  EXPECT_THAT(software.error().message, HasSubstr("not a liaison TPM key"));
}

TEST_F(TpmAttestationTest, ATpmThatStoppedAnsweringIsUnavailable) {
  ASSERT_NO_FATAL_FAILURE(start_tpm());
  TpmAttestation attestation(connect(*swtpm_), state_.path());
  swtpm_->kill();
  auto evidence = attestation.endorsement();
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, "unavailable");
}

}  // namespace
}  // namespace liaison::keys::tpm
