#include "platform/linux/logind_session_watch.h"

#include <fmt/format.h>
#include <systemd/sd-login.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace liaison::platform {

void LogindSessionWatch::MonitorDeleter::operator()(sd_login_monitor* monitor) const {
  sd_login_monitor_unref(monitor);
}

std::expected<std::unique_ptr<LogindSessionWatch>, std::string> LogindSessionWatch::create(
    std::string session_id) {
  sd_login_monitor* monitor = nullptr;
  if (int result = sd_login_monitor_new("session", &monitor); result < 0) {
    return std::unexpected(
        fmt::format("cannot watch logind sessions: {}", std::generic_category().message(-result)));
  }
  return std::unique_ptr<LogindSessionWatch>(
      new LogindSessionWatch(std::move(session_id), monitor));  // NOLINT: private constructor
}

int LogindSessionWatch::change_fd() const { return sd_login_monitor_get_fd(monitor_.get()); }

void LogindSessionWatch::acknowledge_change() { sd_login_monitor_flush(monitor_.get()); }

bool LogindSessionWatch::session_ended() {
  char* state = nullptr;
  const int result = sd_session_get_state(session_id_.c_str(), &state);
  const bool ended = result == -ENXIO || result == -ENOENT ||
                     (result >= 0 && std::string_view(state) == "closing");
  std::free(state);  // NOLINT(cppcoreguidelines-no-malloc)
  return ended;
}

}  // namespace liaison::platform
