// The agent's keys, loaded on the first key request (Linux). The key code (AgentKeys, the TPM and
// software providers) and what it links, tss2 and OpenSSL's libcrypto, are in
// liaison-agent-keys.so (modules.h); an agent that never handles a key, most of them, never maps
// them (issue 13: the agent's idle memory). AgentKeysOnDemand is the agent's KeyService: it loads
// the module on its first call and hands every call on; it keeps the TPM's idle-flush timer on
// the agent's loop, so no event-loop object crosses the module boundary.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "agent/key_service.h"
#include "cli/idle_flush_timer.h"
#include "common/log.h"
#include "keys/tpm/tpm_provider.h"  // kIdleFlushAfter only: nothing of tss2 is linked

namespace liaison::cli {

// What the module makes: the agent's keys, and the TPM's idle flush for the timer to call.
class LoadableAgentKeys : public agent::KeyService {
 public:
  // Flushes TPM keys unused for a while; whether any stay loaded (KeyProviders::flush_idle).
  virtual bool flush_idle() = 0;
  // The module has its own copy of the log's state: the agent's level (the daemon's, from
  // agent.hello) is handed over before every call.
  virtual void set_log_level(log::Level level) = 0;
};

// liaison-agent-keys.so's entry table (modules.h: the version comes first).
struct AgentKeysModule {
  const char* version;
  // The keys in `store` (the user's key directory), opened on first use. `tpm_used` is called
  // after each TPM lookup, for the idle-flush timer.
  std::unique_ptr<LoadableAgentKeys> (*open)(const std::filesystem::path& store,
                                             std::function<void()> tpm_used);
};

class AgentKeysOnDemand : public agent::KeyService {
 public:
  using ModuleLoader = std::function<std::expected<const AgentKeysModule*, std::string>()>;

  // `load` finds the module (load_agent_keys_module, or a test's stand-in); it runs on the first
  // key request or doctor check, and again on the next one if it failed. `idle_after`: how long
  // a TPM key stays loaded unused (TpmProvider::kIdleFlushAfter; tests shorten it).
  AgentKeysOnDemand(
      asio::io_context& io, std::filesystem::path store, ModuleLoader load,
      std::chrono::steady_clock::duration idle_after = keys::tpm::TpmProvider::kIdleFlushAfter);

  protocol::Result<protocol::Json> handle(const std::string& method,
                                          protocol::Json params) override;
  protocol::Finding check_provider(std::string_view name, const std::string& tpm_tcti) override;

  bool loaded() const { return keys_ != nullptr; }

 private:
  std::expected<LoadableAgentKeys*, std::string> keys();

  std::filesystem::path store_;
  ModuleLoader load_;
  IdleFlushTimer idle_flush_;
  std::unique_ptr<LoadableAgentKeys> keys_;
};

// dlopen()s liaison-agent-keys.so beside the agent's module (modules.h): about 2 ms, once.
std::expected<const AgentKeysModule*, std::string> load_agent_keys_module();

}  // namespace liaison::cli
