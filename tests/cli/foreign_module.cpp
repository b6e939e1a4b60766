// Stand-ins for a liaison-service.so the binary must refuse (tests/cli/check_lean_client.py):
// one from another liaison release, and one that is some other library altogether.
#include "cli/modules.h"

#ifdef LIAISON_TEST_NOT_OURS
extern "C" __attribute__((visibility("default"))) int some_other_library_entry() { return 0; }
#else
namespace {
int refuse_to_run_daemon(const liaison::cli::DaemonFlags&) { return 99; }
int refuse_to_run_agent() { return 99; }
}  // namespace

extern "C" __attribute__((visibility("default"))) const liaison::cli::DaemonModule*
liaison_daemon_module() {
  static constexpr liaison::cli::DaemonModule kModule{.version = "0.0.0-another-release",
                                                      .run_daemon = &refuse_to_run_daemon};
  return &kModule;
}

extern "C" __attribute__((visibility("default"))) const liaison::cli::AgentModule*
liaison_agent_module() {
  static constexpr liaison::cli::AgentModule kModule{.version = "0.0.0-another-release",
                                                     .run_agent = &refuse_to_run_agent};
  return &kModule;
}
#endif
