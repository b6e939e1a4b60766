#include "daemon/launch_agent_service.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "common/log.h"
#include "daemon/off_loop.h"
#include "daemon/user_finder.h"
#include "daemon/users.h"

namespace liaison::daemon {

using protocol::Error;
using protocol::Json;
using protocol::Result;
namespace codes = protocol::codes;

struct LaunchAgentService::Targets {
  bool all = true;
  std::set<uid_t> uids;

  bool includes(uid_t uid) const { return all || uids.contains(uid); }
};

struct LaunchAgentService::UserErrors {
  std::map<uid_t, std::string> by_uid;

  void note(uid_t uid, const std::expected<void, std::string>& outcome) {
    if (!outcome && !by_uid.contains(uid)) {
      by_uid[uid] = outcome.error();
    }
  }
};

namespace {

Result<std::string> user_value(const Json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return std::to_string(value.get<int64_t>());
  }
  return std::unexpected(
      Error::invalid_params("user must be a name or a uid, or an array of them"));
}

}  // namespace

asio::awaitable<Result<Json>> LaunchAgentService::handle(protocol::Request request) {
  if (installer_ == nullptr) {
    co_return std::unexpected(Error::application(
        codes::kUnavailable, "the launch-agent strategy is not available on this platform"));
  }
  if (request.method == "launch_agent.install") {
    co_return co_await install(request.params);
  }
  if (request.method == "launch_agent.uninstall") {
    co_return co_await uninstall(request.params);
  }
  if (request.method == "launch_agent.status") {
    co_return co_await status(request.params);
  }
  co_return std::unexpected(Error::method_not_found(request.method));
}

namespace {

// `user` (one or several) or `all`; neither means all.
Result<std::pair<bool, std::vector<std::string>>> parse_target_params(const Json& params) {
  if (!params.is_object()) {
    return std::unexpected(Error::invalid_params("params must be an object"));
  }
  for (const auto& [key, value] : params.items()) {
    if (key != "user" && key != "all") {
      return std::unexpected(Error::invalid_params(fmt::format("unknown param \"{}\"", key)));
    }
  }
  std::vector<std::string> users;
  if (auto user = params.find("user"); user != params.end()) {
    const Json list = user->is_array() ? *user : Json::array({*user});
    for (const Json& entry : list) {
      auto value = user_value(entry);
      if (!value) {
        return std::unexpected(value.error());
      }
      users.push_back(*value);
    }
    if (users.empty()) {
      return std::unexpected(Error::invalid_params("user must not be empty"));
    }
  }
  bool all = false;
  if (auto flag = params.find("all"); flag != params.end()) {
    if (!flag->is_boolean()) {
      return std::unexpected(Error::invalid_params("all must be a boolean"));
    }
    all = flag->get<bool>();
  }
  if (all && !users.empty()) {
    return std::unexpected(Error::invalid_params("give user or all, not both"));
  }
  return std::pair{users.empty(), users};
}

}  // namespace

asio::awaitable<Result<Json>> LaunchAgentService::install(Json params) {
  auto result = co_await change(std::move(params), true);
  co_return result;
}
asio::awaitable<Result<Json>> LaunchAgentService::uninstall(Json params) {
  auto result = co_await change(std::move(params), false);
  co_return result;
}

// The users a call names (`user`, or `all`), resolved to uids.
asio::awaitable<Result<LaunchAgentService::Targets>> LaunchAgentService::targets_of(Json params) {
  auto parsed = parse_target_params(params);
  if (!parsed) {
    co_return std::unexpected(parsed.error());
  }
  Targets targets{.all = parsed->first};
  const std::vector<std::optional<ResolvedUser>> found =
      co_await find_users(parsed->second, agents_.agents(), resolve_user);
  for (std::size_t i = 0; i < found.size(); ++i) {
    const std::optional<ResolvedUser>& user = found[i];
    if (!user.has_value()) {
      co_return std::unexpected(Error::application(
          codes::kNotFound, fmt::format("no such user \"{}\"", parsed->second[i])));
    }
    targets.uids.insert(user->uid);
  }
  co_return targets;
}

asio::awaitable<std::map<uid_t, std::string>> LaunchAgentService::names_of(std::set<uid_t> uids) {
  std::vector<uid_t> ordered(uids.begin(), uids.end());
  std::vector<std::string> asked;
  asked.reserve(ordered.size());
  for (uid_t uid : ordered) {
    asked.push_back(std::to_string(uid));
  }
  const std::vector<std::optional<ResolvedUser>> found =
      co_await find_users(asked, agents_.agents(), resolve_user);
  std::map<uid_t, std::string> names;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const std::optional<ResolvedUser>& user = found[i];
    names[ordered[i]] = user.has_value() ? user->name : asked[i];
  }
  co_return names;
}

