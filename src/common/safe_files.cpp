#include "common/safe_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

#include "common/portable_calls.h"

namespace liaison {
namespace {

constexpr int kDirectoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

struct SplitPath {
  std::vector<std::string> directories;  // the components before the last one
  std::string name;                      // the last component
};

// Splits "a/b/c" into {a, b} and c. Empty components ("a//b") are skipped; "." and ".." are
// refused: a path here names something beneath the directory, never above it.
SystemResult<SplitPath> split(std::string_view path) {
  SplitPath split;
  std::vector<std::string> components;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    std::string_view component = path.substr(start, end - start);
    if (component == "." || component == "..") {
      return std::unexpected(
          SystemError{fmt::format("{}: \".\" or \"..\" in the path", path), EINVAL});
    }
    if (!component.empty()) {
      components.emplace_back(component);
    }
    start = end + 1;
  }
  if (components.empty()) {
    return std::unexpected(SystemError{"empty path", EINVAL});
  }
  split.name = std::move(components.back());
  components.pop_back();
  split.directories = std::move(components);
  return split;
}

SystemResult<void> set_owner(int fd, const std::optional<FileOwner>& owner, std::string_view what) {
  if (owner && ::fchown(fd, owner->uid, owner->gid) != 0) {
    return last_system_error(fmt::format("fchown {}", what));
  }
  return {};
}

// One component beneath `parent`, made when missing and `create` is set. A symlink in its place
// fails with ELOOP (O_NOFOLLOW on the final component) or ENOTDIR (O_DIRECTORY).
SystemResult<UniqueFd> open_child_directory(int parent, const std::string& name, bool create,
                                            mode_t mode, const std::optional<FileOwner>& owner) {
  UniqueFd child(::openat(parent, name.c_str(), kDirectoryFlags));
  if (!child && errno == ENOENT && create) {
    if (::mkdirat(parent, name.c_str(), mode) != 0 && errno != EEXIST) {
      return last_system_error(fmt::format("mkdir {}", name));
    }
    child.reset(::openat(parent, name.c_str(), kDirectoryFlags));
    if (child) {
      // mkdirat obeys the umask; the caller's mode is what it asked for.
      if (::fchmod(child.get(), mode) != 0) {
        return last_system_error(fmt::format("chmod {}", name));
      }
      if (auto owned = set_owner(child.get(), owner, name); !owned) {
        return std::unexpected(owned.error());
      }
    }
  }
  if (!child) {
    return last_system_error(fmt::format("open directory {}", name));
  }
  return child;
}

SystemResult<UniqueFd> walk(int start, const std::vector<std::string>& components, bool create,
                            mode_t mode, const std::optional<FileOwner>& owner) {
  UniqueFd current(::fcntl(start, F_DUPFD_CLOEXEC, 0));
  if (!current) {
    return last_system_error("dup directory fd");
  }
  for (const std::string& component : components) {
    auto next = open_child_directory(current.get(), component, create, mode, owner);
    if (!next) {
      return std::unexpected(next.error());
    }
    current = std::move(*next);
  }
  return current;
}

struct Parent {
  UniqueFd directory;
  std::string name;
};

SystemResult<Parent> open_parent(int directory_fd, std::string_view relative_path, bool create,
                                 const std::optional<FileOwner>& owner) {
  auto parts = split(relative_path);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  auto parent = walk(directory_fd, parts->directories, create, 0755, owner);
  if (!parent) {
    return std::unexpected(parent.error());
  }
  return Parent{std::move(*parent), std::move(parts->name)};
}

std::string temporary_name(std::string_view name) {
  std::array<uint8_t, 8> random{};
  if (!fill_random(random)) {
    // Uniqueness only has to hold within one directory and one writer at a time.
    return fmt::format(".{}.tmp-{}", name, ::getpid());
  }
  std::string suffix;
  for (uint8_t byte : random) {
    suffix += fmt::format("{:02x}", byte);
  }
  return fmt::format(".{}.tmp-{}", name, suffix);
}

SystemResult<void> write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    ssize_t written = ::write(fd, content.data(), content.size());
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written < 0) {
      return last_system_error("write");
    }
    content.remove_prefix(static_cast<size_t>(written));
  }
  return {};
}

}  // namespace

SystemResult<UniqueFd> open_directory(std::string_view absolute_path, bool create, mode_t mode,
                                      std::optional<FileOwner> owner) {
  if (!absolute_path.starts_with('/')) {
    return std::unexpected(
        SystemError{fmt::format("{} is not an absolute path", absolute_path), EINVAL});
  }
  UniqueFd root(::open("/", kDirectoryFlags));
  if (!root) {
    return last_system_error("open /");
  }
  if (absolute_path.find_first_not_of('/') == std::string_view::npos) {
    return root;
  }
  return open_directory_beneath(root.get(), absolute_path.substr(1), create, mode, owner);
}

SystemResult<UniqueFd> open_directory_beneath(int directory_fd, std::string_view relative_path,
                                              bool create, mode_t mode,
                                              std::optional<FileOwner> owner) {
  auto parts = split(relative_path);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  parts->directories.push_back(parts->name);
  return walk(directory_fd, parts->directories, create, mode, owner);
}

