// The keys that must live in the user's session (the Secure Enclave on macOS; a TPM that config
// places in the session on Linux): the agent's side of key.*, on its own store under
// $XDG_DATA_HOME/liaison/keys/, written as the user. Opened on first use.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "agent/key_service.h"
#include "keys/key_manager.h"
#include "protocol/finding.h"
#include "protocol/json_rpc.h"

namespace liaison::agent {

class AgentKeys : public KeyService {
 public:
  // The provider called `name` in this process (owned by the caller); `tpm_tcti` is the daemon's
  // [keys] tpm_tcti, forwarded with every call.
  using ProviderLookup = std::function<keys::KeyResult<keys::UnexportableKeyProvider*>(
      std::string_view name, const std::string& tpm_tcti)>;

  AgentKeys(std::filesystem::path store_directory, ProviderLookup providers)
      : store_directory_(std::move(store_directory)), providers_(std::move(providers)) {}

  // key.create | key.list | key.public | key.sign | key.delete from the daemon.
  protocol::Result<protocol::Json> handle(const std::string& method,
                                          protocol::Json params) override;

  // For `liaison doctor`: the provider `name` as this user's session reaches it (describe()).
  protocol::Finding check_provider(std::string_view name, const std::string& tpm_tcti) override;

 private:
  protocol::Result<keys::KeyManager*> manager();

  std::filesystem::path store_directory_;
  ProviderLookup providers_;
  std::string tpm_tcti_;
  std::unique_ptr<keys::KeyManager> manager_;
};

}  // namespace liaison::agent
