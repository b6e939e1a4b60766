// /proc/<pid>/stat, status and environ and a cgroup.procs file: the user controls the command
// name in stat and every byte of environ. The input is not NUL-terminated, as a view of a
// buffer need not be: a parser that reads past its end is caught by ASan.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "platform/linux/proc_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)liaison::platform::start_time_from_stat(text);
  auto uid = liaison::platform::real_uid_from_status(text);
  if (liaison::platform::runs_as(text, 1000) && uid != 1000U) {
    std::abort();  // runs_as(1000) means a real uid of 1000
  }
  size_t total = 0;
  for (const auto& entry : liaison::platform::split_environ(text, size % 2 == 0)) {
    if (entry.empty() || entry.find('\0') != std::string::npos) {
      std::abort();
    }
    total += entry.size();
  }
  if (total > size) {
    std::abort();
  }
  for (pid_t pid : liaison::platform::parse_pids(text)) {
    if (pid <= 0) {
      std::abort();
    }
  }
  return 0;
}
