// Turns what an operator typed (--user alice, --user 1001) into a uid and a name.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace liaison::daemon {

struct ResolvedUser {
  uid_t uid = 0;
  std::string name;  // the login name, or the number as given when passwd has no entry
};

// A login name, or a numeric uid that need not have a passwd entry.
std::optional<ResolvedUser> resolve_user(const std::string& name_or_uid);

}  // namespace liaison::daemon
