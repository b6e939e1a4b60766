// Where keys are stored; no OpenSSL here, so the agent can place its store without loading the
// key code (src/cli/agent_keys_on_demand.h).
#include <string>

#include "keys/key_store.h"

namespace liaison::keys {

std::filesystem::path daemon_key_directory(const std::filesystem::path& state_directory,
                                           uid_t uid) {
  return state_directory / "keys" / std::to_string(uid);
}

KeyResult<std::filesystem::path> agent_key_directory(const char* xdg_data_home, const char* home) {
  std::filesystem::path data_home;
  if (xdg_data_home != nullptr && xdg_data_home[0] == '/') {
    data_home = xdg_data_home;
  } else if (home != nullptr && home[0] == '/') {
    data_home = std::filesystem::path(home) / ".local" / "share";
  } else {
    return std::unexpected(KeyError{
        "unavailable",
        "cannot place the user's key store: neither XDG_DATA_HOME nor HOME is an absolute path"});
  }
  return data_home / "liaison" / "keys";
}

}  // namespace liaison::keys
