#include "keys/x509_summary.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <cctype>
#include <ctime>
#include <memory>

#include "keys/openssl_util.h"
#include "keys/public_key_formats.h"

namespace liaison::keys {
namespace {

using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
struct OpenSslStringFree {
  void operator()(char* text) const { OPENSSL_free(text); }
};

KeyResult<std::string> name_text(const X509_NAME* name) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    return std::unexpected(openssl_key_error("print a certificate name"));
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

KeyResult<std::string> time_text(const ASN1_TIME* when) {
  struct tm parts {};
  if (ASN1_TIME_to_tm(when, &parts) != 1) {
    return std::unexpected(openssl_key_error("read a certificate's validity"));
  }
  char text[sizeof "2026-12-08T03:30:00Z"];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(text);
}

KeyResult<std::string> serial_text(const ASN1_INTEGER* serial) {
  BignumPtr number(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!number) {
    return std::unexpected(openssl_key_error("read a certificate's serial"));
  }
  std::unique_ptr<char, OpenSslStringFree> hex(BN_bn2hex(number.get()));
  if (!hex) {
    return std::unexpected(openssl_key_error("read a certificate's serial"));
  }
  std::string text(hex.get());
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

}  // namespace

KeyResult<CertificateSummary> summarize_certificate(std::span<const uint8_t> der) {
  const unsigned char* cursor = der.data();
  X509Ptr certificate(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!certificate) {
    KeyError error = openssl_key_error("not an X.509 certificate");
    error.code = "invalid_params";
    return std::unexpected(std::move(error));
  }
  if (cursor != der.data() + der.size()) {
    return std::unexpected(KeyError{"invalid_params", "bytes after the certificate's DER"});
  }
  auto subject = name_text(X509_get_subject_name(certificate.get()));
  auto issuer = name_text(X509_get_issuer_name(certificate.get()));
  auto serial = serial_text(X509_get0_serialNumber(certificate.get()));
  auto not_before = time_text(X509_get0_notBefore(certificate.get()));
  auto not_after = time_text(X509_get0_notAfter(certificate.get()));
  for (const auto* part : {&subject, &issuer, &serial, &not_before, &not_after}) {
    if (!*part) {
      return std::unexpected(part->error());
    }
  }
  return CertificateSummary{.subject = *subject,
                            .issuer = *issuer,
                            .serial = *serial,
                            .not_before = *not_before,
                            .not_after = *not_after,
                            .pem = pem_armor("CERTIFICATE", der)};
}

}  // namespace liaison::keys
