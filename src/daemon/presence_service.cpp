#include "daemon/presence_service.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "common/log.h"
#include "daemon/user_finder.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;
namespace codes = protocol::codes;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// A user or a session as given: a non-empty string, or a number.
std::optional<std::string> read_name(const Json& value) {
  if (value.is_string() && !value.get_ref<const std::string&>().empty()) {
    return value.get<std::string>();
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return std::to_string(value.get<int64_t>());
  }
  return std::nullopt;
}

// Plain text on one prompt: no line breaks, no terminal or bidi controls. (JSON strings arrive
// as valid UTF-8: the parser refuses anything else.)
bool is_plain_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
    // C1 controls U+0080-U+009F are C2 80-C2 9F in UTF-8.
    if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
      return false;
    }
  }
  return true;
}

// Keeps a session in the set of those with an open check for as long as it lives. It shares the
// set: a check's frame may be destroyed after the service (the io_context goes last).
class OpenCheck {
 public:
  OpenCheck(std::shared_ptr<std::set<std::string>> open, std::string session)
      : open_(std::move(open)), session_(std::move(session)) {}
  ~OpenCheck() { open_->erase(session_); }
  OpenCheck(const OpenCheck&) = delete;
  OpenCheck& operator=(const OpenCheck&) = delete;

 private:
  std::shared_ptr<std::set<std::string>> open_;
  std::string session_;
};

}  // namespace

std::string_view presence_result_name(PresenceResult result) {
  switch (result) {
    case PresenceResult::kConfirmed:
      return "confirmed";
    case PresenceResult::kDenied:
      return "denied";
    case PresenceResult::kTimeout:
      return "timeout";
    case PresenceResult::kNoAgent:
      return "no_agent";
    case PresenceResult::kUnavailable:
      return "unavailable";
    case PresenceResult::kBusy:
      return "busy";
  }
  return "unavailable";
}

Result<PresenceRequest> parse_presence_request(const Json& params) {
  if (!params.is_object()) {
    return std::unexpected(Error::invalid_params("params must be an object"));
  }
  PresenceRequest request;
  if (auto user = params.find("user"); user != params.end() && !user->is_null()) {
    std::optional<std::string> name = read_name(*user);
    if (!name) {
      return std::unexpected(Error::invalid_params("user must be a login name or a uid"));
    }
    request.user = std::move(*name);
  }
  if (auto session = params.find("session"); session != params.end() && !session->is_null()) {
    std::optional<std::string> id = read_name(*session);
    if (!id || id->size() > 64) {
      return std::unexpected(Error::invalid_params("session must be a logind session id"));
    }
    request.session = std::move(*id);
  }
  if (request.user.empty() && request.session.empty()) {
    return std::unexpected(Error::invalid_params("no one to ask: give user, session, or both"));
  }
  auto reason = params.find("reason");
  if (reason == params.end() || !reason->is_string() ||
      reason->get_ref<const std::string&>().empty()) {
    return std::unexpected(
        Error::invalid_params("reason must say, in a line, why the user is asked"));
  }
  request.reason = reason->get<std::string>();
  if (request.reason.size() > kMaxPresenceReasonBytes) {
    return std::unexpected(
        Error::invalid_params(fmt::format("reason is {} bytes, over the limit of {}",
                                          request.reason.size(), kMaxPresenceReasonBytes)));
  }
  if (!is_plain_text(request.reason)) {
    return std::unexpected(Error::invalid_params(
        "reason must be plain text on one line: no control characters, no line breaks"));
  }
  if (auto timeout = params.find("timeout"); timeout != params.end() && !timeout->is_null()) {
    if (!timeout->is_number_integer() || timeout->get<int64_t>() < 1 ||
        timeout->get<int64_t>() > kMaxPresenceTimeout.count()) {
      return std::unexpected(Error::invalid_params(
          fmt::format("timeout must be 1 to {} seconds", kMaxPresenceTimeout.count())));
    }
    request.timeout = std::chrono::seconds(timeout->get<int64_t>());
  }
  return request;
}

Result<Session> choose_presence_session(const std::vector<Session>& sessions,
                                        const std::string& user) {
  std::vector<const Session*> active;
  for (const Session& session : sessions) {
    if (session.active()) {
      active.push_back(&session);
    }
  }
  if (active.empty()) {
    return std::unexpected(Error::application(
        codes::kNoSession, fmt::format("{} has no active session liaison serves", user)));
  }
  std::vector<const Session*> seated;
  std::copy_if(active.begin(), active.end(), std::back_inserter(seated),
               [](const Session* s) { return !s->seat.empty(); });
  const auto& candidates = seated.empty() ? active : seated;
  if (candidates.size() == 1) {
    return *candidates.front();
  }
  std::vector<std::string> ids;
  ids.reserve(candidates.size());
  for (const Session* s : candidates) {
    ids.push_back(s->id);
  }
  return std::unexpected(
      Error::invalid_params(fmt::format("{} has {} active sessions ({}): name one with session",
                                        user, ids.size(), fmt::join(ids, ", "))));
}

