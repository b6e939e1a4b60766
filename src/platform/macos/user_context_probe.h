// `liaison doctor`'s daemon-side look at a user's context on macOS (daemon::UserContextProbe):
// whether launchd has the user's gui/<uid> domain (and, for launch-agent, our job in it), and what
// launchd session a child that only setuid()s to the user lands in (`launchctl managername`).
// Portable: Linux tests run it against the launchctl stand-in.
#pragma once

#include <chrono>
#include <string>

#include "daemon/user_context_probe.h"
#include "platform/macos/launchctl.h"

namespace liaison::platform::macos {

class MacUserContextProbe final : public daemon::UserContextProbe {
 public:
  // `launchctl_path` is what the setuid-only child runs (a stand-in in tests); `deadline` bounds
  // it.
  explicit MacUserContextProbe(Launchctl& launchctl,
                               std::string launchctl_path = std::string(kLaunchctlPath),
                               std::chrono::milliseconds deadline = std::chrono::seconds(2))
      : launchctl_(launchctl), launchctl_path_(std::move(launchctl_path)), deadline_(deadline) {}

  // One or two `launchctl print` runs (tens of milliseconds; they block the caller).
  protocol::Finding check_user_manager(uid_t uid, const std::string& strategy) override;

  // Forks a child that keeps the daemon's environment and only drops to `uid` (setgroups,
  // setgid, setuid), running `launchctl managername`; reads its answer without blocking the loop.
  asio::awaitable<protocol::Finding> check_setuid_only_child(uid_t uid) override;

 private:
  Launchctl& launchctl_;
  std::string launchctl_path_;
  std::chrono::milliseconds deadline_;
};

}  // namespace liaison::platform::macos
