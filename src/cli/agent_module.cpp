// liaison-agent.so's one exported symbol (src/cli/modules.h).
#include "cli/modules.h"

extern "C" __attribute__((visibility("default"))) const liaison::cli::AgentModule*
liaison_agent_module() {
  static constexpr liaison::cli::AgentModule kModule{.version = LIAISON_VERSION,
                                                     .run_agent = &liaison::cli::run_agent};
  return &kModule;
}