SystemResult<void> write_file_beneath(int directory_fd, std::string_view relative_path,
                                      std::string_view content, mode_t mode,
                                      std::optional<FileOwner> owner) {
  auto parent = open_parent(directory_fd, relative_path, true, owner);
  if (!parent) {
    return std::unexpected(parent.error());
  }
  const int dir = parent->directory.get();
  const std::string temporary = temporary_name(parent->name);
  UniqueFd file(
      ::openat(dir, temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!file) {
    return last_system_error(fmt::format("create {}", temporary));
  }
  auto fail = [&](SystemError error) {
    ::unlinkat(dir, temporary.c_str(), 0);
    return std::unexpected(std::move(error));
  };
  if (::fchmod(file.get(), mode) != 0) {
    return fail({"fchmod", errno});
  }
  if (auto owned = set_owner(file.get(), owner, temporary); !owned) {
    return fail(owned.error());
  }
  if (auto written = write_all(file.get(), content); !written) {
    return fail(written.error());
  }
  if (::fsync(file.get()) != 0) {
    return fail({"fsync", errno});
  }
  // renameat replaces the name itself: a symlink planted at the name is replaced, not followed.
  if (::renameat(dir, temporary.c_str(), dir, parent->name.c_str()) != 0) {
    return fail({fmt::format("rename to {}", parent->name), errno});
  }
  ::fsync(dir);
  return {};
}

SystemResult<std::optional<std::string>> read_file_beneath(int directory_fd,
                                                           std::string_view relative_path,
                                                           size_t max_bytes) {
  auto parent = open_parent(directory_fd, relative_path, false, std::nullopt);
  if (!parent) {
    if (parent.error().error_number == ENOENT) {
      return std::optional<std::string>();
    }
    return std::unexpected(parent.error());
  }
  UniqueFd file(::openat(parent->directory.get(), parent->name.c_str(),
                         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!file && errno == ENOENT) {
    return std::optional<std::string>();
  }
  if (!file) {
    return last_system_error(fmt::format("open {}", relative_path));
  }
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) {
    return last_system_error("fstat");
  }
  if (!S_ISREG(status.st_mode)) {
    return std::unexpected(
        SystemError{fmt::format("{} is not a regular file", relative_path), EINVAL});
  }
  if (static_cast<size_t>(status.st_size) > max_bytes) {
    return std::unexpected(
        SystemError{fmt::format("{} is larger than {} bytes", relative_path, max_bytes), EFBIG});
  }
  std::string content(static_cast<size_t>(status.st_size), '\0');
  size_t filled = 0;
  while (filled < content.size()) {
    ssize_t got = ::read(file.get(), content.data() + filled, content.size() - filled);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return last_system_error(fmt::format("read {}", relative_path));
    }
    if (got == 0) {
      break;
    }
    filled += static_cast<size_t>(got);
  }
  content.resize(filled);
  return std::optional<std::string>(std::move(content));
}

SystemResult<void> symlink_beneath(int directory_fd, std::string_view relative_path,
                                   std::string_view target) {
  auto parent = open_parent(directory_fd, relative_path, true, std::nullopt);
  if (!parent) {
    return std::unexpected(parent.error());
  }
  const int dir = parent->directory.get();
  const std::string temporary = temporary_name(parent->name);
  if (::symlinkat(std::string(target).c_str(), dir, temporary.c_str()) != 0) {
    return last_system_error(fmt::format("symlink {}", temporary));
  }
  if (::renameat(dir, temporary.c_str(), dir, parent->name.c_str()) != 0) {
    int error = errno;
    ::unlinkat(dir, temporary.c_str(), 0);
    return std::unexpected(SystemError{fmt::format("rename to {}", parent->name), error});
  }
  ::fsync(dir);
  return {};
}

SystemResult<std::optional<std::string>> read_symlink_beneath(int directory_fd,
                                                              std::string_view relative_path) {
  auto parent = open_parent(directory_fd, relative_path, false, std::nullopt);
  if (!parent) {
    if (parent.error().error_number == ENOENT) {
      return std::optional<std::string>();
    }
    return std::unexpected(parent.error());
  }
  char target[4096];
  ssize_t length =
      ::readlinkat(parent->directory.get(), parent->name.c_str(), target, sizeof(target));
  if (length < 0 && errno == ENOENT) {
    return std::optional<std::string>();
  }
  if (length < 0) {
    return last_system_error(fmt::format("readlink {}", relative_path));
  }
  return std::optional<std::string>(std::string(target, static_cast<size_t>(length)));
}

SystemResult<bool> remove_beneath(int directory_fd, std::string_view relative_path) {
  auto parent = open_parent(directory_fd, relative_path, false, std::nullopt);
  if (!parent) {
    if (parent.error().error_number == ENOENT) {
      return false;
    }
    return std::unexpected(parent.error());
  }
  if (::unlinkat(parent->directory.get(), parent->name.c_str(), 0) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return last_system_error(fmt::format("unlink {}", relative_path));
  }
  ::fsync(parent->directory.get());
  return true;
}

SystemResult<bool> remove_empty_directory_beneath(int directory_fd,
                                                  std::string_view relative_path) {
  auto parent = open_parent(directory_fd, relative_path, false, std::nullopt);
  if (!parent) {
    if (parent.error().error_number == ENOENT) {
      return false;
    }
    return std::unexpected(parent.error());
  }
  if (::unlinkat(parent->directory.get(), parent->name.c_str(), AT_REMOVEDIR) != 0) {
    if (errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST) {
      return false;
    }
    return last_system_error(fmt::format("rmdir {}", relative_path));
  }
  return true;
}

}  // namespace liaison
