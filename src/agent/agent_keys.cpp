#include "agent/agent_keys.h"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include "keys/key_methods.h"
#include "keys/provider_check.h"

namespace liaison::agent {
namespace {

constexpr std::string_view kUserSessionContext = "user-session";

std::string this_users_session() {
  const passwd* entry = ::getpwuid(::getuid());
  if (entry == nullptr) {
    return fmt::format("the session of uid {}", ::getuid());
  }
  return fmt::format("{}'s session", entry->pw_name);
}

}  // namespace

protocol::Finding AgentKeys::check_provider(std::string_view name, const std::string& tpm_tcti) {
  return keys::check_provider(name, providers_(name, tpm_tcti), this_users_session());
}

protocol::Result<keys::KeyManager*> AgentKeys::manager() {
  if (manager_) {
    return manager_.get();
  }
  auto store = keys::KeyStore::open(store_directory_, ::getuid());
  if (!store) {
    return std::unexpected(keys::key_error_to_rpc(store.error()));
  }
  manager_ = std::make_unique<keys::KeyManager>(
      std::move(*store), [this](std::string_view name) { return providers_(name, tpm_tcti_); });
  return manager_.get();
}

protocol::Result<protocol::Json> AgentKeys::handle(const std::string& method,
                                                   protocol::Json params) {
  if (auto tcti = params.find("tpm_tcti"); tcti != params.end() && tcti->is_string()) {
    tpm_tcti_ = tcti->get<std::string>();
    params.erase(tcti);
  }
  std::string note;
  if (method == "key.create" && params.value("backend", "") == "auto") {
    // In the session, "auto" means the hardware this context reaches, else a software key.
    auto tpm = providers_("tpm", tpm_tcti_);
    params["backend"] = tpm ? "tpm" : "software";
    if (!tpm) {
      note = "no TPM (" + tpm.error().message + "): made a software key, not hardware-backed";
    }
  }
  auto keys = manager();
  if (!keys) {
    return std::unexpected(keys.error());
  }
  auto result = keys::run_key_method(**keys, method, params, kUserSessionContext);
  if (!result) {
    return std::unexpected(keys::key_error_to_rpc(result.error()));
  }
  if (!note.empty()) {
    (*result)["note"] = note;
  }
  return *result;
}

}  // namespace liaison::agent
