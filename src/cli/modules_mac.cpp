// macOS: the daemon and the agent are linked into the binary (modules.h says why).
#include "cli/modules.h"

namespace liaison::cli {
namespace {
constexpr DaemonModule kDaemon{.version = LIAISON_VERSION, .run_daemon = &run_daemon};
constexpr AgentModule kAgent{.version = LIAISON_VERSION, .run_agent = &run_agent};
}  // namespace

std::expected<const DaemonModule*, std::string> load_daemon_module() { return &kDaemon; }
std::expected<const AgentModule*, std::string> load_agent_module() { return &kAgent; }

std::string module_path(const std::string& executable, std::string_view) { return executable; }

}  // namespace liaison::cli
