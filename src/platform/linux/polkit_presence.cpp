#include "platform/linux/polkit_presence.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/log.h"
#include "protocol/json_rpc.h"

namespace liaison::platform {
namespace {

using daemon::PresenceOutcome;
using daemon::PresenceResult;

constexpr const char* kPolkitService = "org.freedesktop.PolicyKit1";
constexpr const char* kAuthorityPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr const char* kAuthorityInterface = "org.freedesktop.PolicyKit1.Authority";
constexpr uint32_t kAllowUserInteraction = 1;
// The first call needs no human; the second waits for one. presence.check withdraws a check at
// its own timeout (at most 600 s): sd-bus's must never come first.
constexpr std::chrono::microseconds kPreflightTimeout = std::chrono::seconds(15);
constexpr std::chrono::microseconds kInteractiveTimeout = std::chrono::seconds(900);
constexpr std::size_t kMaxPolkitMessageBytes = 300;

// The subject polkit is asked about: a process of the session, and the session's user.
struct Subject {
  pid_t pid = 0;
  uint64_t start_time = 0;
  uid_t uid = 0;
};

std::string error_text(int negative_errno) { return std::strerror(-negative_errno); }

// Reads CheckAuthorization's (bba{ss}): whether authorized, whether a challenge, and whether
// the details say the user dismissed the prompt.
struct Reply {
  bool authorized = false;
  bool challenge = false;
  bool dismissed = false;
};
std::expected<Reply, std::string> read_reply(sd_bus_message* message) {
  int authorized = 0;
  int challenge = 0;
  if (sd_bus_message_enter_container(message, 'r', "bba{ss}") < 0 ||
      sd_bus_message_read(message, "bb", &authorized, &challenge) < 0 ||
      sd_bus_message_enter_container(message, 'a', "{ss}") < 0) {
    return std::unexpected("polkit's reply is not (bba{ss})");
  }
  Reply reply{authorized != 0, challenge != 0, false};
  const char* key = nullptr;
  const char* value = nullptr;
  while (sd_bus_message_read(message, "{ss}", &key, &value) > 0) {
    if (std::strcmp(key, "polkit.dismissed") == 0) {
      reply.dismissed = true;
    }
  }
  return reply;
}

}  // namespace

PresenceOutcome presence_outcome_of(bool is_authorized, bool is_challenge, bool dismissed,
                                    const std::string& session) {
  if (is_authorized) {
    return {PresenceResult::kConfirmed, ""};
  }
  if (is_challenge) {
    // With AllowUserInteraction polkit answers "challenge" only when it had nobody to ask.
    return {PresenceResult::kNoAgent,
            fmt::format("no polkit authentication agent is registered for session {} (the "
                        "desktop's: GNOME Shell, polkit-kde-agent, lxpolkit, mate-polkit)",
                        session)};
  }
  return {PresenceResult::kDenied,
          dismissed ? "the user dismissed the prompt" : "authentication failed"};
}

PresenceOutcome presence_outcome_of_error(const std::string& name, const std::string& message) {
  const std::string said = protocol::bounded_for_error(message, kMaxPolkitMessageBytes);
  if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
      name.starts_with("org.freedesktop.DBus.Error.Spawn")) {
    return {PresenceResult::kUnavailable,
            fmt::format("polkitd is not on the system bus (install polkitd): {}", said)};
  }
  if (name == "org.freedesktop.PolicyKit1.Error.Failed" &&
      message.find("not registered") != std::string::npos) {
    return {PresenceResult::kUnavailable,
            fmt::format("polkit does not know the action {}: its policy file is not installed "
                        "(/usr/share/polkit-1/actions/{}.policy)",
                        kPresenceAction, kPresenceAction)};
  }
  if (name == "org.freedesktop.DBus.Error.NoReply" ||
      name == "org.freedesktop.DBus.Error.Timeout" ||
      name == "org.freedesktop.PolicyKit1.Error.Cancelled") {
    return {PresenceResult::kTimeout, fmt::format("polkit gave no answer: {}", said)};
  }
  return {PresenceResult::kUnavailable, fmt::format("polkit: {}: {}", name, said)};
}

