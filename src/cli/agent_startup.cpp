#include "cli/agent_startup.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace liaison::cli {

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  if (value != nullptr && *value != '\0') {
    return value;
  }
  return fallback;
}

std::string take_token() {
  const std::string fd_text = env_or("LIAISON_TOKEN_FD", "");
  ::unsetenv("LIAISON_TOKEN_FD");
  if (fd_text.empty()) {
    return "";
  }
  const int fd = std::atoi(fd_text.c_str());
  std::string token;
  char chunk[128];
  for (ssize_t got; token.size() < 1024 && (got = ::read(fd, chunk, sizeof(chunk))) != 0;) {
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    token.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) {
    token.pop_back();
  }
  return token;
}

agent::AgentOptions agent_options_from_environment(const std::string& default_socket) {
  agent::AgentOptions options;
  options.session_id = env_or("LIAISON_SESSION", "");
  options.socket_path = env_or("LIAISON_AGENT_SOCKET", default_socket);
  options.token = take_token();
  if (const char* grace = std::getenv("LIAISON_DAEMON_GRACE_SECONDS")) {
    options.daemon_grace = std::chrono::seconds(std::atoi(grace));
  }
  options.max_retry = std::chrono::seconds(1);
  return options;
}

}  // namespace liaison::cli
