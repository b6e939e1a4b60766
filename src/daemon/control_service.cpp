#include "daemon/control_service.h"

#include <fmt/format.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <map>
#include <optional>
#include <set>

#include "daemon/agent_view_json.h"
#include "daemon/concurrently.h"
#include "daemon/notify_request.h"
#include "daemon/user_finder.h"
#include "daemon/users.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;
namespace codes = protocol::codes;

Json error_json(const Error& error) {
  return {{"code", error.data_code.empty() ? std::string(codes::kFailed) : error.data_code},
          {"message", error.message}};
}

}  // namespace

struct ControlService::Target {
  std::string session;  // empty when a named user has no session at all
  uid_t uid = 0;
  std::string user;
  std::optional<Error> error;
  std::optional<uint32_t> notification_id;
  std::optional<NotificationOutcome> outcome;
  // The agent serving `session` (AgentView::agent_id), and the target of another session it
  // serves too whose delivery this one shares: one agent shows a notification once.
  std::string agent;
  const Target* delivered_with = nullptr;

  void share(const Target& delivered) {
    error = delivered.error;
    notification_id = delivered.notification_id;
    outcome = delivered.outcome;
  }

  Json to_json(bool waited) const {
    Json result = {{"session", session.empty() ? Json(nullptr) : Json(session)},
                   {"uid", uid},
                   {"user", user},
                   {"delivered", notification_id.has_value()}};
    if (notification_id) {
      result["notification_id"] = *notification_id;
    }
    if (error) {
      result["error"] = error_json(*error);
    }
    if (waited) {
      result["action"] = outcome && outcome->action ? Json(*outcome->action) : Json(nullptr);
      result["closed"] = outcome && outcome->closed ? Json(*outcome->closed) : Json(nullptr);
    }
    return result;
  }
};

asio::awaitable<Result<Json>> ControlService::handle(protocol::Request request) {
  if (request.method == "version") {
    co_return version();
  }
  if (request.method == "sessions.list") {
    co_return list_sessions();
  }
  if (request.method == "notify") {
    co_return co_await notify(request.params);
  }
  if (KeyRouter::handles(request.method)) {
    co_return co_await keys_.handle(std::move(request));
  }
  if (request.method == "doctor") {
    co_return co_await doctor_.examine(std::move(request.params));
  }
  co_return std::unexpected(Error::method_not_found(request.method));
}

Json ControlService::version() const {
  return {{"version", LIAISON_VERSION}, {"protocol", 1}, {"launch", config_.agent.launch}};
}

Json ControlService::list_sessions() const {
  Json sessions = Json::array();
  for (const AgentView& agent : agents_.agents()) {
    const Session& s = agent.session;
    sessions.push_back({{"session", s.id},
                        {"uid", s.uid},
                        {"user", s.user},
                        {"type", s.type},
                        {"class", s.session_class},
                        {"seat", s.seat.empty() ? Json(nullptr) : Json(s.seat)},
                        {"active", s.active()},
                        {"remote", s.remote},
                        {"agent", agent_json(agent)}});
  }
  return sessions;
}

