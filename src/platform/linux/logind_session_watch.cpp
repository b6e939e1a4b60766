#include "platform/linux/logind_session_watch.h"

#include <fmt/format.h>
#include <systemd/sd-login.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "platform/linux/logind_records.h"

namespace liaison::platform {

std::expected<std::unique_ptr<LogindSessionWatch>, std::string> LogindSessionWatch::create(
    std::string session_id, const std::filesystem::path& records) {
  if (!is_logind_session_id(session_id)) {  // anything else would name another file
    return std::unexpected(fmt::format("\"{}\" is not a logind session id", session_id));
  }
  auto record = ReplacedFileWatch::create(records / session_id);
  if (!record) {
    return std::unexpected(record.error());
  }
  return std::unique_ptr<LogindSessionWatch>(  // NOLINT: private constructor
      new LogindSessionWatch(std::move(session_id), std::move(*record)));
}

bool LogindSessionWatch::session_ended() {
  if (!record_.exists()) {
    return true;
  }
  char* state = nullptr;
  const int result = sd_session_get_state(session_id_.c_str(), &state);
  const bool ended = result == -ENXIO || result == -ENOENT ||
                     (result >= 0 && std::string_view(state) == "closing");
  std::free(state);  // NOLINT(cppcoreguidelines-no-malloc)
  return ended;
}

}  // namespace liaison::platform
