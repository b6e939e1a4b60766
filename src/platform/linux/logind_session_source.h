// The daemon's view of logind: sessions read through sd-login, changes from an inotify watch on
// logind's records (/run/systemd/sessions) whose fd sits in the daemon's event loop. Each event
// names the session whose record was renamed in or removed, so a change costs reading that one
// record, not every session's: a login storm on a terminal server is O(N) reads, not O(N^2).
#pragma once

#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "daemon/session.h"
#include "daemon/session_source.h"

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
  LogindSessionSource(Passkey, UniqueFd inotify) : inotify_(std::move(inotify)) {}

  // The first call reads every record; later ones only those changed since (after an inotify
  // queue overflow, every record again).
  std::expected<std::vector<daemon::Session>, std::string> list_sessions() override;
  int change_fd() const override { return inotify_.get(); }
  // Takes the pending events, noting which sessions' records changed.
  void acknowledge_change() override;

  // How many session records were read so far: what a change costs, for tests and benchmarks.
  std::size_t records_read() const { return records_read_; }

 private:
  std::expected<void, std::string> read_all();
  void read_one(const std::string& id);

  UniqueFd inotify_;
  std::map<std::string, daemon::Session> known_;
  std::set<std::string> changed_;
  bool read_everything_ = true;
  std::size_t records_read_ = 0;
};

// One session as sd-login reports it now; nullopt when the session vanished meanwhile (logout
// between listing and reading), an error when its record cannot be read.
std::expected<std::optional<daemon::Session>, std::string> read_logind_session(
    const std::string& id);

}  // namespace liaison::platform
