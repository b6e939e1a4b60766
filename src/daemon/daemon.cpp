#include "daemon/daemon.h"

#include <fmt/format.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace liaison::daemon {
namespace {

using protocol::Connection;
using protocol::Error;
using protocol::Json;
using protocol::Result;
using Acceptor = asio::local::stream_protocol::acceptor;
using Socket = asio::local::stream_protocol::socket;

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

std::string errno_text(int error) { return std::strerror(error); }

// Binds a listening socket at `path`, replacing a stale one, with the given mode and group. The
// mode is set after bind: until then the socket has the daemon's umask (no write bit for others),
// so nobody can connect through a window of looser permissions.
std::expected<void, std::string> listen_at(Acceptor& acceptor, const std::string& path, mode_t mode,
                                           gid_t group) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return std::unexpected(fmt::format("cannot remove stale {}: {}", path, errno_text(errno)));
  }
  std::error_code error;
  acceptor.open(asio::local::stream_protocol(), error);
  if (!error) {
    acceptor.bind(asio::local::stream_protocol::endpoint(path), error);
  }
  if (!error) {
    acceptor.listen(asio::socket_base::max_listen_connections, error);
  }
  if (error) {
    return std::unexpected(fmt::format("cannot listen on {}: {}", path, error.message()));
  }
  if (::chown(path.c_str(), 0, group) != 0 || ::chmod(path.c_str(), mode) != 0) {
    return std::unexpected(
        fmt::format("cannot set permissions of {}: {}", path, errno_text(errno)));
  }
  return {};
}

std::expected<void, std::string> make_directory(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) {
    return {};
  }
  return std::unexpected(fmt::format("cannot create {}: {}", path, errno_text(errno)));
}

// What an agent.hello claims to be, for the log: a session, or (no session) its user's agent.
// The session string is the peer's: bounded and escaped (log::untrusted).
std::string hello_target(const Json& params) {
  auto session = params.find("session");
  if (session == params.end() || session->is_null()) {
    return "its user (no session named)";
  }
  if (!session->is_string()) {
    return fmt::format("a session that is a JSON {}", session->type_name());
  }
  return fmt::format("session \"{}\"", log::untrusted(session->get_ref<const std::string&>()));
}

