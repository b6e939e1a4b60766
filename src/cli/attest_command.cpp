// `liaison attest ek | enroll | activate | install-cert [--json]`: a thin client of the attest.*
// control methods (docs/protocol.md): the TPM's endorsement keys and their manufacturer's
// certificates, what an attestation CA asks for first (issue 14).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <expected>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "keys/base64.h"

namespace liaison::cli {
namespace {

using protocol::Json;
using namespace std::chrono_literals;

// Deriving an RSA EK takes a discrete TPM seconds the first time.
constexpr auto kAttestCallTimeout = 60s;

std::string text_of(const Json& value, const char* key) {
  const auto found = value.find(key);
  return found != value.end() && found->is_string() ? found->get<std::string>() : "";
}

// One EK as a person reads it: what it is, who certified it until when, then the PEMs.
std::string describe_ek(const Json& ek) {
  std::string text = fmt::format("EK {} at NV index {} (template: {})\n", text_of(ek, "key_type"),
                                 text_of(ek, "nv_index"), text_of(ek, "template"));
  const Json& certificate = ek.contains("certificate") ? ek.at("certificate") : Json();
  if (certificate.is_object()) {
    if (certificate.contains("problem")) {
      text += fmt::format("  certificate: {}\n", text_of(certificate, "problem"));
    } else {
      text +=
          fmt::format("  certificate issued by {}\n  subject \"{}\", serial {}, valid {} to {}\n",
                      text_of(certificate, "issuer"), text_of(certificate, "subject"),
                      text_of(certificate, "serial"), text_of(certificate, "not_before"),
                      text_of(certificate, "not_after"));
    }
  } else {
    text += "  no certificate in the TPM for this EK\n";
  }
  if (ek.contains("problem") && ek.at("problem").is_object()) {
    text += fmt::format("  public key unknown: {}\n", text_of(ek.at("problem"), "message"));
  } else {
    text += text_of(ek, "public_key");
  }
  if (certificate.is_object()) {
    text += text_of(certificate, "pem");
  }
  return text;
}

void print_endorsement_keys(const Json& report) {
  fmt::print("TPM: {}\n", text_of(report, "tpm"));
  for (const Json& ek : report.at("endorsement_keys")) {
    fmt::print("\n{}", describe_ek(ek));
  }
}

int run_enroll(const ClientFlags& flags) {
  auto report = call_daemon(flags.runtime_dir, "attest.enroll", Json::object(), kAttestCallTimeout);
  if (!report) {
    return report.error();
  }
  if (flags.json) {
    fmt::print("{}\n", report->dump(2));
    return kExitOk;
  }
  const Json& key = report->at("attestation_key");
  fmt::print("attestation key {} {}\n  name {}\n{}",
             report->value("created", false) ? "created" : "enrolled before, on",
             report->value("created", false) ? "now" : text_of(key, "created"),
             text_of(key, "name"), text_of(key, "public_key"));
  fmt::print(
      "For an attestation CA: the EK certificate and public key below, and the AK's name\n"
      "and public area (TPM2B_PUBLIC, in --json); it answers with a credential for\n"
      "`liaison attest activate`.\n\n");
  print_endorsement_keys(*report);
  return kExitOk;
}

// A credential file is well under a kilobyte, a certificate chain a few; larger input is not one.
constexpr std::size_t kMaxCredentialFile = 64 * std::size_t{1024};
constexpr std::size_t kMaxCertificateChain = 256 * std::size_t{1024};

// The bytes of `path` (stdin for "-"), at most `limit` of them: more is not `what`.
std::expected<std::string, std::string> read_input(const std::string& path, std::size_t limit,
                                                   std::string_view what) {
  std::string bytes;
  if (path.empty() || path == "-") {
    bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      return std::unexpected(fmt::format("cannot read {}", path));
    }
    bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  if (bytes.size() > limit) {
    return std::unexpected(fmt::format("{} is {} bytes, more than {} can be",
                                       path == "-" ? "stdin" : path, bytes.size(), what));
  }
  return bytes;
}

int run_activate(const ClientFlags& flags, const std::string& in) {
  auto credential = read_input(in, kMaxCredentialFile, "a credential");
  if (!credential) {
    fmt::print(stderr, "liaison: {}\n", credential.error());
    return kExitUsage;
  }
  const auto* data = reinterpret_cast<const uint8_t*>(credential->data());
  Json params = {{"credential", keys::base64_encode({data, credential->size()})}};
  auto answer = call_daemon(flags.runtime_dir, "attest.activate", params, kAttestCallTimeout);
  if (!answer) {
    return answer.error();
  }
  if (flags.json) {
    fmt::print("{}\n", answer->dump(2));
  } else {
    fmt::print("{}\n", text_of(*answer, "secret"));
    fmt::print(stderr, "liaison: the CA's secret, base64 (recovered with the EK at NV index {})\n",
               text_of(*answer, "ek_nv_index"));
  }
  return kExitOk;
}

int run_install_certificate(const ClientFlags& flags, const std::string& in) {
  auto pem = read_input(in, kMaxCertificateChain, "a certificate chain");
  if (!pem) {
    fmt::print(stderr, "liaison: {}\n", pem.error());
    return kExitUsage;
  }
  auto answer = call_daemon(flags.runtime_dir, "attest.install_cert", Json{{"pem", *pem}},
                            kAttestCallTimeout);
  if (!answer) {
    return answer.error();
  }
  if (flags.json) {
    fmt::print("{}\n", answer->dump(2));
    return kExitOk;
  }
  const Json& key = answer->at("attestation_key");
  const Json& chain = key.at("certificate_chain");
  fmt::print("installed {} certificate{} for the attestation key {}\n", chain.size(),
             chain.size() == 1 ? "" : "s", text_of(key, "name"));
  if (!chain.empty()) {
    fmt::print("  issued by {}, valid until {}\n", text_of(chain.at(0), "issuer"),
               text_of(chain.at(0), "not_after"));
  }
  return kExitOk;
}

int run_ek(const ClientFlags& flags) {
  auto report = call_daemon(flags.runtime_dir, "attest.ek", Json::object(), kAttestCallTimeout);
  if (!report) {
    return report.error();
  }
  if (flags.json) {
    fmt::print("{}\n", report->dump(2));
    return kExitOk;
  }
  print_endorsement_keys(*report);
  return kExitOk;
}

}  // namespace

void add_attest_command(CLI::App& app, AttestCommand& command) {
  auto* attest = app.add_subcommand(
      "attest", "the TPM's evidence for an attestation CA: endorsement keys, the attestation key");
  attest->require_subcommand(1);
  command.ek = attest->add_subcommand(
      "ek", "print the TPM's endorsement keys and the manufacturer's certificates for them");
  add_client_flags(*command.ek, command.client, /*with_json=*/true);
  command.enroll = attest->add_subcommand(
      "enroll", "make the daemon's attestation key (once) and print what an attestation CA needs");
  add_client_flags(*command.enroll, command.client, /*with_json=*/true);
  command.activate = attest->add_subcommand(
      "activate", "answer an attestation CA's credential (tpm2_makecredential's file)");
  add_client_flags(*command.activate, command.client, /*with_json=*/true);
  command.activate->add_option("--in", command.in, "the credential file (- for stdin)")->required();
  command.install_cert = attest->add_subcommand(
      "install-cert", "store the certificate chain an attestation CA issued for the key");
  add_client_flags(*command.install_cert, command.client, /*with_json=*/true);
  command.install_cert
      ->add_option("--in", command.in, "the chain, PEM, the key's certificate first (- for stdin)")
      ->required();
}

int run_attest_command(const AttestCommand& command) {
  if (command.ek->parsed()) {
    return run_ek(command.client);
  }
  if (command.enroll->parsed()) {
    return run_enroll(command.client);
  }
  if (command.activate->parsed()) {
    return run_activate(command.client, command.in);
  }
  if (command.install_cert->parsed()) {
    return run_install_certificate(command.client, command.in);
  }
  return kExitUsage;
}

}  // namespace liaison::cli
