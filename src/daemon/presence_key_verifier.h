// Presence where the prompt belongs to the OS and not to a policy daemon (issue 26, macOS): the
// session's agent holds a key that signs only after its user proved presence (a Secure Enclave
// key with kSecAccessControlUserPresence: macOS shows Touch ID or the password itself). The
// daemon keeps that key's public half, taken once per user through `presence.enroll`, in
// <state>/presence/<uid>.spki (root's, 0600, written atomically); each check sends the agent a
// challenge made of a fresh 32-byte nonce and verifies the signature it gets back. A hijacked
// agent can refuse, but cannot sign without the user: a signature that does not verify is
// `denied`.
//
// The enrollment trusts the agent's first answer (the agent was proven by its peer identity,
// code-signing included on macOS); a key that changed afterwards (the user deleted it) is
// `unavailable` until an administrator removes the stored public key.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/agent_supervisor.h"
#include "daemon/presence_verifier.h"

namespace liaison::daemon {

inline constexpr std::size_t kPresenceNonceBytes = 32;

// What the key signs: a domain tag, the session, and the nonce, so a signature answers exactly
// one check of exactly one session and means nothing to any other use of the key.
std::vector<uint8_t> presence_challenge(std::string_view session_id,
                                        std::span<const uint8_t> nonce);

// The outcome of the agent's presence.sign answer: its error code mapped, or the signature
// checked against `public_key` (SPKI DER).
PresenceOutcome presence_signature_outcome(const protocol::Result<protocol::Json>& answer,
                                           std::span<const uint8_t> public_key,
                                           std::span<const uint8_t> challenge);

class PresenceKeyVerifier final : public PresenceVerifier {
 public:
  PresenceKeyVerifier(asio::io_context& io, AgentSupervisor& agents,
                      std::filesystem::path state_dir)
      : io_(io), agents_(agents), state_dir_(std::move(state_dir)) {}

  std::expected<std::unique_ptr<PendingPresenceCheck>, PresenceOutcome> start(
      const Session& session, const std::string& reason, Done done) override;

 private:
  struct Check;
  class Pending;

  asio::awaitable<void> run(std::shared_ptr<Check> check);
  asio::awaitable<protocol::Result<std::vector<uint8_t>>> public_key_of(
      const Session& session, protocol::Connection& agent);

  asio::io_context& io_;
  AgentSupervisor& agents_;
  std::filesystem::path state_dir_;
};

}  // namespace liaison::daemon
