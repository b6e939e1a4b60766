#include "platform/linux/passwd.h"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace liaison::platform {
namespace {

// getpwuid_r and friends report ERANGE when the buffer is too small (large LDAP groups);
// larger buffers are tried up to this bound.
constexpr size_t kInitialBufferSize = 4096;
constexpr size_t kMaxBufferSize = 1 << 20;

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

PasswdEntry to_entry(const passwd& pw) {
  return PasswdEntry{
      .name = pw.pw_name,
      .uid = pw.pw_uid,
      .gid = pw.pw_gid,
      .home = pw.pw_dir != nullptr ? pw.pw_dir : "",
      .shell = pw.pw_shell != nullptr ? pw.pw_shell : "",
  };
}

// Calls `lookup(entry, buffer, size, result)` (a getpw*_r or getgr*_r) with growing buffers.
// Returns the error number (0 on success; success with *result == nullptr means "no entry").
template <typename Entry, typename Lookup>
int lookup_with_growing_buffer(Entry& entry, std::string& buffer, Entry*& result, Lookup lookup) {
  int error_number = ERANGE;
  for (size_t size = kInitialBufferSize; size <= kMaxBufferSize; size *= 2) {
    buffer.resize(size);
    result = nullptr;
    error_number = lookup(&entry, buffer.data(), buffer.size(), &result);
    if (error_number != ERANGE) {
      break;
    }
  }
  // Some NSS modules report "no such entry" as an error rather than as a null result.
  if (error_number == ENOENT || error_number == ESRCH) {
    result = nullptr;
    return 0;
  }
  return error_number;
}

}  // namespace

std::expected<PasswdEntry, std::string> passwd_by_uid(uid_t uid) {
  passwd entry{};
  passwd* result = nullptr;
  std::string buffer;
  int error_number = lookup_with_growing_buffer(
      entry, buffer, result,
      [uid](passwd* e, char* b, size_t n, passwd** r) { return getpwuid_r(uid, e, b, n, r); });
  if (error_number != 0) {
    return std::unexpected(fmt::format("getpwuid_r({}): {}", uid, errno_text(error_number)));
  }
  if (result == nullptr) {
    return std::unexpected(fmt::format("no passwd entry for uid {}", uid));
  }
  return to_entry(entry);
}

std::expected<PasswdEntry, std::string> passwd_by_name(const std::string& name) {
  passwd entry{};
  passwd* result = nullptr;
  std::string buffer;
  int error_number = lookup_with_growing_buffer(entry, buffer, result,
                                                [&name](passwd* e, char* b, size_t n, passwd** r) {
                                                  return getpwnam_r(name.c_str(), e, b, n, r);
                                                });
  if (error_number != 0) {
    return std::unexpected(fmt::format("getpwnam_r({}): {}", name, errno_text(error_number)));
  }
  if (result == nullptr) {
    return std::unexpected(fmt::format("no passwd entry for user {}", name));
  }
  return to_entry(entry);
}

std::expected<std::vector<gid_t>, std::string> groups_of(const PasswdEntry& user) {
  std::vector<gid_t> groups(32);
  // getgrouplist returns -1 and the needed count when the array is too small; a group can be
  // added between two calls, hence the loop.
  for (int attempt = 0; attempt < 8; ++attempt) {
    int count = static_cast<int>(groups.size());
    if (getgrouplist(user.name.c_str(), user.gid, groups.data(), &count) >= 0) {
      groups.resize(static_cast<size_t>(count));
      return groups;
    }
    if (count <= static_cast<int>(groups.size())) {
      count = static_cast<int>(groups.size()) * 2;
    }
    groups.resize(static_cast<size_t>(count));
  }
  return std::unexpected(fmt::format("getgrouplist({}): the group list keeps growing", user.name));
}

std::expected<std::optional<gid_t>, std::string> group_id_by_name(const std::string& name) {
  group entry{};
  group* result = nullptr;
  std::string buffer;
  int error_number = lookup_with_growing_buffer(entry, buffer, result,
                                                [&name](group* e, char* b, size_t n, group** r) {
                                                  return getgrnam_r(name.c_str(), e, b, n, r);
                                                });
  if (error_number != 0) {
    return std::unexpected(fmt::format("getgrnam_r({}): {}", name, errno_text(error_number)));
  }
  if (result == nullptr) {
    return std::optional<gid_t>{};
  }
  return std::optional<gid_t>{entry.gr_gid};
}

}  // namespace liaison::platform
