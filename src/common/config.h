// /etc/liaison/liaison.toml: every key optional, defaults that work without the file, and an error
// naming the key for anything unknown or mistyped — a typo must not silently mean "default".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace liaison {

inline constexpr std::string_view kDefaultConfigPath = "/etc/liaison/liaison.toml";

// The first uid of a human account: 1000 on Debian and most Linux systems, 501 on macOS.
#ifdef __APPLE__
inline constexpr uid_t kDefaultMinUid = 501;
#else
inline constexpr uid_t kDefaultMinUid = 1000;
#endif

struct Config {
  struct Agent {
    std::string launch = "exec";  // exec | asuser | launch-agent
  } agent;
  struct Sessions {
    bool include_remote = false;
    bool include_tty = false;
    uid_t min_uid = kDefaultMinUid;
  } sessions;
  struct Keys {
    std::string backend = "auto";  // auto | tpm | secure-enclave | software
    std::string tpm_tcti = "device:/dev/tpmrm0";
    std::string tpm_context = "daemon";  // daemon | user-session
    // macOS: the keychain access group of Secure Enclave keys ("TEAMID.dev.liaison"); empty
    // means the app's default group (the first of its keychain-access-groups entitlement).
    std::string keychain_access_group;
  } keys;
  struct Notify {
    std::string app_name = "liaison";
    uint32_t per_user_per_minute = 30;
  } notify;
  struct Log {
    std::string level = "info";  // debug | info | warning | error
  } log;
};

// Parses TOML text; `source` names it in error messages ("/etc/liaison/liaison.toml").
std::expected<Config, std::string> parse_config(std::string_view text, std::string_view source);

// Reads and parses a file. A missing file at the default path means the defaults; a missing file
// that was named explicitly is an error.
std::expected<Config, std::string> load_config(const std::string& path, bool path_was_given);

}  // namespace liaison
