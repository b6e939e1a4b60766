#include "agent/agent.h"

#include <fmt/format.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "common/log.h"
#include "keys/base64.h"
#include "keys/provider_check.h"

namespace liaison::agent {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kHelloTimeout{5000};

Urgency parse_urgency(const std::string& name) {
  if (name == "low") {
    return Urgency::kLow;
  }
  if (name == "critical") {
    return Urgency::kCritical;
  }
  return Urgency::kNormal;
}

Notification notification_from(const Json& params) {
  Notification notification;
  notification.app_name = params.value("app_name", notification.app_name);
  notification.title = params.value("title", "");
  notification.body = params.value("body", "");
  notification.icon = params.value("icon", "");
  notification.action_url = params.value("action_url", "");
  notification.urgency = parse_urgency(params.value("urgency", "normal"));
  notification.dedup_id = params.value("id", "");
  if (auto actions = params.find("actions"); actions != params.end() && actions->is_array()) {
    for (const Json& action : *actions) {
      notification.actions.emplace_back(action.value("id", ""), action.value("label", ""));
    }
  }
  return notification;
}

}  // namespace

Agent::Agent(asio::io_context& io, AgentOptions options, NotifierFactory make_notifier,
             std::unique_ptr<SessionWatch> session_watch)
    : io_(io),
      options_(std::move(options)),
      make_notifier_(std::move(make_notifier)),
      session_watch_(std::move(session_watch)) {}

void Agent::start(std::function<void(int)> on_exit) {
  on_exit_ = std::move(on_exit);
  asio::co_spawn(io_, run(), asio::detached);
  if (session_watch_) {
    asio::co_spawn(io_, watch_session(), asio::detached);
  }
}

asio::awaitable<void> Agent::watch_session() {
  // Borrowed fd: the watch owns it, so release it before the descriptor goes away.
  asio::posix::stream_descriptor changes(io_, session_watch_->change_fd());
  while (!leaving_) {
    if (session_watch_->session_ended()) {
      log::info("this agent's session ended: leaving",
                {{"LIAISON_SESSION", options_.session_id}, {"LIAISON_EVENT", "session-ended"}});
      leave(0);
      break;
    }
    auto [error] = co_await changes.async_wait(asio::posix::stream_descriptor::wait_read, kNoThrow);
    if (error) {
      break;
    }
    session_watch_->acknowledge_change();
  }
  changes.release();
}

void Agent::leave(int exit_code) {
  if (leaving_) {
    return;
  }
  leaving_ = true;
  if (connection_) {
    connection_->close();
  }
  if (on_exit_) {
    on_exit_(exit_code);
  }
}

asio::awaitable<void> Agent::run() {
  asio::steady_timer timer(io_);
  auto retry = options_.first_retry;
  auto away_since = std::chrono::steady_clock::now();
  while (!leaving_) {
    if (co_await connect_and_hello()) {
      retry = options_.first_retry;
      // Serve until the daemon goes away: the close handler wakes this timer.
      timer.expires_at(asio::steady_timer::time_point::max());
      connection_->set_close_handler([&timer] { timer.cancel(); });
      co_await timer.async_wait(kNoThrow);
      connection_.reset();
      if (leaving_) {
        break;
      }
      log::info("lost the daemon; reconnecting", {{"LIAISON_SESSION", options_.session_id}});
      away_since = std::chrono::steady_clock::now();
    }
    if (leaving_) {
      break;
    }
    if (std::chrono::steady_clock::now() - away_since >= options_.daemon_grace) {
      log::warning(
          fmt::format(
              "the daemon stayed away for {} s: leaving",
              std::chrono::duration_cast<std::chrono::seconds>(options_.daemon_grace).count()),
          {{"LIAISON_SESSION", options_.session_id}, {"LIAISON_EVENT", "agent-grace-expired"}});
      leave(0);
      break;
    }
    timer.expires_after(retry);
    co_await timer.async_wait(kNoThrow);
    retry = std::min(retry * 2, options_.max_retry);
  }
}

