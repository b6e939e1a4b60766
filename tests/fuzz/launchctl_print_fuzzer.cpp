// What `launchctl print gui/<uid>/<label>` prints (macOS): the agent's state, pid and exit code.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/macos/launchctl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)liaison::platform::macos::parse_launchctl_print(text);
  return 0;
}
