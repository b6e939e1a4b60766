// What every platform's `liaison agent` reads from the launcher before it starts: its session,
// the daemon's socket, and the one-time token on the fd named by LIAISON_TOKEN_FD.
#pragma once

#include <string>

#include "agent/agent.h"

namespace liaison::cli {

// $name when set and not empty, else `fallback`.
std::string env_or(const char* name, std::string fallback);

// Reads the token the launcher wrote into the pipe at LIAISON_TOKEN_FD (at most 1 KiB, trailing
// newlines dropped), then closes it and unsets the variable, so no child this agent starts
// inherits either. Empty without LIAISON_TOKEN_FD.
std::string take_token();

// LIAISON_SESSION, LIAISON_AGENT_SOCKET (else `default_socket`), the token, and
// LIAISON_DAEMON_GRACE_SECONDS; retries at most a second apart, since a restarted daemon waits
// only a few seconds for its agents to come back.
agent::AgentOptions agent_options_from_environment(const std::string& default_socket);

}  // namespace liaison::cli
