// The agent's view of its own logind session: its record, /run/systemd/sessions/<id>, watched
// alone (ReplacedFileWatch), so the agent wakes when its own session changes and never for other
// users' logins and logouts; sd-login for the answer. Works as any user: logind's records are
// world-readable.
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/session_watch.h"
#include "platform/linux/logind_records.h"
#include "platform/linux/replaced_file_watch.h"

namespace liaison::platform {

class LogindSessionWatch final : public agent::SessionWatch {
 public:
  // `records` is where logind keeps its session records; tests give a directory of their own.
  static std::expected<std::unique_ptr<LogindSessionWatch>, std::string> create(
      std::string session_id, const std::filesystem::path& records = kLogindSessionRecords);

  int change_fd() const override { return record_.fd(); }
  void acknowledge_change() override { record_.rearm(); }
  // Ended when logind no longer has its record, or it is closing (its user logged out and only
  // leftover processes keep it).
  bool session_ended() override;

 private:
  LogindSessionWatch(std::string session_id, ReplacedFileWatch record)
      : session_id_(std::move(session_id)), record_(std::move(record)) {}

  std::string session_id_;
  ReplacedFileWatch record_;
};

}  // namespace liaison::platform
