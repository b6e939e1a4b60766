// The control socket's key.* methods: each key operation goes where its key store is reachable.
// Daemon-context keys (a Linux TPM by default, software keys) are handled here with one
// KeyManager per user under <state>/keys/<uid>/; user-session keys (the Secure Enclave, or a TPM
// that config places in the session) are forwarded to an agent of that user, which keeps them in
// $XDG_DATA_HOME/liaison/keys/. Backend "auto" goes where the platform's AutoKeyPlacement says.
#pragma once

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/config.h"
#include "daemon/agent_supervisor.h"
#include "daemon/attestation_service.h"
#include "daemon/auto_key_placement.h"
#include "daemon/users.h"
#include "keys/key_manager.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {

class KeyRouter {
 public:
  static constexpr std::chrono::milliseconds kAgentKeyTimeout{30'000};

  // `providers` gives the providers that can run in the daemon ("software"; "tpm" when the TPM
  // is placed here); `state_dir` holds keys/<uid>/; `auto_keys` is what backend "auto" means.
  // `users` resolves the `user` a call names (resolve_user in production).
  // `attestation` is the daemon's (key.attest certifies with its attestation key).
  KeyRouter(AgentSupervisor& agents, const Config& config, std::string state_dir,
            keys::KeyManager::ProviderLookup providers, AutoKeyPlacement auto_keys,
            UserLookup users = resolve_user,
            AttestationService::AttestationLookup attestation = AttestationService::none)
      : agents_(agents),
        config_(config),
        state_dir_(std::move(state_dir)),
        providers_(std::move(providers)),
        auto_keys_(std::move(auto_keys)),
        users_(std::move(users)),
        attestation_(std::move(attestation)) {}

  static bool handles(const std::string& method) { return method.starts_with("key."); }

  asio::awaitable<protocol::Result<protocol::Json>> handle(protocol::Request request);

 private:
  struct Target;

  asio::awaitable<protocol::Result<protocol::Json>> create(const protocol::Json& params);
  asio::awaitable<protocol::Result<protocol::Json>> list(const protocol::Json& params);
  asio::awaitable<protocol::Result<protocol::Json>> attest(const protocol::Json& params);
  asio::awaitable<protocol::Result<protocol::Json>> on_existing_key(const std::string& method,
                                                                    const protocol::Json& params);
  asio::awaitable<protocol::Result<protocol::Json>> forward_to_agent(uid_t uid,
                                                                     const std::string& user,
                                                                     const std::string& method,
                                                                     protocol::Json params);
  asio::awaitable<protocol::Result<std::shared_ptr<protocol::Connection>>> agent_of(
      uid_t uid, const std::string& user);
  asio::awaitable<protocol::Result<protocol::Json>> create_in_session_or_software(
      uid_t uid, const std::string& user, protocol::Json params);
  protocol::Result<keys::KeyManager*> manager_for(uid_t uid);
  asio::awaitable<protocol::Result<ResolvedUser>> key_owner(const protocol::Json& params) const;
  std::string session_of(uid_t uid) const;

  AgentSupervisor& agents_;
  const Config& config_;
  std::string state_dir_;
  keys::KeyManager::ProviderLookup providers_;
  AutoKeyPlacement auto_keys_;
  UserLookup users_;
  AttestationService::AttestationLookup attestation_;
  std::map<uid_t, std::unique_ptr<keys::KeyManager>> managers_;
};

}  // namespace liaison::daemon
