// Turns what an operator typed (--user alice, --user 1001) into a uid and a name.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

namespace liaison::daemon {

struct ResolvedUser {
  uid_t uid = 0;
  std::string name;          // the login name, or the number as given when passwd has no entry
  bool has_account = false;  // the user database knows the uid
};

// A login name, or a numeric uid that need not have a passwd entry.
std::optional<ResolvedUser> resolve_user(const std::string& name_or_uid);

// How the daemon resolves what an operator typed: resolve_user, or fixed accounts in tests.
using UserLookup = std::function<std::optional<ResolvedUser>(const std::string& name_or_uid)>;

}  // namespace liaison::daemon
