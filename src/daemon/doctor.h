// `liaison doctor` from the daemon's side (the control method `doctor`): the daemon itself, then
// every session (or one user's), eligible or not, each with what its agent finds inside the
// session and what the platform says about the user's context. Read-only. Users are examined at
// once, so it takes as long as the slowest user: their agent's answer (milliseconds normally;
// every agent within one kAgentTimeout of the start) plus their setuid-only child (bounded too);
// the loop keeps serving meanwhile.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "daemon/agent_supervisor.h"
#include "daemon/attestation_service.h"
#include "daemon/auto_key_placement.h"
#include "daemon/session_source.h"
#include "daemon/user_context_probe.h"
#include "keys/key_manager.h"
#include "protocol/finding.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {

struct DoctorParts {
  AgentSupervisor& agents;
  SessionSource& sessions;
  const Config& config;
  keys::KeyManager::ProviderLookup daemon_keys;  // the providers that run in the daemon
  AutoKeyPlacement auto_keys;                    // what [keys] backend = "auto" means here
  UserContextProbe* user_context = nullptr;      // null: those checks are left out
  std::string control_socket;
  // The TPM's attestation (attest.*): its state is shown when there is one.
  AttestationService::AttestationLookup attestation = AttestationService::none;
};

class Doctor {
 public:
  static constexpr std::chrono::milliseconds kAgentTimeout{15'000};

  explicit Doctor(DoctorParts parts);

  // params {"user"?: name or uid} -> the report of docs/cli-json.md ("doctor").
  asio::awaitable<protocol::Result<protocol::Json>> examine(protocol::Json params);

 private:
  struct Run;  // one doctor call: what it has learnt so far

  std::vector<protocol::Finding> examine_daemon() const;
  std::vector<protocol::Finding> examine_daemon_keys() const;
  std::optional<protocol::Finding> examine_attestation() const;
  asio::awaitable<protocol::Json> examine_session(Run& run, const Session& session,
                                                  const AgentView* agent);
  asio::awaitable<std::vector<protocol::Finding>> ask_agent(Run& run, const AgentView& agent);
  std::vector<std::string> session_key_providers() const;
  asio::awaitable<void> add_authentication_agents(const std::vector<Session>& sessions,
                                                  std::vector<protocol::Json>& reports);

  DoctorParts parts_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

// What the finding "agent" says about an agent in `view`'s state (pure: unit-tested).
protocol::Finding agent_finding(const AgentView& view);

// What the finding "attestation" says of `state` at `now` (pure: unit-tested): ok once the AK
// is enrolled and its certificate valid; info before enroll; warn without a certificate, or an
// expired one; fail for an AK this TPM does not load (the next step as the hint).
protocol::Finding attestation_finding(const keys::AttestationState& state,
                                      std::chrono::system_clock::time_point now);

}  // namespace liaison::daemon
