// liaison-agent-keys.so: the agent's key code, loaded on its first key request
// (agent_keys_on_demand.h), and its one exported symbol.
#include "agent/agent_keys.h"
#include "cli/agent_keys_on_demand.h"
#include "cli/key_providers.h"

namespace liaison::cli {
namespace {

// AgentKeys over this process's providers: the TPM (the daemon sends key requests here only
// where config places the TPM in the session) and software keys.
class ModuleAgentKeys : public LoadableAgentKeys {
 public:
  ModuleAgentKeys(const std::filesystem::path& store, std::function<void()> tpm_used)
      : providers_(keys::KeyContext::kUserSession, /*tpm_here=*/true),
        keys_(store, [this](std::string_view name, const std::string& tcti) {
          return providers_.lookup(name, tcti);
        }) {
    providers_.on_tpm_used(std::move(tpm_used));
  }

  protocol::Result<protocol::Json> handle(const std::string& method,
                                          protocol::Json params) override {
    return keys_.handle(method, std::move(params));
  }
  protocol::Finding check_provider(std::string_view name, const std::string& tpm_tcti) override {
    return keys_.check_provider(name, tpm_tcti);
  }
  bool flush_idle() override { return providers_.flush_idle(); }
  void set_log_level(log::Level level) override { log::set_level(level); }

 private:
  KeyProviders providers_;
  agent::AgentKeys keys_;
};

std::unique_ptr<LoadableAgentKeys> open_agent_keys(const std::filesystem::path& store,
                                                   std::function<void()> tpm_used) {
  return std::make_unique<ModuleAgentKeys>(store, std::move(tpm_used));
}

}  // namespace
}  // namespace liaison::cli

extern "C" __attribute__((visibility("default"))) const liaison::cli::AgentKeysModule*
liaison_agent_keys_module() {
  static constexpr liaison::cli::AgentKeysModule kModule{.version = LIAISON_VERSION,
                                                         .open = &liaison::cli::open_agent_keys};
  return &kModule;
}
