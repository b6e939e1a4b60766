// What the agent does with keys, behind the one interface it holds: the daemon's key.* requests
// and doctor's look at each key provider. AgentKeys (agent_keys.h) is the implementation; on
// Linux the agent reaches it through a module loaded on the first key request, so an agent that
// never handles a key never loads tss2 or libcrypto (src/cli/agent_keys_on_demand.h).
#pragma once

#include <string>
#include <string_view>

#include "protocol/finding.h"
#include "protocol/json_rpc.h"

namespace liaison::agent {

class KeyService {
 public:
  virtual ~KeyService() = default;

  // key.create | key.list | key.public | key.sign | key.delete from the daemon. Synchronous: a
  // TPM signature takes about a millisecond on a simulator, tens on hardware.
  virtual protocol::Result<protocol::Json> handle(const std::string& method,
                                                  protocol::Json params) = 0;

  // For `liaison doctor`: the provider `name` as this user's session reaches it.
  virtual protocol::Finding check_provider(std::string_view name, const std::string& tpm_tcti) = 0;
};

}  // namespace liaison::agent
