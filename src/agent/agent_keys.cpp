#include "agent/agent_keys.h"

#include <unistd.h>

#include "keys/key_methods.h"

namespace liaison::agent {
namespace {

constexpr std::string_view kUserSessionContext = "user-session";

}  // namespace

protocol::Result<keys::KeyManager*> AgentKeys::manager() {
  if (manager_) return manager_.get();
  auto store = keys::KeyStore::open(store_directory_, ::getuid());
  if (!store) return std::unexpected(keys::key_error_to_rpc(store.error()));
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
    if (!tpm)
      note = "no TPM (" + tpm.error().message + "): made a software key, not hardware-backed";
  }
  auto keys = manager();
  if (!keys) return std::unexpected(keys.error());
  auto result = keys::run_key_method(**keys, method, params, kUserSessionContext);
  if (!result) return std::unexpected(keys::key_error_to_rpc(result.error()));
  if (!note.empty()) (*result)["note"] = note;
  return *result;
}

}  // namespace liaison::agent