asio::awaitable<bool> Agent::connect_and_hello() {
  asio::local::stream_protocol::socket socket(io_);
  auto [error] = co_await socket.async_connect(
      asio::local::stream_protocol::endpoint(options_.socket_path), kNoThrow);
  if (error) {
    co_return false;
  }
  auto connection = protocol::Connection::create(std::move(socket));
  connection->start([this](protocol::Request request) { return handle(std::move(request)); });
  // A user-level agent (run by the user's service manager: asuser, launch-agent) names no
  // session and has no token: the daemon knows it by its unit (docs/protocol.md).
  Json hello = {{"version", LIAISON_VERSION}};
  if (!options_.session_id.empty()) {
    hello["session"] = options_.session_id;
    hello["token"] = options_.token;
  }
  auto accepted = co_await connection->call("agent.hello", hello, kHelloTimeout);
  if (!accepted) {
    if (accepted.error().data_code == protocol::codes::kNotPermitted) {
      // The daemon does not want this agent (its session is gone, or another agent holds it).
      log::warning(fmt::format("the daemon refused this agent: {}", accepted.error().message),
                   {{"LIAISON_SESSION", options_.session_id}, {"LIAISON_EVENT", "hello-refused"}});
      // A user-level agent leaves cleanly, so its unit's Restart=on-failure does not bring back
      // an agent the daemon does not want (another strategy is configured, or no session).
      leave(options_.session_id.empty() ? 0 : 1);
    }
    connection->close();
    co_return false;
  }
  options_.token = accepted->value("next_token", "");
  if (log::Level level; log::parse_level(accepted->value("log_level", ""), level)) {
    log::set_level(level);
  }
  connection_ = connection;
  log::info("connected to the daemon",
            {{"LIAISON_SESSION", options_.session_id}, {"LIAISON_EVENT", "agent-ready"}});
  // Connected to the session bus now, not at the first notification: a broadcast to a terminal
  // server's agents would otherwise open hundreds of bus connections at once (make bench-storm's
  // cold first round). Failing here is no error: the bus may come up later, and show() retries.
  if (auto ready = ensure_notifier(); !ready) {
    log::debug(fmt::format("no notification server yet: {}", ready.error()),
               {{"LIAISON_SESSION", options_.session_id}});
  }
  co_return true;
}

asio::awaitable<Result<Json>> Agent::handle(protocol::Request request) {
  if (request.method == "notify") {
    co_return show(request.params);
  }
  if (request.method.starts_with("key.")) {
    if (!keys_) {
      co_return std::unexpected(
          Error::application(protocol::codes::kUnavailable, "this agent keeps no keys"));
    }
    // Key operations block this loop for their duration (a TPM signature: about a millisecond
    // on a simulator, tens on hardware); the agent has nothing more urgent to do meanwhile.
    co_return keys_->handle(request.method, std::move(request.params));
  }
  if (request.method.starts_with("presence.")) {
    co_return co_await handle_presence(std::move(request));
  }
  // Read-only and quick (a few session-bus round trips, a TPM query): fine on this loop.
  if (request.method == "doctor") {
    co_return examine(request.params);
  }
  if (request.method == "shutdown") {
    log::info("the daemon asked this agent to shut down",
              {{"LIAISON_SESSION", options_.session_id}});
    // Leave after this turn of the loop, so a reply (if one was asked for) still goes out.
    asio::post(io_, [this] { leave(0); });
    co_return Json::object();
  }
  co_return std::unexpected(Error::method_not_found(request.method));
}

// presence.enroll -> {public_key}, presence.sign {challenge, reason} -> {signature},
// presence.cancel: the daemon's side is daemon/presence_key_verifier.h.
asio::awaitable<Result<Json>> Agent::handle_presence(protocol::Request request) {
  if (!presence_key_) {
    co_return std::unexpected(Error::application(
        protocol::codes::kUnavailable, "this agent has no presence key (macOS only, for now)"));
  }
  if (request.method == "presence.enroll") {
    auto spki = presence_key_->public_key();
    if (!spki) {
      co_return std::unexpected(spki.error());
    }
    co_return Json{{"public_key", keys::base64_encode(*spki)}};
  }
  if (request.method == "presence.sign") {
    co_return co_await sign_presence(request.params);
  }
  if (request.method == "presence.cancel") {
    presence_key_->cancel();
    co_return Json::object();
  }
  co_return std::unexpected(Error::method_not_found(request.method));
}