// One check: the preflight call, then the interactive one. Lives in the caller's coroutine; it
// holds its own reference to the bus, so it may outlive the PolkitPresence that made it.
class PolkitPresence::Check final : public daemon::PendingPresenceCheck {
 public:
  Check(sd_bus* bus, std::weak_ptr<SdBusAsio> driver, Subject subject, daemon::Session session,
        std::string reason, std::string cancellation_id, UniqueFd leader, Done done)
      : bus_(add_bus_reference(bus)),
        driver_(std::move(driver)),
        subject_(subject),
        session_(std::move(session)),
        reason_(std::move(reason)),
        cancellation_id_(std::move(cancellation_id)),
        leader_(std::move(leader)),
        done_(std::move(done)) {}

  ~Check() override {
    call_.reset();  // no callback after this
    if (interactive_ && !finished_ && sd_bus_is_open(bus_.get()) > 0) {
      // Withdraws the prompt; no reply is wanted.
      sd_bus_call_method_async(bus_.get(), nullptr, kPolkitService, kAuthorityPath,
                               kAuthorityInterface, "CancelCheckAuthorization", nullptr, nullptr,
                               "s", cancellation_id_.c_str());
      kick();
    }
  }
  Check(const Check&) = delete;
  Check& operator=(const Check&) = delete;

  std::expected<void, std::string> send(bool interactive) {
    interactive_ = interactive;
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(bus_.get(), &raw, kPolkitService, kAuthorityPath,
                                           kAuthorityInterface, "CheckAuthorization");
    SdBusMessagePtr message(raw);
    if (r >= 0) {
      r = append_arguments(message.get(), interactive);
    }
    sd_bus_slot* slot = nullptr;
    if (r >= 0) {
      const auto timeout = interactive ? kInteractiveTimeout : kPreflightTimeout;
      r = sd_bus_call_async(bus_.get(), &slot, message.get(),
                            interactive ? &Check::on_answer : &Check::on_preflight, this,
                            static_cast<uint64_t>(timeout.count()));
    }
    if (r < 0) {
      return std::unexpected(fmt::format("cannot ask polkit: {}", error_text(r)));
    }
    call_.reset(slot);
    kick();
    return {};
  }

 private:
  int append_arguments(sd_bus_message* m, bool interactive) const {
    int r = sd_bus_message_open_container(m, 'r', "sa{sv}");
    if (r >= 0) {
      r = sd_bus_message_append(m, "s", "unix-process");
    }
    if (r >= 0) {
      r = sd_bus_message_append(m, "a{sv}", 3, "pid", "u", static_cast<uint32_t>(subject_.pid),
                                "start-time", "t", subject_.start_time, "uid", "i",
                                static_cast<int32_t>(subject_.uid));
    }
    if (r >= 0) {
      r = sd_bus_message_close_container(m);
    }
    if (r >= 0) {
      r = sd_bus_message_append(m, "sa{ss}us", kPresenceAction, 1, "polkit.message",
                                reason_.c_str(), interactive ? kAllowUserInteraction : 0U,
                                interactive ? cancellation_id_.c_str() : "");
    }
    return r;
  }

  // The first answer, without interaction, must be "challenge": anything else means a rule or
  // an edited policy decides without asking, and a "yes" would prove nothing.
  static int on_preflight(sd_bus_message* message, void* self, sd_bus_error* /*unused*/) {
    auto& check = *static_cast<Check*>(self);
    if (const sd_bus_error* error = sd_bus_message_get_error(message)) {
      auto outcome = presence_outcome_of_error(error->name, error->message ? error->message : "");
      if (outcome.result == PresenceResult::kTimeout) {
        outcome = {PresenceResult::kUnavailable, "polkitd did not answer: " + outcome.detail};
      }
      check.finish(std::move(outcome));
      return 0;
    }
    auto reply = read_reply(message);
    if (!reply) {
      check.finish({PresenceResult::kUnavailable, reply.error()});
    } else if (reply->authorized || !reply->challenge) {
      check.finish(
          {PresenceResult::kUnavailable,
           fmt::format("polkit {} {} to {} without authentication (a rule in "
                       "/etc/polkit-1/rules.d or an edited policy): a check would prove nothing",
                       reply->authorized ? "grants" : "refuses", kPresenceAction,
                       check.session_.user)});
    } else if (auto sent = check.send(true); !sent) {
      check.finish({PresenceResult::kUnavailable, sent.error()});
    }
    return 0;
  }

