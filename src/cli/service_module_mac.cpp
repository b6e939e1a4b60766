// macOS: the daemon and the agent are linked into the binary (service_module.h says why).
#include "cli/service_module.h"

namespace liaison::cli {

std::expected<ServiceEntryPoints, std::string> load_service() {
  return ServiceEntryPoints{
      .version = LIAISON_VERSION, .run_daemon = &run_daemon, .run_agent = &run_agent};
}

std::string service_module_path(const std::string& executable) { return executable; }

}  // namespace liaison::cli
