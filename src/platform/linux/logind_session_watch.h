// The agent's view of its own logind session: sd_login_monitor for change events, the session's
// state for the answer. Works as any user: logind's records under /run/systemd are world-readable.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "agent/session_watch.h"

typedef struct sd_login_monitor sd_login_monitor;

namespace liaison::platform {

class LogindSessionWatch final : public agent::SessionWatch {
 public:
  static std::expected<std::unique_ptr<LogindSessionWatch>, std::string> create(
      std::string session_id);

  int change_fd() const override;
  void acknowledge_change() override;
  // Ended when logind no longer knows the session, or it is closing (its user logged out and
  // only leftover processes keep it).
  bool session_ended() override;

 private:
  struct MonitorDeleter {
    void operator()(sd_login_monitor* monitor) const;
  };
  LogindSessionWatch(std::string session_id, sd_login_monitor* monitor)
      : session_id_(std::move(session_id)), monitor_(monitor) {}

  std::string session_id_;
  std::unique_ptr<sd_login_monitor, MonitorDeleter> monitor_;
};

}  // namespace liaison::platform