std::optional<gid_t> liaison_group() {
  std::string buffer(16384, '\0');
  group entry{};
  group* found = nullptr;
  getgrnam_r("liaison", &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

// What "auto" means for keys: the platform's answer, else the Linux one.
AutoKeyPlacement auto_keys_of(const DaemonParts& parts, const Config& config) {
  return parts.auto_keys.value_or(AutoKeyPlacement::tpm_per_config(config));
}

}  // namespace

Daemon::Daemon(asio::io_context& io, Config config, DaemonPaths paths, DaemonParts parts)
    : io_(io),
      config_(std::move(config)),
      paths_(std::move(paths)),
      parts_(std::move(parts)),
      supervisor_(io, parts_.launcher,
                  AdoptionOptions{.processes = parts_.processes,
                                  .records_directory = paths_.runtime_dir + "/agents"}),
      outcomes_(io.get_executor()),
      keys_(supervisor_, config_, paths_.state_dir, parts_.key_providers,
            auto_keys_of(parts_, config_), parts_.users, parts_.attestation),
      launch_agents_(supervisor_, parts_.launch_agent, config_.agent.launch),
      attestation_(parts_.attestation),
      presence_key_verifier_(parts_.presence_by_session_key ? std::make_unique<PresenceKeyVerifier>(
                                                                  io, supervisor_, paths_.state_dir)
                                                            : nullptr),
      presence_(io, supervisor_,
                presence_key_verifier_ ? presence_key_verifier_.get() : parts_.presence,
                parts_.users),
      doctor_({.agents = supervisor_,
               .sessions = parts_.sessions,
               .config = config_,
               .daemon_keys = parts_.key_providers,
               .auto_keys = auto_keys_of(parts_, config_),
               .user_context = parts_.user_context,
               .control_socket = paths_.control_socket(),
               .attestation = parts_.attestation}),
      control_(supervisor_, outcomes_, keys_, doctor_, config_, parts_.users),
      agent_acceptor_(io),
      control_acceptor_(io) {}

Daemon::~Daemon() {
  // The session source owns its fd; the descriptor only borrowed it.
  if (session_changes_) {
    session_changes_->release();
  }
}

std::expected<void, std::string> Daemon::start() {
  if (auto bound = bind_sockets(); !bound) {
    return bound;
  }
  session_changes_ =
      std::make_unique<asio::posix::stream_descriptor>(io_, parts_.sessions.change_fd());
  refresh_sessions();
  asio::co_spawn(io_, watch_sessions(), asio::detached);
  asio::co_spawn(io_, accept_loop(agent_acceptor_, false), asio::detached);
  asio::co_spawn(io_, accept_loop(control_acceptor_, true), asio::detached);
  parts_.notify_service_manager("READY=1");
  log::info(fmt::format("liaison daemon {} ready on {} (launch strategy {})", LIAISON_VERSION,
                        paths_.runtime_dir, config_.agent.launch),
            {{"LIAISON_EVENT", "daemon-ready"}});
  return {};
}

std::expected<void, std::string> Daemon::bind_sockets() {
  if (auto made = make_directory(paths_.runtime_dir, 0755); !made) {
    return made;
  }
  // Any user may reach the agent socket: who they are is decided per connection, by the kernel.
  if (auto bound = listen_at(agent_acceptor_, paths_.agent_socket(), 0666, 0); !bound) {
    return bound;
  }
  const auto group = liaison_group();
  if (!group) {
    log::warning("group \"liaison\" does not exist: control.sock is root-only (mode 0600)");
  }
  return listen_at(control_acceptor_, paths_.control_socket(), group ? 0660 : 0600,
                   group.value_or(0));
}

void Daemon::refresh_sessions() {
  auto sessions = parts_.sessions.list_sessions();
  if (!sessions) {
    log::error(fmt::format("cannot list sessions: {}", sessions.error()));
    return;
  }
  const auto rules = EligibilityRules::from(config_.sessions);
  std::vector<Session> eligible;
  for (const Session& session : *sessions) {
    const std::string reason = ineligibility_reason(session, rules);
    if (reason.empty()) {
      eligible.push_back(session);
    } else if (explained_ineligible_.insert(session.id).second) {
      log::debug(
          fmt::format("session {} of {} gets no agent: {}", session.id, session.user, reason),
          {{"LIAISON_SESSION", session.id}, {"LIAISON_EVENT", "session-skipped"}});
    }
  }
  if (!stopping_) {
    supervisor_.reconcile(eligible);
  }
}

asio::awaitable<void> Daemon::watch_sessions() {
  while (!stopping_) {
    auto [error] =
        co_await session_changes_->async_wait(asio::posix::stream_descriptor::wait_read, kNoThrow);
    if (error || stopping_) {
      break;
    }
    parts_.sessions.acknowledge_change();
    refresh_sessions();
  }
}

asio::awaitable<void> Daemon::accept_loop(Acceptor& acceptor, bool is_control) {
  while (!stopping_) {
    auto [error, socket] = co_await acceptor.async_accept(kNoThrow);
    if (error == asio::error::operation_aborted || stopping_) {
      break;
    }
    if (error) {
      // EMFILE and friends: say so, and keep serving the connections we already have.
      log::warning(fmt::format("accept failed: {}", error.message()));
      continue;
    }
    if (is_control) {
      serve_control(std::move(socket));
    } else {
      serve_agent(std::move(socket));
    }
  }
}

void Daemon::serve_control(Socket socket) {
  auto peer = parts_.peers.credentials_of(socket.native_handle());
  auto connection = Connection::create(std::move(socket));
  if (!peer || !parts_.peers.may_control(*peer)) {
    connection->fail_and_close(
        Error::application(protocol::codes::kNotPermitted,
                           "only root and members of group liaison may use control.sock"));
    return;
  }
  if (control_connections_ >= kMaxControlConnections) {
    connection->fail_and_close(Error::application(protocol::codes::kRateLimited,
                                                  "too many control connections; retry shortly"));
    return;
  }
  ++control_connections_;
  // A check waiting on a human withdraws its prompt when the caller hangs up.
  auto caller = HangUpNotice::create();
  connection->set_close_handler([this, caller] {
    --control_connections_;
    caller->hang_up();
  });
  connection->start([this, caller](protocol::Request request) {
    if (PresenceService::handles(request.method)) {
      return presence_.handle(std::move(request), caller);
    }
    if (LaunchAgentService::handles(request.method)) {
      return launch_agents_.handle(std::move(request));
    }
    if (AttestationService::handles(request.method)) {
      return attestation_.handle(std::move(request));
    }
    return control_.handle(std::move(request));
  });
}

void Daemon::serve_agent(Socket socket) {
  auto peer = parts_.peers.credentials_of(socket.native_handle());
  auto connection = Connection::create(std::move(socket));
  if (!peer) {
    connection->fail_and_close(Error::application(protocol::codes::kNotPermitted, peer.error()));
    return;
  }
  auto taken = agent_quota_.try_take(peer->uid);
  if (!taken) {
    connection->fail_and_close(Error::application(protocol::codes::kRateLimited, taken.error()));
    return;
  }
  // The connection's places in the quota: given back when it closes, or when it is destroyed
  // without closing (the handlers that own the slot are destroyed with it).
  auto slot = std::make_shared<AgentConnectionQuota::Slot>(std::move(*taken));
  connection->set_untrusted(true);  // until agent.hello: one malformed line and it is closed
  // Until agent.hello succeeds the connection is nobody's; it has kHelloTimeout to say it.
  auto session = std::make_shared<std::string>();
  auto hello_deadline = std::make_shared<asio::steady_timer>(io_, kHelloTimeout);
  hello_deadline->async_wait([weak = std::weak_ptr(connection), session](std::error_code error) {
    auto connection = weak.lock();
    if (error || !connection || !session->empty()) {
      return;
    }
    connection->fail_and_close(
        Error::application(protocol::codes::kTimeout, "no agent.hello in time"));
  });
  std::weak_ptr<Connection> weak = connection;
  connection->set_close_handler([this, weak, hello_deadline, slot] {
    slot->release();
    hello_deadline->cancel();
    if (auto closed = weak.lock()) {
      supervisor_.agent_disconnected(closed);
    }
  });
  connection->start(
      [this, weak, peer = *peer, session, hello_deadline, slot](protocol::Request request) {
        return handle_agent_message(weak, peer, session, hello_deadline, slot, std::move(request));
      });
}

asio::awaitable<Result<Json>> Daemon::handle_agent_message(
    std::weak_ptr<Connection> weak, const PeerCredentials& peer,
    std::shared_ptr<std::string> session, std::shared_ptr<asio::steady_timer> hello_deadline,
    std::shared_ptr<AgentConnectionQuota::Slot> slot, protocol::Request request) {
  auto connection = weak.lock();
  if (!connection) {
    co_return std::unexpected(Error::internal("connection gone"));
  }
  if (session->empty()) {
    if (request.method != "agent.hello") {
      connection->close_after_reply();
      co_return std::unexpected(
          Error::application(protocol::codes::kNotPermitted, "the first call must be agent.hello"));
    }
    auto accepted = supervisor_.accept_hello(connection, peer, request.params);
    if (!accepted) {
      log_refused_hello(peer, request.params, accepted.error().message);
      connection->close_after_reply();
      co_return std::unexpected(accepted.error());
    }
    *session = supervisor_.agent_id_of(connection);  // what its events are filed under
    connection->set_untrusted(false);
    slot->mark_proven();
    hello_deadline->cancel();  // proven: no wakeup left for it
    // Agents log at the daemon's level ([log] level or --log-level), whoever started them.
    (*accepted)["log_level"] = log::level_name(log::current_level());
    co_return accepted;
  }
  // Events: JSON-RPC notifications, so nothing goes back. One the outcomes refuse (a notification
  // this agent was not asked to show, an action it was not offered) is dropped, noted at debug.
  const Json& params = request.params;
  const uint32_t id = params.value("notification_id", 0u);
  bool counted = true;
  if (request.method == "notification.action") {
    counted = outcomes_.record_action(*session, id, params.value("action", ""));
  } else if (request.method == "notification.closed") {
    counted = outcomes_.record_closed(*session, id, params.value("reason", "undefined"));
  } else {
    co_return std::unexpected(Error::method_not_found(request.method));
  }
  if (!counted) {
    log::debug(fmt::format("dropped {} for notification {} from agent {}: not one it was asked to "
                           "show, or an action it was not offered",
                           request.method, id, *session),
               {{"LIAISON_UID", std::to_string(peer.uid)}});
  }
  co_return Json();
}

// Logged once per refusal (the connection closes right after, so a retry is a new event), but
// at most kRefusalsLoggedPerMinute a minute per uid and kRefusalsLoggedPerMinuteInAll in all; the
// reason may quote the peer's text, so it is bounded and escaped like the session.
void Daemon::log_refused_hello(const PeerCredentials& peer, const Json& params,
                               std::string_view reason) {
  if (!refusal_log_limiter_.try_acquire(peer.uid)) {
    ++refusals_not_logged_;
    return;
  }
  std::string not_logged;
  if (refusals_not_logged_ > 0) {
    not_logged = fmt::format(" ({} more refusals, of any uid, not logged before this one)",
                             std::exchange(refusals_not_logged_, 0));
  }
  log::warning(fmt::format("refused agent.hello from uid {} pid {} for {}: {}{}", peer.uid,
                           peer.pid, hello_target(params), log::untrusted(reason, 300), not_logged),
               {{"LIAISON_UID", std::to_string(peer.uid)},
                {"LIAISON_AGENT_PID", std::to_string(peer.pid)},
                {"LIAISON_EVENT", "hello-refused"}});
}

void Daemon::stop(std::function<void()> done) {
  if (stopping_) {
    return;
  }
  log::info("stopping: asking every agent to leave", {{"LIAISON_EVENT", "daemon-stopping"}});
  stop_listening();
  supervisor_.stop_all(std::move(done));
}

void Daemon::hand_over(const std::function<void()>& done) {
  if (stopping_) {
    return;
  }
  log::info("restarting: the agents stay for the next daemon",
            {{"LIAISON_EVENT", "daemon-restarting"}});
  stop_listening();
  supervisor_.hand_over();
  done();
}

void Daemon::stop_listening() {
  stopping_ = true;
  parts_.notify_service_manager("STOPPING=1");
  std::error_code ignored;
  agent_acceptor_.close(ignored);
  control_acceptor_.close(ignored);
  if (session_changes_) {
    session_changes_->cancel(ignored);
  }
  ::unlink(paths_.control_socket().c_str());
  ::unlink(paths_.agent_socket().c_str());
}

}  // namespace liaison::daemon
