// The user and group databases (NSS: files, LDAP, sssd...), read with the reentrant calls so the
// daemon may use them from any thread.
#pragma once

#include <sys/types.h>

#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace liaison::platform {

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // primary group
  std::string home;
  std::string shell;  // as recorded; passwd(5) says empty means /bin/sh

  friend bool operator==(const PasswdEntry&, const PasswdEntry&) = default;
};

// The passwd entry of `uid`; an error names the uid when there is none.
std::expected<PasswdEntry, std::string> passwd_by_uid(uid_t uid);
std::expected<PasswdEntry, std::string> passwd_by_name(const std::string& name);

// The groups initgroups(3) would give the user: the primary group and every group listing the
// user as a member (getgrouplist(3)), without changing the caller's own groups.
std::expected<std::vector<gid_t>, std::string> groups_of(const PasswdEntry& user);

// The gid of group `name`, nullopt when no such group exists.
std::expected<std::optional<gid_t>, std::string> group_id_by_name(const std::string& name);

}  // namespace liaison::platform
