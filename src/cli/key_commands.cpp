// `liaison key create | list | public | sign | delete`: thin clients of the key.* methods.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/output.h"
#include "cli/sha256_on_demand.h"
#include "keys/base64.h"

namespace liaison::cli {
namespace {

using protocol::Json;
using namespace std::chrono_literals;

// Key generation on a TPM can take a second, and a user-session key goes through the agent.
constexpr auto kKeyCallTimeout = 60s;

// Every command that shows a software key says so: it is not the protection a user expects.
void warn_if_software(const Json& key) {
  if (key.value("hardware_backed", true)) {
    return;
  }
  fmt::print(stderr, "liaison: warning: key \"{}\" of {} is a {} key, NOT hardware-backed{}\n",
             key.value("label", ""), key.value("user", ""), key.value("backend", "software"),
             key.contains("note") ? fmt::format(" ({})", key.value("note", "")) : "");
}

std::expected<std::string, std::string> read_input(const std::string& path) {
  if (path.empty() || path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return std::unexpected(fmt::format("cannot read {}", path));
  }
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

bool write_output(const std::string& path, std::string_view bytes) {
  if (path.empty() || path == "-") {
    return std::fwrite(bytes.data(), 1, bytes.size(), stdout) == bytes.size();
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(file);
}

std::string describe_key(const Json& key) {
  return fmt::format(
      "{} for {}: {}, {}, kept in the {}\n  kid {}\n", key.value("label", ""),
      key.value("user", ""), key.value("backend", ""),
      key.value("hardware_backed", false) ? "hardware-backed" : "NOT hardware-backed",
      key.value("context", "") == "daemon" ? "daemon" : "user's session", key.value("kid", ""));
}

}  // namespace

int run_key_create(const ClientFlags& flags, const KeyFlags& key) {
  Json params = {{"user", key.user}, {"label", key.label}, {"replace", key.replace}};
  if (!key.backend.empty()) {
    params["backend"] = key.backend;
  }
  auto created = call_daemon(flags.runtime_dir, "key.create", params, kKeyCallTimeout);
  if (!created) {
    return created.error();
  }
  warn_if_software(*created);
  fmt::print("{}", flags.json ? created->dump(2) + "\n" : "created " + describe_key(*created));
  return kExitOk;
}

int run_key_list(const ClientFlags& flags, const KeyFlags& key) {
  Json params = Json::object();
  if (!key.user.empty()) {
    params["user"] = key.user;
  }
  auto listing = call_daemon(flags.runtime_dir, "key.list", params, kKeyCallTimeout);
  if (!listing) {
    return listing.error();
  }
  for (const Json& problem : listing->at("problems")) {
    print_error(fmt::format("{}: {}", problem.value("user", ""), problem.value("message", "")));
  }
  if (flags.json) {
    fmt::print("{}\n", listing->dump(2));
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"USER", "LABEL", "BACKEND", "HARDWARE", "CONTEXT", "CREATED", "KID"}};
    for (const Json& k : listing->at("keys")) {
      rows.push_back({k.value("user", ""), k.value("label", ""), k.value("backend", ""),
                      k.value("hardware_backed", false) ? "yes" : "NO (software)",
                      k.value("context", ""), k.value("created", ""), k.value("kid", "")});
    }
    fmt::print("{}", rows.size() == 1 ? "no keys\n" : format_table(rows));
  }
  return listing->at("problems").empty() ? kExitOk : kExitFailed;
}

int run_key_public(const ClientFlags& flags, const KeyFlags& key) {
  auto shown = call_daemon(flags.runtime_dir, "key.public",
                           {{"user", key.user}, {"label", key.label}, {"format", key.format}},
                           kKeyCallTimeout);
  if (!shown) {
    return shown.error();
  }
  warn_if_software(*shown);
  std::string bytes;
  if (key.format == "der") {
    auto der = keys::base64_decode(shown->value("public_key", ""));
    if (!der) {
      print_error("the daemon sent a public key that is not base64");
      return kExitFailed;
    }
    bytes.assign(der->begin(), der->end());
  } else if (key.format == "jwk") {
    bytes = shown->at("public_key").dump(2) + "\n";
  } else {
    bytes = shown->value("public_key", "");
  }
  if (!write_output(key.out, bytes)) {
    print_error(fmt::format("cannot write {}", key.out));
    return kExitFailed;
  }
  return kExitOk;
}

int run_key_sign(const ClientFlags& flags, const KeyFlags& key) {
  auto input = read_input(key.in);
  if (!input) {
    print_error(input.error());
    return kExitUsage;
  }
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(input->data()),
                                       input->size());
  if (key.digest && bytes.size() != 32) {
    print_error(fmt::format("--digest takes a 32-byte SHA-256 digest; the input is {} bytes",
                            bytes.size()));
    return kExitUsage;
  }
  // Hashed here, so a large file costs one digest on the wire, not the file.
  std::vector<uint8_t> digest(bytes.begin(), bytes.end());
  if (!key.digest) {
    auto hashed = sha256_on_demand(bytes);
    if (!hashed) {
      print_error(hashed.error());
      return kExitFailed;
    }
    digest = std::move(*hashed);
  }
  auto signed_ = call_daemon(
      flags.runtime_dir, "key.sign",
      {{"user", key.user}, {"label", key.label}, {"digest", keys::base64_encode(digest)}},
      kKeyCallTimeout);
  if (!signed_) {
    return signed_.error();
  }
  warn_if_software(*signed_);
  auto signature = keys::base64_decode(signed_->value("signature", ""));
  if (!signature) {
    print_error("the daemon sent a signature that is not base64");
    return kExitFailed;
  }
  if (!write_output(key.out, std::string(signature->begin(), signature->end()))) {
    print_error(fmt::format("cannot write {}", key.out));
    return kExitFailed;
  }
  return kExitOk;
}

int run_key_delete(const ClientFlags& flags, const KeyFlags& key) {
  auto deleted = call_daemon(flags.runtime_dir, "key.delete",
                             {{"user", key.user}, {"label", key.label}}, kKeyCallTimeout);
  if (!deleted) {
    return deleted.error();
  }
  fmt::print("{}", flags.json ? deleted->dump(2) + "\n"
                              : fmt::format("deleted key {} of {}\n", key.label,
                                            deleted->value("user", "")));
  return kExitOk;
}

int run_key_attest(const ClientFlags& flags, const KeyFlags& key) {
  const Json params = {{"user", key.user},
                       {"label", key.label},
                       {"challenge", key.challenge},
                       {"format", key.attest_format}};
  auto attested = call_daemon(flags.runtime_dir, "key.attest", params, kKeyCallTimeout);
  if (!attested) {
    return attested.error();
  }
  if (flags.json) {
    fmt::print("{}\n", attested->dump(2));
    return kExitOk;
  }
  std::string output;
  if (key.attest_format == "tpm") {
    output = attested->at("statement").dump(2) + "\n";
  } else if (key.out.empty() || key.out == "-") {
    output = attested->value("attestation_object", "") + "\n";  // CBOR on a terminal: base64
  } else {
    auto cbor = keys::base64_decode(attested->value("attestation_object", ""));
    if (!cbor) {
      fmt::print(stderr, "liaison: the daemon's attestation object is not base64\n");
      return kExitFailed;
    }
    output.assign(cbor->begin(), cbor->end());
  }
  if (!write_output(key.out, output)) {
    fmt::print(stderr, "liaison: cannot write {}\n", key.out);
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace liaison::cli
