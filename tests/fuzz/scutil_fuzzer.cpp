// What `scutil` prints for State:/Users/ConsoleUser (macOS), parsed on every console change.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/macos/scutil_console_user.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto state = liaison::platform::macos::parse_console_user_state(text)) {
    (void)liaison::platform::macos::user_on_console(*state);
    (void)liaison::platform::macos::gui_sessions(*state);
  }
  return 0;
}
