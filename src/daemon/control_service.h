// The control socket's methods (DESIGN.md): what `liaison <command>` and scripts call. Each method
// takes named params like the command's flags and returns what the command's --json prints.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "daemon/agent_supervisor.h"
#include "daemon/doctor.h"
#include "daemon/key_router.h"
#include "daemon/notification_outcomes.h"
#include "daemon/rate_limiter.h"
#include "daemon/users.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {

class ControlService {
 public:
  // How long a notify waits for an agent that is still starting (a login a moment ago).
  static constexpr std::chrono::milliseconds kAgentReadyWait{5000};
  static constexpr std::chrono::milliseconds kAgentCallTimeout{5000};

  // `users` resolves a --user the sessions do not name, off the loop (user_finder.h).
  ControlService(AgentSupervisor& agents, NotificationOutcomes& outcomes, KeyRouter& keys,
                 Doctor& doctor, const Config& config, UserLookup users)
      : agents_(agents),
        outcomes_(outcomes),
        keys_(keys),
        doctor_(doctor),
        config_(config),
        users_(std::move(users)),
        rate_limiter_(config.notify.per_user_per_minute) {}

  // By value: a coroutine must own what it reads after its first suspension.
  asio::awaitable<protocol::Result<protocol::Json>> handle(protocol::Request request);

 private:
  struct Target;

  protocol::Json version() const;
  protocol::Json list_sessions() const;
  asio::awaitable<protocol::Result<protocol::Json>> notify(const protocol::Json& params);
  asio::awaitable<void> deliver(Target& target, const protocol::Json& agent_params);
  asio::awaitable<void> wait_for_outcomes(std::vector<Target>& targets,
                                          std::chrono::milliseconds timeout);

  AgentSupervisor& agents_;
  NotificationOutcomes& outcomes_;
  KeyRouter& keys_;
  Doctor& doctor_;
  const Config& config_;
  UserLookup users_;
  RateLimiter rate_limiter_;
};

}  // namespace liaison::daemon