// The signing waits on the user (seconds), elsewhere than this loop: the key answers from any
// thread, and the answer is posted back here.
asio::awaitable<Result<Json>> Agent::sign_presence(const Json& params) {
  constexpr std::size_t kMaxChallengeBytes = 256;
  constexpr std::size_t kMaxReasonBytes = 256;
  const std::string challenge_text = params.value("challenge", "");
  const std::string reason = params.value("reason", "");
  auto challenge = keys::base64_decode(challenge_text);
  if (!challenge || challenge->empty() || challenge->size() > kMaxChallengeBytes ||
      reason.size() > kMaxReasonBytes) {
    co_return std::unexpected(
        Error::invalid_params("challenge: base64 of 1-256 bytes; reason: at most 256 bytes"));
  }
  struct Answer {
    explicit Answer(asio::io_context& io) : arrived(io, asio::steady_timer::time_point::max()) {}
    asio::steady_timer arrived;
    std::optional<Result<std::vector<uint8_t>>> result;
  };
  auto answer = std::make_shared<Answer>(io_);
  presence_key_->sign(std::move(*challenge), reason,
                      [answer, loop = io_.get_executor()](Result<std::vector<uint8_t>> result) {
                        asio::post(loop, [answer, result = std::move(result)]() mutable {
                          answer->result = std::move(result);
                          answer->arrived.cancel();
                        });
                      });
  co_await answer->arrived.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  const std::optional<Result<std::vector<uint8_t>>> result = std::move(answer->result);
  if (!result.has_value()) {
    co_return std::unexpected(Error::application(protocol::codes::kTimeout,
                                                 "the agent stopped before the user answered"));
  }
  const Result<std::vector<uint8_t>>& signature = *result;
  if (!signature) {
    co_return std::unexpected(signature.error());
  }
  // The key that signed, so the daemon tells a replaced key from a forged signature.
  auto spki = presence_key_->public_key();
  if (!spki) {
    co_return std::unexpected(spki.error());
  }
  co_return Json{{"signature", keys::base64_encode(*signature)},
                 {"public_key", keys::base64_encode(*spki)}};
}

std::expected<void, std::string> Agent::ensure_notifier() {
  if (notifier_) {
    return {};
  }
  NotifierEvents events{
      .on_action =
          [this](uint32_t id, const std::string& action) {
            report("notification.action", {{"notification_id", id}, {"action", action}});
          },
      .on_closed =
          [this](uint32_t id, CloseReason reason) {
            report("notification.closed",
                   {{"notification_id", id}, {"reason", close_reason_name(reason)}});
          }};
  auto made = make_notifier_(std::move(events));
  if (!made) {
    return std::unexpected(made.error());
  }
  notifier_ = std::move(*made);
  return {};
}

Result<Json> Agent::show(const Json& params) {
  if (auto ready = ensure_notifier(); !ready) {
    return std::unexpected(Error::application(protocol::codes::kUnavailable, ready.error()));
  }
  auto shown = notifier_->show(notification_from(params));
  if (!shown) {
    notifier_.reset();  // the bus or the server may be back next time
    return std::unexpected(Error::application(protocol::codes::kUnavailable, shown.error()));
  }
  return Json{{"notification_id", *shown}};
}

// {"key_providers": ["tpm"], "tpm_tcti": "..."} -> {"findings": [...]}: the session as this
// agent sees it, and each key provider the daemon routes to this context.
Json Agent::examine(const Json& params) {
  std::vector<protocol::Finding> findings;
  if (probe_) {
    findings = probe_->examine();
  }
  const std::string tcti = params.value("tpm_tcti", "");
  if (auto names = params.find("key_providers"); names != params.end() && names->is_array()) {
    for (const Json& name : *names) {
      if (!name.is_string()) {
        continue;
      }
      if (keys_) {
        findings.push_back(keys_->check_provider(name.get<std::string>(), tcti));
      } else {
        findings.push_back(protocol::Finding::fail(
            keys::provider_check_name(name.get<std::string>()),
            "this agent keeps no keys: it found no key directory ($XDG_DATA_HOME or $HOME)",
            "check the user's home directory in /etc/passwd"));
      }
    }
  }
  return {{"findings", protocol::to_json(findings)}};
}

void Agent::report(std::string method, Json params) {
  if (connection_ && connection_->is_open()) {
    connection_->notify(std::move(method), std::move(params));
  } else {
    log::debug(fmt::format("{} while the daemon is away: dropped", method));
  }
}

}  // namespace liaison::agent
