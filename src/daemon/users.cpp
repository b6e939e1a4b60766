#include "daemon/users.h"

#include <pwd.h>

#include <charconv>

namespace liaison::daemon {

std::optional<ResolvedUser> resolve_user(const std::string& name_or_uid) {
  uid_t uid = 0;
  const char* end = name_or_uid.data() + name_or_uid.size();
  auto [parsed_end, error] = std::from_chars(name_or_uid.data(), end, uid);
  const bool numeric = !name_or_uid.empty() && error == std::errc() && parsed_end == end;
  std::string buffer(16384, '\0');
  passwd entry{};
  passwd* found = nullptr;
  if (numeric) {
    getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    return ResolvedUser{uid, found ? found->pw_name : name_or_uid, found != nullptr};
  }
  getpwnam_r(name_or_uid.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return std::nullopt;
  }
  return ResolvedUser{found->pw_uid, found->pw_name, true};
}

}  // namespace liaison::daemon
