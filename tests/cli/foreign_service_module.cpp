// Stand-ins for a liaison-service.so the binary must refuse (tests/cli/check_lean_client.py):
// one from another liaison release, and one that is some other library altogether.
#include "cli/service_module.h"

#ifdef LIAISON_TEST_NOT_OURS
extern "C" __attribute__((visibility("default"))) int some_other_library_entry() { return 0; }
#else
namespace {
int refuse_to_run_daemon(const liaison::cli::DaemonFlags&) { return 99; }
int refuse_to_run_agent() { return 99; }
}  // namespace

extern "C" __attribute__((visibility("default"))) const liaison::cli::ServiceEntryPoints*
liaison_service_entry_points() {
  static constexpr liaison::cli::ServiceEntryPoints kEntryPoints{
      .version = "0.0.0-another-release",
      .run_daemon = &refuse_to_run_daemon,
      .run_agent = &refuse_to_run_agent,
  };
  return &kEntryPoints;
}
#endif