asio::awaitable<Result<Json>> ControlService::notify(const Json& params) {
  auto request = parse_notify_request(params);
  if (!request) {
    co_return std::unexpected(request.error());
  }

  // Whom to reach: every session of each named user, each named session, or all of them.
  const std::vector<AgentView> agents = agents_.agents();
  std::vector<Target> targets;
  std::set<std::string> chosen;
  auto add_session = [&](const AgentView& a) {
    if (!chosen.insert(a.session.id).second) {
      return;
    }
    targets.push_back({a.session.id, a.session.uid, a.session.user});
    targets.back().agent = a.agent_id;
  };
  for (const std::string& name : request->users) {
    const std::optional<ResolvedUser> user = co_await find_user(name, agents, users_);
    if (!user) {
      co_return std::unexpected(
          Error::application(codes::kNotFound, fmt::format("no such user \"{}\"", name)));
    }
    bool any = false;
    for (const AgentView& agent : agents) {
      if (agent.session.uid == user->uid) {
        add_session(agent), any = true;
      }
    }
    if (!any) {
      targets.push_back(
          {"", user->uid, user->name,
           Error::application(codes::kNoSession,
                              fmt::format("{} has no eligible session", user->name))});
    }
  }
  for (const std::string& id : request->sessions) {
    auto match = std::find_if(agents.begin(), agents.end(),
                              [&](const AgentView& a) { return a.session.id == id; });
    if (match != agents.end()) {
      add_session(*match);
    } else {
      targets.push_back(
          {id, 0, "",
           Error::application(codes::kNoSession, fmt::format("no eligible session \"{}\"", id))});
    }
  }
  if (request->all) {
    for (const AgentView& agent : agents) {
      add_session(agent);
    }
  }
  const bool none_reachable = std::all_of(
      targets.begin(), targets.end(), [](const Target& t) { return t.session.empty() || t.error; });
  if (targets.empty() || none_reachable) {
    std::string message = targets.empty() ? "no eligible session" : targets.front().error->message;
    for (std::size_t i = 1; i < targets.size(); ++i) {
      message += "; " + targets[i].error->message;
    }
    co_return std::unexpected(Error::application(codes::kNoSession, message));
  }

  const Json agent_params = agent_notify_params(*request, config_.notify.app_name);
  // Once per notification server, which is once per user: every agent of a user, of any
  // strategy, talks to the user's one session bus (/run/user/<uid>/bus) and the one server on it,
  // so a second delivery would only show the same bubble twice. Each targeted session reports
  // that one delivery.
  // Every user's agent is asked at once: a broadcast takes as long as the slowest agent.
  std::map<uid_t, const Target*> first_of_user;
  std::vector<ConcurrentTask> deliveries;
  for (Target& target : targets) {
    if (target.error) {
      continue;
    }
    if (auto first = first_of_user.find(target.uid); first != first_of_user.end()) {
      target.delivered_with = first->second;
      continue;
    }
    first_of_user.emplace(target.uid, &target);
    deliveries.push_back([this, &target, &agent_params] { return deliver(target, agent_params); });
  }
  co_await run_concurrently(std::move(deliveries));
  if (request->wait_action_seconds) {
    co_await wait_for_outcomes(targets, std::chrono::seconds(*request->wait_action_seconds));
  }
  for (Target& target : targets) {
    if (target.delivered_with != nullptr) {
      target.share(*target.delivered_with);
    }
  }
  Json results = Json::array();
  for (const Target& target : targets) {
    results.push_back(target.to_json(request->wait_action_seconds.has_value()));
  }
  co_return Json{{"results", results}};
}

asio::awaitable<void> ControlService::deliver(Target& target, const Json& agent_params) {
  if (!rate_limiter_.try_acquire(target.uid)) {
    target.error = Error::application(
        codes::kRateLimited,
        fmt::format("{} already had {} notifications in the last minute; retry in {} s",
                    target.user, config_.notify.per_user_per_minute,
                    std::chrono::ceil<std::chrono::seconds>(rate_limiter_.retry_after(target.uid))
                        .count()));
    co_return;
  }
  auto connection = co_await agents_.ready_connection(target.session, kAgentReadyWait);
  if (!connection) {
    target.error = Error::application(
        codes::kUnavailable, fmt::format("the agent for session {} is not ready", target.session));
    co_return;
  }
  auto shown = co_await connection->call("notify", agent_params, kAgentCallTimeout);
  if (!shown) {
    target.error = shown.error();
    co_return;
  }
  if (!shown->contains("notification_id") || !(*shown)["notification_id"].is_number_unsigned()) {
    target.error = Error::internal("the agent answered without a notification_id");
    co_return;
  }
  target.notification_id = (*shown)["notification_id"].get<uint32_t>();
  // Only now may that agent report what became of it, and only with the actions it was offered.
  std::vector<std::string> offered;
  for (const Json& action : agent_params.value("actions", Json::array())) {
    offered.push_back(action.value("id", ""));
  }
  outcomes_.expect(target.agent, *target.notification_id, offered);
}

asio::awaitable<void> ControlService::wait_for_outcomes(std::vector<Target>& targets,
                                                        std::chrono::milliseconds timeout) {
  // Wait for every delivered notification at once: a question to three sessions takes as long
  // as the slowest answer, not the sum.
  std::vector<ConcurrentTask> waits;
  for (Target& target : targets) {
    if (!target.notification_id || target.delivered_with != nullptr) {
      continue;
    }
    waits.push_back([this, &target, timeout]() -> asio::awaitable<void> {
      // Events are filed under the agent that reported them.
      target.outcome = co_await outcomes_.wait(target.agent, *target.notification_id, timeout);
    });
  }
  co_await run_concurrently(std::move(waits));
}

}  // namespace liaison::daemon
