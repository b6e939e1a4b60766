#include "keys/x509_summary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "keys/key_test_support.h"

namespace liaison::keys {
namespace {

using testing::bytes_of;
using ::testing::HasSubstr;
using testing::read_file;
using testing::run_command;
using testing::TempDir;

// What openssl itself prints for `field` of the certificate (e.g. "-subject" gives
// "subject=CN=...").
std::string openssl_field(const std::string& pem_path, const std::string& field) {
  auto printed =
      run_command({"openssl", "x509", "-in", pem_path, "-noout", "-nameopt", "RFC2253", field});
  if (printed.exit_status != 0) {
    throw std::runtime_error(printed.output);
  }
  std::string line = printed.output.substr(printed.output.find('=') + 1);
  while (!line.empty() && line.back() == '\n') {
    line.pop_back();
  }
  return line;
}

TEST(X509SummaryTest, SaysWhatOpensslSaysOfACertificate) {
  TempDir dir;
  const std::string key = (dir.path() / "key.pem").string();
  const std::string pem = (dir.path() / "cert.pem").string();
  const std::string der = (dir.path() / "cert.der").string();
  auto made =
      run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem, "-days", "30",
                   "-subj", "/O=liaison test/CN=EK issuer, \"quoted\"", "-set_serial", "0x1fe0"});
  ASSERT_EQ(made.exit_status, 0) << made.output;
  auto converted = run_command({"openssl", "x509", "-in", pem, "-outform", "DER", "-out", der});
  ASSERT_EQ(converted.exit_status, 0) << converted.output;

  auto summary = summarize_certificate(bytes_of(read_file(der)));
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(summary->subject, openssl_field(pem, "-subject"));
  EXPECT_EQ(summary->issuer, openssl_field(pem, "-issuer"));
  EXPECT_THAT(summary->subject, HasSubstr("CN=EK issuer\\, \\\"quoted\\\""));
  EXPECT_EQ(summary->serial, "1fe0");
  EXPECT_EQ(summary->pem, read_file(pem));
  // openssl prints "notAfter=Jan  7 03:30:00 2027 GMT"; ours is ISO 8601: compare by year.
  EXPECT_THAT(openssl_field(pem, "-enddate"), HasSubstr(summary->not_after.substr(0, 4)));
  EXPECT_EQ(summary->not_after.size(), std::string("2026-12-08T03:30:00Z").size());
  EXPECT_EQ(summary->not_after.back(), 'Z');
}

TEST(X509SummaryTest, WhatIsNotACertificateIsRefused) {
  auto garbage = summarize_certificate(bytes_of("not a certificate"));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, "invalid_params");
  EXPECT_FALSE(summarize_certificate({}));
}

// A CA and a leaf it issued for an EC key, made by openssl; the leaf key's SPKI as DER.
struct Chain {
  TempDir dir;
  std::string ca_pem;
  std::string leaf_pem;
  Bytes leaf_spki;
};

std::string openssl_ok(const std::vector<std::string>& argv) {
  auto result = run_command(argv);
  if (result.exit_status != 0) {
    throw std::runtime_error(result.output);
  }
  return result.output;
}

std::unique_ptr<Chain> make_chain(const std::string& ca_name) {
  auto chain = std::make_unique<Chain>();
  const auto path = [&](const char* name) { return (chain->dir.path() / name).string(); };
  openssl_ok({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "30", "-subj",
              "/CN=" + ca_name});
  openssl_ok({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", path("leaf.key"), "-out", path("leaf.csr"), "-subj",
              "/CN=leaf"});
  openssl_ok({"openssl", "x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey",
              path("ca.key"), "-CAcreateserial", "-days", "10", "-out", path("leaf.pem")});
  openssl_ok({"openssl", "pkey", "-in", path("leaf.key"), "-pubout", "-outform", "DER", "-out",
              path("leaf.spki")});
  chain->ca_pem = read_file(path("ca.pem"));
  chain->leaf_pem = read_file(path("leaf.pem"));
  chain->leaf_spki = bytes_of(read_file(path("leaf.spki")));
  return chain;
}

TEST(CertificateChainTest, ReadsEveryCertificateOfPemTextInOrder) {
  auto chain = make_chain("CA one");
  auto read =
      certificates_from_pem("the AK's:\n" + chain->leaf_pem + "its CA's:\n" + chain->ca_pem + "\n");
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ(summarize_certificate((*read)[1])->subject, "CN=CA one");

  EXPECT_EQ(certificates_from_pem("nothing here").error().code, "invalid_params");
  std::string damaged = chain->leaf_pem;
  damaged[damaged.size() / 2] = '*';
  auto broken = certificates_from_pem(damaged);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, "invalid_params");
}

TEST(CertificateChainTest, AChainMustCertifyTheKeyAndBeSignedLinkByLink) {
  auto chain = make_chain("CA one");
  auto other = make_chain("CA two");
  auto leaf_and_ca = certificates_from_pem(chain->leaf_pem + chain->ca_pem);
  ASSERT_TRUE(leaf_and_ca) << leaf_and_ca.error().message;
  EXPECT_TRUE(check_certificate_chain(*leaf_and_ca, chain->leaf_spki));
  EXPECT_TRUE(check_certificate_chain({leaf_and_ca->front()}, chain->leaf_spki));

  auto for_another_key = check_certificate_chain(*leaf_and_ca, other->leaf_spki);
  ASSERT_FALSE(for_another_key);
  EXPECT_THAT(for_another_key.error().message, HasSubstr("certificate 1 of the chain certifies"));

  auto wrong_ca = certificates_from_pem(chain->leaf_pem + other->ca_pem);
  ASSERT_TRUE(wrong_ca) << wrong_ca.error().message;
  auto unsigned_link = check_certificate_chain(*wrong_ca, chain->leaf_spki);
  ASSERT_FALSE(unsigned_link);
  EXPECT_THAT(unsigned_link.error().message,
              HasSubstr("certificate 1 of the chain is not signed by the key of certificate 2"));

  auto reversed = certificates_from_pem(chain->ca_pem + chain->leaf_pem);
  ASSERT_TRUE(reversed) << reversed.error().message;
  EXPECT_FALSE(check_certificate_chain(*reversed, chain->leaf_spki));
}

}  // namespace
}  // namespace liaison::keys
