// liaison-daemon.so's one exported symbol (src/cli/modules.h).
#include "cli/modules.h"

extern "C" __attribute__((visibility("default"))) const liaison::cli::DaemonModule*
liaison_daemon_module() {
  static constexpr liaison::cli::DaemonModule kModule{.version = LIAISON_VERSION,
                                                      .run_daemon = &liaison::cli::run_daemon};
  return &kModule;
}
