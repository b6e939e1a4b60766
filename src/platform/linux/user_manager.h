// A user's own service manager (user@<uid>.service), reached as root over its private socket
// /run/user/<uid>/systemd/private: a direct D-Bus connection, no bus daemon, which the manager
// accepts from root and from its own user (what `systemctl --user -M <user>@` ends up doing).
// Blocking, but every call is bounded by the connection's deadline; the manager answers these in
// about a millisecond.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/linux/sd_bus_ptr.h"
#include "platform/linux/transient_unit.h"

namespace liaison::platform {

struct UnitStatus {
  std::string load_state;    // loaded, not-found, masked, ...
  std::string active_state;  // active, activating, deactivating, inactive, failed
  std::string sub_state;
  pid_t main_pid = 0;

  bool running() const {
    return active_state == "active" || active_state == "activating" || active_state == "reloading";
  }
};

class UserManager {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{3000};

  // Connects to the manager of `uid`; fails when it is not running (or listens as someone else).
  static std::expected<UserManager, std::string> connect(
      uid_t uid, std::chrono::milliseconds timeout = kDefaultTimeout);
  static std::expected<UserManager, std::string> connect_at(const std::string& socket_path,
                                                            uid_t expected_uid,
                                                            std::chrono::milliseconds timeout);
  static std::string socket_path_of(uid_t uid);

  // LoadUnit + its states and MainPID; a unit that does not exist is load_state "not-found".
  std::expected<UnitStatus, std::string> unit_status(const std::string& unit);

  // These wait for the job they queue to finish and fail unless its result is "done".
  std::expected<void, std::string> start_unit(const std::string& unit);
  std::expected<void, std::string> restart_unit(const std::string& unit);
  std::expected<void, std::string> start_transient_service(const TransientService& service);

  // Queues a stop (the manager then sends SIGTERM, and SIGKILL after the unit's stop timeout);
  // does not wait for it. Stopping a unit that is not running is no error.
  std::expected<void, std::string> stop_unit(const std::string& unit);
  std::expected<void, std::string> kill_unit(const std::string& unit, int signal);
  std::expected<void, std::string> reset_failed_unit(const std::string& unit);

  // daemon-reload: returns once the manager has reloaded its unit files.
  std::expected<void, std::string> reload();

 private:
  UserManager(SdBusPtr bus, std::chrono::milliseconds timeout)
      : bus_(std::move(bus)), timeout_(timeout) {}

  using FinishedJobs = std::vector<std::pair<std::string, std::string>>;  // job path, result

  std::expected<SdBusMessagePtr, std::string> call(SdBusMessagePtr message);
  std::expected<void, std::string> process_until(const std::function<bool()>& done,
                                                 std::chrono::steady_clock::time_point deadline);
  std::expected<SdBusMessagePtr, std::string> new_method(const char* member);
  std::expected<void, std::string> wait_for_job(const std::string& job_path);
  std::expected<void, std::string> run_job(SdBusMessagePtr message, const std::string& what);
  std::expected<std::string, std::string> unit_path(const std::string& unit);

  SdBusPtr bus_;
  std::chrono::milliseconds timeout_;
  // On the heap: the JobRemoved callback holds its address, which must survive moves.
  std::unique_ptr<FinishedJobs> finished_jobs_ = std::make_unique<FinishedJobs>();
  SdBusSlotPtr job_removed_;
  std::string last_error_name_;  // of the last call that failed with a D-Bus error
};

// The unit each strategy's agent runs under in a user's manager.
inline constexpr char kAsUserAgentUnit[] = "liaison-agent-asuser.service";
inline constexpr char kLaunchAgentUnit[] = "liaison-agent.service";

// The agent unit of a strategy ("asuser", "launch-agent"); empty for "exec" and unknown names.
std::string agent_unit_of(std::string_view strategy);

// The `--machine` value systemd-run and systemctl take to reach a user's manager: "<uid>@.host".
std::string machine_of(uid_t uid);

}  // namespace liaison::platform
