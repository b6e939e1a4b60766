// One-time secrets that bind an agent connection to the launch the daemon made for a session.
// A token is handed to exactly one process, accepted at most once, and replaced by a fresh one on
// every acceptance (for that agent's next reconnect), so a token seen once is worthless after.
#pragma once

#include <string>
#include <string_view>

namespace liaison::daemon {

// 32 random bytes from the kernel (fill_random), hex-encoded. Never logged.
std::string make_agent_token();

// Compares in time that depends only on the lengths, not on where the strings differ.
bool tokens_match(std::string_view expected, std::string_view presented);

// The SHA-256 of a token, hex-encoded: what the daemon keeps (in memory and in its adoption
// records) instead of the token itself, so a record read by the wrong eyes proves nothing.
std::string token_digest(std::string_view token);

}  // namespace liaison::daemon