  static int on_answer(sd_bus_message* message, void* self, sd_bus_error* /*unused*/) {
    auto& check = *static_cast<Check*>(self);
    if (const sd_bus_error* error = sd_bus_message_get_error(message)) {
      check.finish(presence_outcome_of_error(error->name, error->message ? error->message : ""));
      return 0;
    }
    auto reply = read_reply(message);
    if (!reply) {
      check.finish({PresenceResult::kUnavailable, reply.error()});
      return 0;
    }
    auto outcome = presence_outcome_of(reply->authorized, reply->challenge, reply->dismissed,
                                       check.session_.id);
    if (check.leader_ended()) {
      outcome = {PresenceResult::kUnavailable,
                 fmt::format("session {}'s leader (pid {}) ended during the check",
                             check.session_.id, check.subject_.pid)};
    }
    check.finish(std::move(outcome));
    return 0;
  }

  bool leader_ended() const {
    pollfd exited{.fd = leader_.get(), .events = POLLIN, .revents = 0};
    return ::poll(&exited, 1, 0) != 0;
  }

  void finish(PresenceOutcome outcome) {
    if (finished_) {
      return;
    }
    finished_ = true;
    done_(std::move(outcome));
  }

  void kick() const {
    if (auto driver = driver_.lock()) {
      driver->process_soon();
    }
  }

  SdBusRef bus_;
  std::weak_ptr<SdBusAsio> driver_;
  Subject subject_;
  daemon::Session session_;
  std::string reason_;
  std::string cancellation_id_;
  UniqueFd leader_;  // a pidfd: readable once the leader exits
  Done done_;
  SdBusSlotPtr call_;
  bool interactive_ = false;
  bool finished_ = false;
};

PolkitPresence::~PolkitPresence() = default;

std::expected<sd_bus*, std::string> PolkitPresence::system_bus() {
  if (bus_ && !bus_lost_) {
    return bus_.get();
  }
  driver_.reset();
  bus_.reset();
  bus_lost_ = false;
  sd_bus* raw = nullptr;
  if (int r = sd_bus_open_system(&raw); r < 0) {
    return std::unexpected(fmt::format("cannot connect to the system bus: {}", error_text(r)));
  }
  bus_.reset(raw);
  auto driver = SdBusAsio::attach(io_, raw, [this](const std::string& reason) {
    bus_lost_ = true;  // the next check connects again
    log::warning(fmt::format("lost the system bus (presence checks): {}", reason));
  });
  if (!driver) {
    bus_.reset();
    return std::unexpected(driver.error());
  }
  driver_ = std::move(*driver);
  return bus_.get();
}

std::expected<std::unique_ptr<daemon::PendingPresenceCheck>, PresenceOutcome> PolkitPresence::start(
    const daemon::Session& session, const std::string& reason, Done done) {
  // polkit authorizes uid 0 for anything without asking: never name root as the subject.
  if (session.uid == 0) {
    return std::unexpected(
        PresenceOutcome{PresenceResult::kUnavailable, "root's sessions have no presence to prove"});
  }
  if (session.leader <= 0) {
    return std::unexpected(
        PresenceOutcome{PresenceResult::kUnavailable,
                        fmt::format("logind names no leader process for session {}", session.id)});
  }
  // The pidfd first, then the facts: both are then about the same process.
  auto leader = processes_.watch(session.leader);
  auto facts =
      leader ? processes_.facts_of(session.leader)
             : std::expected<daemon::ProcessFacts, std::string>(std::unexpected(leader.error()));
  if (!facts) {
    return std::unexpected(PresenceOutcome{PresenceResult::kUnavailable,
                                           fmt::format("session {}'s leader (pid {}) is gone: {}",
                                                       session.id, session.leader, facts.error())});
  }
  auto bus = system_bus();
  if (!bus) {
    return std::unexpected(PresenceOutcome{PresenceResult::kUnavailable, bus.error()});
  }
  const Subject subject{session.leader, facts->start_time, session.uid};
  auto check = std::make_unique<Check>(*bus, driver_, subject, session, reason,
                                       fmt::format("liaison-{}-{}", ::getpid(), ++checks_started_),
                                       std::move(*leader), std::move(done));
  if (auto sent = check->send(false); !sent) {
    return std::unexpected(PresenceOutcome{PresenceResult::kUnavailable, sent.error()});
  }
  return check;
}

}  // namespace liaison::platform
