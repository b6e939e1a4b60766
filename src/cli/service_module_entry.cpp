// The one symbol liaison-service.so exports (everything else in it is hidden): the entry points
// src/cli/service_module_linux.cpp looks up.
#include "cli/service_module.h"

extern "C" __attribute__((visibility("default"))) const liaison::cli::ServiceEntryPoints*
liaison_service_entry_points() {
  static constexpr liaison::cli::ServiceEntryPoints kEntryPoints{
      .version = LIAISON_VERSION,
      .run_daemon = &liaison::cli::run_daemon,
      .run_agent = &liaison::cli::run_agent,
  };
  return &kEntryPoints;
}
