// Apple only. GUI login sessions from SCDynamicStore's State:/Users/ConsoleUser, event-driven:
// the store's notification for that key writes a byte to a pipe whose read end is change_fd().
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "daemon/session_source.h"

namespace liaison::platform::macos {

std::expected<std::unique_ptr<daemon::SessionSource>, std::string> make_console_session_source();

}  // namespace liaison::platform::macos
