#include "keys/x509_summary.h"

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
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

KeyResult<X509Ptr> parse_certificate(std::span<const uint8_t> der) {
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
  return certificate;
}

KeyError invalid_chain(std::size_t position, std::string_view why) {
  return KeyError{"invalid_params", fmt::format("certificate {} of the chain {}", position, why)};
}

}  // namespace

KeyResult<std::vector<Bytes>> certificates_from_pem(std::string_view pem) {
  BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!in) {
    return std::unexpected(openssl_key_error("read PEM"));
  }
  std::vector<Bytes> chain;
  for (;;) {
    X509Ptr certificate(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!certificate) {
      break;
    }
    const int length = i2d_X509(certificate.get(), nullptr);
    Bytes der(static_cast<std::size_t>(std::max(length, 0)));
    unsigned char* cursor = der.data();
    if (length <= 0 || i2d_X509(certificate.get(), &cursor) != length) {
      return std::unexpected(openssl_key_error("encode a certificate"));
    }
    chain.push_back(std::move(der));
  }
  // The loop ends at the end of the text (PEM_R_NO_START_LINE) or at a block it cannot read.
  const unsigned long last = ERR_peek_last_error();
  const bool at_end =
      ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (!at_end && last != 0) {
    KeyError error = openssl_key_error(
        fmt::format("certificate {} of the PEM text does not parse", chain.size() + 1));
    error.code = "invalid_params";
    return std::unexpected(std::move(error));
  }
  ERR_clear_error();
  if (chain.empty()) {
    return std::unexpected(
        KeyError{"invalid_params", "no \"-----BEGIN CERTIFICATE-----\" block in the PEM text"});
  }
  return chain;
}

KeyResult<void> check_certificate_chain(const std::vector<Bytes>& chain,
                                        std::span<const uint8_t> leaf_spki) {
  if (chain.empty()) {
    return std::unexpected(KeyError{"invalid_params", "no certificate"});
  }
  std::vector<X509Ptr> certificates;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    auto certificate = parse_certificate(chain[i]);
    if (!certificate) {
      return std::unexpected(invalid_chain(i + 1, "is not a certificate"));
    }
    if (X509_cmp_current_time(X509_get0_notAfter(certificate->get())) <= 0) {
      return std::unexpected(invalid_chain(i + 1, "has expired"));
    }
    certificates.push_back(std::move(*certificate));
  }
  auto leaf_key = encode_spki(X509_get0_pubkey(certificates.front().get()));
  if (!leaf_key ||
      !std::equal(leaf_key->begin(), leaf_key->end(), leaf_spki.begin(), leaf_spki.end())) {
    return std::unexpected(invalid_chain(1, "certifies another key"));
  }
  for (std::size_t i = 0; i + 1 < certificates.size(); ++i) {
    EVP_PKEY* issuer_key = X509_get0_pubkey(certificates[i + 1].get());
    if (issuer_key == nullptr || X509_verify(certificates[i].get(), issuer_key) != 1) {
      ERR_clear_error();
      return std::unexpected(
          invalid_chain(i + 1, fmt::format("is not signed by the key of certificate {}", i + 2)));
    }
  }
  return {};
}

KeyResult<CertificateSummary> summarize_certificate(std::span<const uint8_t> der) {
  auto parsed = parse_certificate(der);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  const X509Ptr& certificate = *parsed;
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
