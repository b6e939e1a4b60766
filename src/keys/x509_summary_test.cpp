#include "keys/x509_summary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace liaison::keys
