// Who an operator named (--user alice, --user 1001), found without blocking the daemon's loop.
// The sessions the daemon knows name their users (logind's user name and uid), so a user with a
// session costs no lookup at all; only a name no session has goes to the user database (NSS,
// which may be LDAP or sssd and wait for seconds), on a thread of its own (run_off_loop): a
// database that hangs holds up only the request that asked it.
#pragma once

#include <asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/agent_supervisor.h"
#include "daemon/users.h"

namespace liaison::daemon {

asio::awaitable<std::optional<ResolvedUser>> find_user(std::string name_or_uid,
                                                       std::vector<AgentView> agents,
                                                       UserLookup users);

// The same for several names at once, in one off-loop call for those no session names; the
// answers in the order of `names`.
asio::awaitable<std::vector<std::optional<ResolvedUser>>> find_users(std::vector<std::string> names,
                                                                     std::vector<AgentView> agents,
                                                                     UserLookup users);

}  // namespace liaison::daemon
