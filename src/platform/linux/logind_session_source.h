// The daemon's view of logind: sessions read through sd-login, changes through an inotify-backed
// sd_login_monitor whose fd sits in the daemon's event loop.
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/session.h"
#include "daemon/session_source.h"

typedef struct sd_login_monitor sd_login_monitor;

namespace liaison::platform {

class LogindSessionSource final : public daemon::SessionSource {
 public:
  // Fails when logind's state directory (/run/systemd/sessions) does not exist: logind is not
  // running, and there is nothing to watch.
  static std::expected<std::unique_ptr<LogindSessionSource>, std::string> create();

  // Public for std::make_unique only: the Passkey keeps construction inside create().
  class Passkey {
    friend class LogindSessionSource;
    Passkey() = default;
  };
  LogindSessionSource(Passkey, sd_login_monitor* monitor) : monitor_(monitor) {}

  std::expected<std::vector<daemon::Session>, std::string> list_sessions() override;
  int change_fd() const override;
  void acknowledge_change() override;

 private:
  struct MonitorDeleter {
    void operator()(sd_login_monitor* monitor) const;
  };

  std::unique_ptr<sd_login_monitor, MonitorDeleter> monitor_;
};

// One session as sd-login reports it now; nullopt when the session vanished meanwhile (logout
// between listing and reading), an error when its record cannot be read.
std::expected<std::optional<daemon::Session>, std::string> read_logind_session(
    const std::string& id);

}  // namespace liaison::platform