asio::awaitable<Result<Json>> LaunchAgentService::change(Json params, bool installing) {
  auto targets = co_await targets_of(params);
  if (!targets) {
    co_return std::unexpected(targets.error());
  }
  auto current = installer_->installation();
  if (!current) {
    co_return std::unexpected(Error::application(codes::kFailed, current.error()));
  }
  LaunchAgentInstallation next = *current;
  if (installing && targets->all) {
    next = {.all = true};
  } else if (installing) {
    next.users.insert(targets->uids.begin(), targets->uids.end());
  } else if (targets->all) {
    next = {};
  } else if (current->all) {
    co_return std::unexpected(
        Error::application(codes::kFailed,
                           "launch-agent is installed for all users: uninstall it with --all, then "
                           "install it for the users who keep it"));
  } else {
    for (uid_t uid : targets->uids) {
      next.users.erase(uid);
    }
  }
  auto changed = installer_->write(next);
  if (!changed) {
    co_return std::unexpected(Error::application(codes::kFailed, changed.error()));
  }
  log::info(
      fmt::format("launch-agent {}: {}", installing ? "install" : "uninstall",
                  changed->files ? "files changed" : "nothing to change"),
      {{"LIAISON_EVENT", installing ? "launch-agent-installed" : "launch-agent-uninstalled"}});

  // Every user with a session: their manager reloads, then their agent follows the change. The
  // managers are the users' to stall: asked off the loop, which serves everyone else meanwhile.
  std::set<uid_t> users;
  for (const AgentView& view : agents_.agents()) {
    users.insert(view.session.uid);
  }
  // Named, not a temporary of the co_await expression: g++ 12 mis-destroys those.
  std::function<UserErrors()> tell_managers = [installer = installer_, users,
                                               files = changed->files, command = changed->command,
                                               current = *current, next] {
    UserErrors found;
    for (uid_t uid : users) {
      if (files) {
        found.note(uid, installer->reload(uid));
      }
      if (current.installed_for(uid) && !next.installed_for(uid)) {
        found.note(uid, installer->stop(uid));
      }
      if (command && next.installed_for(uid) && current.installed_for(uid)) {
        found.note(uid, installer->restart_if_running(uid));
      }
    }
    return found;
  };
  UserErrors errors = co_await run_off_loop<UserErrors>(std::move(tell_managers));
  // Under [agent] launch = "launch-agent" this starts the agent in the current sessions of the
  // users it was installed for, and parks those it was removed for.
  agents_.reconsider();
  auto units = co_await unit_states(*targets);
  const std::map<uid_t, std::string> names =
      co_await names_of(std::set<uid_t>(next.users.begin(), next.users.end()));
  Json result = report(next, *targets, errors, units, names);
  result["changed"] = changed->files;
  co_return result;
}

// The agent unit's state in the manager of every user with a session the call names; off the
// loop, like every call to a user's manager.
asio::awaitable<std::map<uid_t, UserUnitState>> LaunchAgentService::unit_states(
    const Targets& targets) {
  std::set<uid_t> users;
  for (const AgentView& view : agents_.agents()) {
    if (targets.includes(view.session.uid)) {
      users.insert(view.session.uid);
    }
  }
  std::function<std::map<uid_t, UserUnitState>()> ask_managers = [installer = installer_, users] {
    std::map<uid_t, UserUnitState> units;
    for (uid_t uid : users) {
      units[uid] = installer->unit_state(uid);
    }
    return units;
  };
  auto units = co_await run_off_loop<std::map<uid_t, UserUnitState>>(std::move(ask_managers));
  co_return units;
}

asio::awaitable<Result<Json>> LaunchAgentService::status(Json params) {
  auto targets = co_await targets_of(params);
  if (!targets) {
    co_return std::unexpected(targets.error());
  }
  auto installation = installer_->installation();
  if (!installation) {
    co_return std::unexpected(Error::application(codes::kFailed, installation.error()));
  }
  auto units = co_await unit_states(*targets);
  const std::map<uid_t, std::string> names =
      co_await names_of(std::set<uid_t>(installation->users.begin(), installation->users.end()));
  co_return report(*installation, *targets, {}, units, names);
}

Json LaunchAgentService::report(const LaunchAgentInstallation& installation, const Targets& targets,
                                const UserErrors& errors,
                                const std::map<uid_t, UserUnitState>& units,
                                const std::map<uid_t, std::string>& names) {
  Json users = Json::array();
  for (uid_t uid : installation.users) {
    users.push_back({{"uid", uid}, {"user", names.at(uid)}});
  }
  Json sessions = Json::array();
  for (const AgentView& view : agents_.agents()) {
    const uid_t uid = view.session.uid;
    if (!targets.includes(uid)) {
      continue;
    }
    // A session that appeared while the states were read has none yet: shown as unknown.
    const auto found = units.find(uid);
    const UserUnitState unit = found != units.end() ? found->second : UserUnitState{};
    Json entry = {
        {"session", view.session.id},
        {"uid", uid},
        {"user", view.session.user},
        {"installed", installation.installed_for(uid)},
        {"unit",
         {{"load_state", unit.load_state.empty() ? Json(nullptr) : Json(unit.load_state)},
          {"active_state", unit.active_state.empty() ? Json(nullptr) : Json(unit.active_state)},
          {"pid", unit.main_pid == 0 ? Json(nullptr) : Json(unit.main_pid)}}},
        {"agent",
         {{"state", agent_state_name(view.state)},
          {"pid", view.pid == 0 ? Json(nullptr) : Json(view.pid)},
          {"strategy", view.strategy}}}};
    if (!unit.error.empty()) {
      entry["unit"]["error"] = unit.error;
    }
    if (auto failed = errors.by_uid.find(uid); failed != errors.by_uid.end()) {
      entry["error"] = {{"code", std::string(codes::kFailed)}, {"message", failed->second}};
    }
    sessions.push_back(std::move(entry));
  }
  return {{"unit", installer_->unit_name()},
          {"command", installer_->command()},
          {"strategy", strategy_},
          {"installed", {{"all", installation.all}, {"users", users}}},
          {"sessions", sessions}};
}

}  // namespace liaison::daemon
