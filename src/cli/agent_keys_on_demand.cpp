#include "cli/agent_keys_on_demand.h"

#include <fmt/format.h>

#include "cli/modules.h"
#include "keys/provider_check.h"

namespace liaison::cli {

AgentKeysOnDemand::AgentKeysOnDemand(asio::io_context& io, std::filesystem::path store,
                                     ModuleLoader load,
                                     std::chrono::steady_clock::duration idle_after)
    : store_(std::move(store)),
      load_(std::move(load)),
      idle_flush_(io, idle_after, [this] { return keys_ && keys_->flush_idle(); }) {}

std::expected<LoadableAgentKeys*, std::string> AgentKeysOnDemand::keys() {
  if (!keys_) {
    auto module = load_();
    if (!module) {
      return std::unexpected(module.error());
    }
    keys_ = (*module)->open(store_, [this] { idle_flush_.arm(); });
  }
  keys_->set_log_level(log::current_level());
  return keys_.get();
}

protocol::Result<protocol::Json> AgentKeysOnDemand::handle(const std::string& method,
                                                           protocol::Json params) {
  auto loaded = keys();
  if (!loaded) {
    return std::unexpected(protocol::Error::application(
        protocol::codes::kUnavailable,
        fmt::format("this agent cannot load its key code: {}", loaded.error())));
  }
  return (*loaded)->handle(method, std::move(params));
}

protocol::Finding AgentKeysOnDemand::check_provider(std::string_view name,
                                                    const std::string& tpm_tcti) {
  auto loaded = keys();
  if (!loaded) {
    return protocol::Finding::fail(
        keys::provider_check_name(name),
        fmt::format("this agent cannot load its key code: {}", loaded.error()),
        "reinstall liaison");
  }
  return (*loaded)->check_provider(name, tpm_tcti);
}

std::expected<const AgentKeysModule*, std::string> load_agent_keys_module() {
  return load_module<AgentKeysModule>("liaison-agent-keys.so", "liaison_agent_keys_module");
}

}  // namespace liaison::cli
