// Presence checks on Linux (issue 26): the daemon asks polkit, on the system bus, whether a
// process of the session is authorized for `dev.liaison.presence`, an action liaison installs
// with `auth_self` everywhere and never a `_keep` value. polkitd finds that process's session and
// has the authentication agent registered for it prompt (GNOME Shell, KDE's, lxpolkit, mate-polkit;
// PAM checks the password or the fingerprint); polkitd, root, gives the answer. Neither liaison's
// agent nor any other process of the user can give it.
//
// The subject is a `unix-process` (pid, start time, and the session's uid: polkit takes the uid
// from the caller), never a `unix-session`: polkitd 122 aborts on those
// (shared notes/polkit-facts.md). The process is the session's leader as logind names it, not
// liaison's agent: under asuser and launch-agent the agent runs in user@UID.service, outside every
// session, and polkitd then asks the user's *display* session instead (measured:
// test_presence.py), which need not be the session asked. A pidfd
// held for the whole check turns an answer into `unavailable` if the leader ended meanwhile, so a
// recycled pid never stands for the session.
//
// Each check makes two calls: first without interaction, which must come back "challenge" — a
// rule or an edited policy that grants the action outright (or refuses it) would make the second
// answer meaningless, and is reported `unavailable` instead — then with AllowUserInteraction.
// Withdrawing a check sends CancelCheckAuthorization. Everything is asynchronous on the daemon's
// loop (SdBusAsio); the system bus is opened on the first check and again after it was lost.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "daemon/presence_verifier.h"
#include "daemon/process_inspector.h"
#include "platform/linux/sd_bus_asio.h"
#include "platform/linux/sd_bus_ptr.h"

namespace liaison::platform {

inline constexpr const char* kPresenceAction = "dev.liaison.presence";

// How one CheckAuthorization reply reads, for the interactive call (exposed for tests).
daemon::PresenceOutcome presence_outcome_of(bool is_authorized, bool is_challenge, bool dismissed,
                                            const std::string& session);
// What a D-Bus error from polkit (or from the bus, when polkitd is missing) means.
daemon::PresenceOutcome presence_outcome_of_error(const std::string& name,
                                                  const std::string& message);

class PolkitPresence final : public daemon::PresenceVerifier {
 public:
  PolkitPresence(asio::io_context& io, const daemon::ProcessInspector& processes)
      : io_(io), processes_(processes) {}
  ~PolkitPresence() override;
  PolkitPresence(const PolkitPresence&) = delete;
  PolkitPresence& operator=(const PolkitPresence&) = delete;

  std::expected<std::unique_ptr<daemon::PendingPresenceCheck>, daemon::PresenceOutcome> start(
      const daemon::Session& session, const std::string& reason, Done done) override;

 private:
  class Check;

  std::expected<sd_bus*, std::string> system_bus();

  asio::io_context& io_;
  const daemon::ProcessInspector& processes_;
  SdBusPtr bus_;
  std::shared_ptr<SdBusAsio> driver_;  // checks hold it weakly, to flush what they send
  bool bus_lost_ = false;
  uint64_t checks_started_ = 0;
};

}  // namespace liaison::platform
