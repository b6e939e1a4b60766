// What `[keys] backend = "auto"` (and `liaison key create --backend auto`) means on this
// platform: which hardware provider to try first and where it runs. A fact of the platform,
// decided by the platform wiring and injected (DaemonParts::auto_keys), so the daemon's core
// holds no platform test. In both meanings a missing piece of hardware gives a software key,
// and the answer says so.
#pragma once

#include <string>

#include "common/config.h"
#include "keys/unexportable_key.h"

namespace liaison::daemon {

struct AutoKeyPlacement {
  std::string backend;       // the hardware provider "auto" tries: "tpm", "secure-enclave"
  keys::KeyContext context;  // where that provider runs: the daemon, or the user's agent

  // Linux: the TPM, in whichever context [keys] tpm_context places it.
  static AutoKeyPlacement tpm_per_config(const Config& config) {
    return {"tpm", config.keys.tpm_context == "user-session" ? keys::KeyContext::kUserSession
                                                             : keys::KeyContext::kDaemon};
  }
  // macOS: the Secure Enclave, which only the user's agent can reach (docs/macos.md).
  static AutoKeyPlacement secure_enclave_in_session() {
    return {"secure-enclave", keys::KeyContext::kUserSession};
  }
};

}  // namespace liaison::daemon
