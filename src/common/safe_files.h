// Files written by root where a symlink must never redirect the write: every path is resolved
// beneath a directory fd the caller trusts, one component at a time with O_NOFOLLOW, so a symlink
// planted anywhere below that directory makes the call fail (ELOOP or ENOTDIR) instead of being
// followed. Writes are atomic: a temporary file in the target's directory, fsync, renameat over
// the name, fsync of the directory; a reader sees the old content or the new, never half.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/system_error.h"
#include "common/unique_fd.h"

namespace liaison {

struct FileOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Opens the directory at `absolute_path` with every component checked as above (from "/").
// With `create`, missing directories are made with `mode` (and `owner`, when given).
SystemResult<UniqueFd> open_directory(std::string_view absolute_path, bool create = false,
                                      mode_t mode = 0755,
                                      std::optional<FileOwner> owner = std::nullopt);

// The same, for a `relative_path` ("a/b") beneath `directory_fd`.
SystemResult<UniqueFd> open_directory_beneath(int directory_fd, std::string_view relative_path,
                                              bool create = false, mode_t mode = 0755,
                                              std::optional<FileOwner> owner = std::nullopt);

// Writes `content` to `relative_path` beneath `directory_fd` atomically with `mode` (and
// `owner`); missing parent directories are created 0755 (and `owner`).
SystemResult<void> write_file_beneath(int directory_fd, std::string_view relative_path,
                                      std::string_view content, mode_t mode,
                                      std::optional<FileOwner> owner = std::nullopt);

// The content of a regular file beneath `directory_fd`, nullopt when it does not exist. A
// symlink, a non-regular file or one over `max_bytes` is an error.
SystemResult<std::optional<std::string>> read_file_beneath(int directory_fd,
                                                           std::string_view relative_path,
                                                           size_t max_bytes = 1 << 20);

// Makes `relative_path` a symlink to `target` (atomically replacing what is there, unless it is
// a directory). The link itself is created, never followed.
SystemResult<void> symlink_beneath(int directory_fd, std::string_view relative_path,
                                   std::string_view target);

// Where the symlink at `relative_path` points; nullopt when nothing is there. An error when
// something other than a symlink is there.
SystemResult<std::optional<std::string>> read_symlink_beneath(int directory_fd,
                                                              std::string_view relative_path);

// Removes the file or symlink at `relative_path` (never what a symlink points to). False when
// there was nothing to remove.
SystemResult<bool> remove_beneath(int directory_fd, std::string_view relative_path);

// Removes the directory at `relative_path` if it is empty; false when it is missing or not empty.
SystemResult<bool> remove_empty_directory_beneath(int directory_fd, std::string_view relative_path);

}  // namespace liaison