asio::awaitable<Result<Json>> PresenceService::handle(protocol::Request request,
                                                      std::shared_ptr<HangUpNotice> caller) {
  auto parsed = parse_presence_request(request.params);
  if (!parsed) {
    co_return std::unexpected(parsed.error());
  }
  auto session = co_await find_session(*parsed);
  if (!session) {
    co_return std::unexpected(session.error());
  }
  PresenceOutcome outcome;
  if (!open_sessions_->insert(session->id).second) {
    outcome = {PresenceResult::kBusy,
               fmt::format("a presence check of session {} is open already", session->id)};
  } else {
    const OpenCheck open(open_sessions_, session->id);
    outcome = co_await ask(*session, *parsed, *caller);
  }
  const std::string_view result = presence_result_name(outcome.result);
  // The detail may quote a session's agent (macOS: its error message): bounded and escaped.
  log::info(
      fmt::format("presence check of session {} ({}): {}{}{}", session->id, session->user, result,
                  outcome.detail.empty() ? "" : ": ", log::untrusted(outcome.detail, 300)),
      {{"LIAISON_SESSION", session->id},
       {"LIAISON_EVENT", "presence-check"},
       {"LIAISON_PRESENCE", std::string(result)}});
  Json answer = {
      {"session", session->id}, {"uid", session->uid}, {"user", session->user}, {"result", result}};
  if (!outcome.detail.empty()) {
    answer["detail"] = outcome.detail;
  }
  co_return answer;
}

asio::awaitable<Result<Session>> PresenceService::find_session(const PresenceRequest& request) {
  std::vector<AgentView> agents = agents_.agents();
  if (request.user.empty()) {  // the session alone names whom to ask
    for (const AgentView& agent : agents) {
      if (agent.session.id == request.session) {
        if (agent.session.uid == 0) {
          co_return std::unexpected(Error::application(
              codes::kNoUser, "root has no presence to prove: name a user's session"));
        }
        co_return agent.session;
      }
    }
    co_return std::unexpected(Error::application(
        codes::kNoSession, fmt::format("no session {} that liaison serves", request.session)));
  }
  const std::optional<ResolvedUser> user = co_await find_user(request.user, agents, users_);
  if (!user) {
    co_return std::unexpected(
        Error::application(codes::kNotFound, fmt::format("no such user \"{}\"", request.user)));
  }
  if (user->uid == 0) {
    co_return std::unexpected(Error::application(
        codes::kNoUser, "root has no session to prove presence in: name a user"));
  }
  // The supervisor may have changed while the user database answered.
  agents = agents_.agents();
  std::vector<Session> sessions;
  for (const AgentView& agent : agents) {
    const bool seen = std::any_of(sessions.begin(), sessions.end(),
                                  [&](const Session& s) { return s.id == agent.session.id; });
    if (seen) {
      continue;
    }
    if (!request.session.empty() && agent.session.id == request.session) {
      if (agent.session.uid != user->uid) {
        co_return std::unexpected(Error::application(
            codes::kNoSession, fmt::format("session {} is not {}'s", request.session, user->name)));
      }
      co_return agent.session;
    }
    if (agent.session.uid == user->uid) {
      sessions.push_back(agent.session);
    }
  }
  if (!request.session.empty()) {
    co_return std::unexpected(Error::application(
        codes::kNoSession, fmt::format("no session {} that liaison serves", request.session)));
  }
  co_return choose_presence_session(sessions, user->name);
}

asio::awaitable<PresenceOutcome> PresenceService::ask(const Session& session,
                                                      const PresenceRequest& request,
                                                      HangUpNotice& caller) {
  if (verifier_ == nullptr) {
    co_return PresenceOutcome{PresenceResult::kUnavailable,
                              "presence checks are not supported on this platform"};
  }
  asio::steady_timer deadline(io_, request.timeout);
  std::optional<PresenceOutcome> answer;
  auto started = verifier_->start(session, request.reason, [&answer, &deadline](PresenceOutcome o) {
    answer = std::move(o);
    deadline.cancel();
  });
  if (!started) {
    co_return started.error();
  }
  std::unique_ptr<PendingPresenceCheck> pending = std::move(*started);
  const HangUpNotice::Subscription hang_up = caller.subscribe([&deadline] { deadline.cancel(); });
  co_await deadline.async_wait(kNoThrow);
  if (answer) {
    co_return *answer;
  }
  pending.reset();  // withdraws the prompt; `done` is not called after this
  if (caller.hung_up()) {
    co_return PresenceOutcome{PresenceResult::kTimeout,
                              "the caller went away; the prompt was withdrawn"};
  }
  co_return PresenceOutcome{
      PresenceResult::kTimeout,
      fmt::format("no answer within {} s; the prompt was withdrawn", request.timeout.count())};
}

}  // namespace liaison::daemon
