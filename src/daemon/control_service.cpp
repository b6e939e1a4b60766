#include "daemon/control_service.h"

#include <pwd.h>

#include <charconv>
#include <map>
#include <optional>
#include <set>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "daemon/notify_request.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;
namespace codes = protocol::codes;

std::string iso8601(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(time));
}

struct ResolvedUser {
  uid_t uid;
  std::string name;
};

// A --user value: a login name, or a numeric uid that need not have a passwd entry.
std::optional<ResolvedUser> resolve_user(const std::string& name_or_uid) {
  uid_t uid = 0;
  const char* end = name_or_uid.data() + name_or_uid.size();
  auto [parsed_end, error] = std::from_chars(name_or_uid.data(), end, uid);
  const bool numeric = error == std::errc() && parsed_end == end;
  std::string buffer(16384, '\0');
  passwd entry{};
  passwd* found = nullptr;
  if (numeric) {
    getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    return ResolvedUser{uid, found ? found->pw_name : name_or_uid};
  }
  getpwnam_r(name_or_uid.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) return std::nullopt;
  return ResolvedUser{found->pw_uid, found->pw_name};
}

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

  Json to_json(bool waited) const {
    Json result = {{"session", session.empty() ? Json(nullptr) : Json(session)},
                   {"uid", uid},
                   {"user", user},
                   {"delivered", notification_id.has_value()}};
    if (notification_id) result["notification_id"] = *notification_id;
    if (error) result["error"] = error_json(*error);
    if (waited) {
      result["action"] = outcome && outcome->action ? Json(*outcome->action) : Json(nullptr);
      result["closed"] = outcome && outcome->closed ? Json(*outcome->closed) : Json(nullptr);
    }
    return result;
  }
};

asio::awaitable<Result<Json>> ControlService::handle(protocol::Request request) {
  if (request.method == "version") co_return version();
  if (request.method == "sessions.list") co_return list_sessions();
  if (request.method == "notify") co_return co_await notify(request.params);
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
                        {"agent",
                         {{"state", agent_state_name(agent.state)},
                          {"pid", agent.pid == 0 ? Json(nullptr) : Json(agent.pid)},
                          {"strategy", agent.strategy},
                          {"since", iso8601(agent.since)}}}});
  }
  return sessions;
}

asio::awaitable<Result<Json>> ControlService::notify(const Json& params) {
  auto request = parse_notify_request(params);
  if (!request) co_return std::unexpected(request.error());

  // Whom to reach: every session of each named user, each named session, or all of them.
  const std::vector<AgentView> agents = agents_.agents();
  std::vector<Target> targets;
  std::set<std::string> chosen;
  auto add_session = [&](const Session& s) {
    if (chosen.insert(s.id).second) targets.push_back({s.id, s.uid, s.user});
  };
  for (const std::string& name : request->users) {
    auto user = resolve_user(name);
    if (!user) co_return std::unexpected(Error::application(codes::kNotFound, fmt::format("no such user \"{}\"", name)));
    bool any = false;
    for (const AgentView& agent : agents) {
      if (agent.session.uid == user->uid) add_session(agent.session), any = true;
    }
    if (!any) {
      targets.push_back({"", user->uid, user->name,
                         Error::application(codes::kNoSession,
                                            fmt::format("{} has no eligible session", user->name))});
    }
  }
  for (const std::string& id : request->sessions) {
    auto match = std::find_if(agents.begin(), agents.end(), [&](const AgentView& a) { return a.session.id == id; });
    if (match != agents.end()) {
      add_session(match->session);
    } else {
      targets.push_back({id, 0, "", Error::application(codes::kNoSession, fmt::format("no eligible session \"{}\"", id))});
    }
  }
  if (request->all) {
    for (const AgentView& agent : agents) add_session(agent.session);
  }
  const bool none_reachable = std::all_of(targets.begin(), targets.end(),
                                          [](const Target& t) { return t.session.empty() || t.error; });
  if (targets.empty() || none_reachable) {
    std::string message = targets.empty() ? "no eligible session" : targets.front().error->message;
    for (std::size_t i = 1; i < targets.size(); ++i) message += "; " + targets[i].error->message;
    co_return std::unexpected(Error::application(codes::kNoSession, message));
  }

  const Json agent_params = agent_notify_params(*request, config_.notify.app_name);
  for (Target& target : targets) {
    if (!target.error) co_await deliver(target, agent_params);
  }
  if (request->wait_action_seconds) {
    co_await wait_for_outcomes(targets, std::chrono::seconds(*request->wait_action_seconds));
  }
  Json results = Json::array();
  for (const Target& target : targets) results.push_back(target.to_json(request->wait_action_seconds.has_value()));
  co_return Json{{"results", results}};
}

asio::awaitable<void> ControlService::deliver(Target& target, const Json& agent_params) {
  if (!rate_limiter_.try_acquire(target.uid)) {
    target.error = Error::application(
        codes::kRateLimited,
        fmt::format("{} already had {} notifications in the last minute; retry in {} s", target.user,
                    config_.notify.per_user_per_minute,
                    std::chrono::ceil<std::chrono::seconds>(rate_limiter_.retry_after(target.uid)).count()));
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
}

asio::awaitable<void> ControlService::wait_for_outcomes(std::vector<Target>& targets,
                                                        std::chrono::milliseconds timeout) {
  // Wait for every delivered notification at once: a question to three sessions takes as long
  // as the slowest answer, not the sum.
  auto executor = co_await asio::this_coro::executor;
  auto remaining = std::make_shared<int>(0);
  auto all_done = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  for (Target& target : targets) {
    if (!target.notification_id) continue;
    ++*remaining;
    asio::co_spawn(
        executor,
        [this, &target, timeout, remaining, all_done]() -> asio::awaitable<void> {
          target.outcome = co_await outcomes_.wait(target.session, *target.notification_id, timeout);
          if (--*remaining == 0) all_done->cancel();
        },
        asio::detached);
  }
  if (*remaining > 0) co_await all_done->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

}  // namespace liaison::daemon
