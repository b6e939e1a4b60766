#include "daemon/attestation_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "keys/base64.h"
#include "keys/key_methods.h"
#include "keys/public_key_formats.h"
#include "keys/x509_summary.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;

Json key_error_json(const keys::KeyError& error) {
  return {{"code", error.code}, {"message", error.message}};
}

// The certificate as PEM, and what it says when it parses (a TPM's NV holds whatever was written
// there: a certificate that does not parse is shown, with why, not dropped).
Json certificate_json(const keys::Bytes& der) {
  auto summary = keys::summarize_certificate(der);
  if (!summary) {
    return {
        {"pem", keys::pem_armor("CERTIFICATE", der)},
        {"problem", fmt::format("not a certificate OpenSSL reads: {}", summary.error().message)}};
  }
  return {{"pem", summary->pem},
          {"subject", summary->subject},
          {"issuer", summary->issuer},
          {"serial", summary->serial},
          {"not_before", summary->not_before},
          {"not_after", summary->not_after}};
}

}  // namespace

Json endorsement_json(const keys::EndorsementEvidence& ek) {
  Json entry = {{"nv_index", fmt::format("0x{:08x}", ek.nv_index)},
                {"key_type", ek.key_type},
                {"template", ek.template_source},
                {"public_key", nullptr},
                {"certificate", ek.certificate ? certificate_json(*ek.certificate) : Json()},
                {"problem", ek.problem ? key_error_json(*ek.problem) : Json()}};
  if (ek.public_key) {
    entry["public_key"] = keys::pem_armor("PUBLIC KEY", *ek.public_key);
  }
  entry["public_area"] = ek.public_area ? Json(keys::base64_encode(*ek.public_area)) : Json();
  return entry;
}

Json attestation_key_json(const keys::AttestationKey& key) {
  Json chain = Json::array();
  for (const keys::Bytes& certificate : key.certificate_chain) {
    chain.push_back(certificate_json(certificate));
  }
  return {{"public_key", keys::pem_armor("PUBLIC KEY", key.public_key)},
          {"public_area", keys::base64_encode(key.public_area)},
          {"name", fmt::format("{:02x}", fmt::join(key.name, ""))},
          {"created", key.created},
          {"certificate_chain", chain}};
}

asio::awaitable<Result<Json>> AttestationService::handle(protocol::Request request) {
  if (request.method == "attest.ek") {
    co_return endorsement_keys();
  }
  if (request.method == "attest.enroll") {
    co_return enroll();
  }
  if (request.method == "attest.activate") {
    co_return activate(request.params);
  }
  if (request.method == "attest.install_cert") {
    co_return install_certificate(request.params);
  }
  co_return std::unexpected(Error::method_not_found(request.method));
}

Result<Json> AttestationService::endorsement_keys() {
  auto attestation = attestation_();
  if (!attestation) {
    return std::unexpected(keys::key_error_to_rpc(attestation.error()));
  }
  auto evidence = (*attestation)->endorsement();
  if (!evidence) {
    return std::unexpected(keys::key_error_to_rpc(evidence.error()));
  }
  Json endorsement_keys = Json::array();
  for (const keys::EndorsementEvidence& ek : *evidence) {
    endorsement_keys.push_back(endorsement_json(ek));
  }
  return Json{{"tpm", (*attestation)->tpm_name()}, {"endorsement_keys", endorsement_keys}};
}

Result<Json> AttestationService::enroll() {
  auto report = endorsement_keys();  // what a CA needs of the EK, first: it fails alike
  if (!report) {
    return std::unexpected(report.error());
  }
  auto attestation = attestation_();
  if (!attestation) {
    return std::unexpected(keys::key_error_to_rpc(attestation.error()));
  }
  auto enrollment = (*attestation)->enroll();
  if (!enrollment) {
    return std::unexpected(keys::key_error_to_rpc(enrollment.error()));
  }
  (*report)["created"] = enrollment->created;
  (*report)["attestation_key"] = attestation_key_json(enrollment->key);
  return report;
}

Result<Json> AttestationService::activate(const Json& params) {
  const auto found = params.find("credential");
  if (found == params.end() || !found->is_string()) {
    return std::unexpected(Error::invalid_params(
        "attest.activate needs \"credential\": base64 of the file tpm2_makecredential wrote"));
  }
  auto credential = keys::base64_decode(found->get<std::string>());
  if (!credential) {
    return std::unexpected(Error::invalid_params("\"credential\" is not base64"));
  }
  auto attestation = attestation_();
  if (!attestation) {
    return std::unexpected(keys::key_error_to_rpc(attestation.error()));
  }
  auto activation = (*attestation)->activate(*credential);
  if (!activation) {
    return std::unexpected(keys::key_error_to_rpc(activation.error()));
  }
  return Json{{"secret", keys::base64_encode(activation->secret)},
              {"ek_nv_index", fmt::format("0x{:08x}", activation->ek_index)}};
}

Result<Json> AttestationService::install_certificate(const Json& params) {
  const auto found = params.find("pem");
  if (found == params.end() || !found->is_string()) {
    return std::unexpected(Error::invalid_params(
        "attest.install_cert needs \"pem\": the certificate chain, the AK's certificate first"));
  }
  auto chain = keys::certificates_from_pem(found->get<std::string>());
  if (!chain) {
    return std::unexpected(keys::key_error_to_rpc(chain.error()));
  }
  auto attestation = attestation_();
  if (!attestation) {
    return std::unexpected(keys::key_error_to_rpc(attestation.error()));
  }
  auto key = (*attestation)->install_certificate(std::move(*chain));
  if (!key) {
    return std::unexpected(keys::key_error_to_rpc(key.error()));
  }
  return Json{{"attestation_key", attestation_key_json(*key)}};
}

}  // namespace liaison::daemon
