// The control socket's launch_agent.* methods (`liaison launch-agent install|uninstall|status
// [--user U | --all]`): install, modify, stop and remove the launch-agent unit and report it per
// session. Params are named like the flags: `user` (a name or uid, or an array of them) or
// `all`; neither means all. Results are what `--json` prints (docs/protocol.md).
#pragma once

#include <asio/awaitable.hpp>
#include <map>
#include <set>
#include <string>

#include "daemon/agent_supervisor.h"
#include "daemon/launch_agent_installer.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {

class LaunchAgentService {
 public:
  // `installer` may be null (a platform without launch agents): every method then says so.
  // `strategy` is the daemon's [agent] launch: agents are started only under "launch-agent".
  LaunchAgentService(AgentSupervisor& agents, LaunchAgentInstaller* installer, std::string strategy)
      : agents_(agents), installer_(installer), strategy_(std::move(strategy)) {}

  static bool handles(const std::string& method) { return method.starts_with("launch_agent."); }

  // By value: a coroutine must own what it reads after its first suspension.
  asio::awaitable<protocol::Result<protocol::Json>> handle(protocol::Request request);

  // Each asks the users' service managers off the loop (run_off_loop): they are the users' to
  // stall, and the loop serves everyone else meanwhile.
  asio::awaitable<protocol::Result<protocol::Json>> install(protocol::Json params);
  asio::awaitable<protocol::Result<protocol::Json>> uninstall(protocol::Json params);
  asio::awaitable<protocol::Result<protocol::Json>> status(protocol::Json params);

 private:
  struct Targets;
  struct UserErrors;

  asio::awaitable<protocol::Result<Targets>> targets_of(protocol::Json params);
  // The login names of `uids`, for the report (user_finder.h: never blocking the loop).
  asio::awaitable<std::map<uid_t, std::string>> names_of(std::set<uid_t> uids);
  asio::awaitable<protocol::Result<protocol::Json>> change(protocol::Json params, bool installing);
  asio::awaitable<std::map<uid_t, UserUnitState>> unit_states(const Targets& targets);
  protocol::Json report(const LaunchAgentInstallation& installation, const Targets& targets,
                        const UserErrors& errors, const std::map<uid_t, UserUnitState>& units,
                        const std::map<uid_t, std::string>& names);

  AgentSupervisor& agents_;
  LaunchAgentInstaller* installer_;
  std::string strategy_;
};

}  // namespace liaison::daemon
