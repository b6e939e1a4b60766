// macOS: the daemon and the agent are linked into the binary (modules.h says why).
#include <limits.h>
#include <mach-o/dyld.h>
#include <stdlib.h>

#include "cli/modules.h"

namespace liaison::cli {
namespace {
constexpr DaemonModule kDaemon{.version = LIAISON_VERSION, .run_daemon = &run_daemon};
constexpr AgentModule kAgent{.version = LIAISON_VERSION, .run_agent = &run_agent};
}  // namespace

std::expected<const DaemonModule*, std::string> load_daemon_module() { return &kDaemon; }
std::expected<const AgentModule*, std::string> load_agent_module() { return &kAgent; }

std::string module_path(const std::string& executable, std::string_view) { return executable; }

std::expected<std::string, std::string> own_executable() {
  uint32_t size = PATH_MAX;
  std::string path(size, '\0');
  if (_NSGetExecutablePath(path.data(), &size) != 0) {
    path.resize(size);
    if (_NSGetExecutablePath(path.data(), &size) != 0) {
      return std::unexpected(std::string("_NSGetExecutablePath failed"));
    }
  }
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return std::unexpected("realpath: " + path);
  return std::string(resolved);
}

}  // namespace liaison::cli
