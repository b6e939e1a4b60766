#include "common/portable_calls.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#if defined(__APPLE__)
#include <stdlib.h>
#else
#include <sys/random.h>
#endif

namespace liaison {

bool fill_random(std::span<uint8_t> bytes) {
#if defined(__APPLE__)
  arc4random_buf(bytes.data(), bytes.size());  // cannot fail
  return true;
#else
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    ssize_t got = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return false;
    }
    filled += static_cast<std::size_t>(got);
  }
  return true;
#endif
}

int open_pipe(int fds[2], int flags) {
#if defined(__APPLE__)
  if (::pipe(fds) != 0) {
    return -1;
  }
  for (int i = 0; i < 2; ++i) {
    if (((flags & O_CLOEXEC) != 0 && ::fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) ||
        ((flags & O_NONBLOCK) != 0 && ::fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0)) {
      const int error = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      errno = error;
      return -1;
    }
  }
  return 0;
#else
  return ::pipe2(fds, flags);
#endif
}

int64_t change_time_ns(const struct stat& status) {
#if defined(__APPLE__)
  const timespec& changed = status.st_ctimespec;
#else
  const timespec& changed = status.st_ctim;
#endif
  return static_cast<int64_t>(changed.tv_sec) * 1'000'000'000LL + changed.tv_nsec;
}

int rename_no_replace(int directory, const char* from, const char* to) {
#if defined(__APPLE__)
  return ::renameatx_np(directory, from, directory, to, RENAME_EXCL);
#else
  return ::renameat2(directory, from, directory, to, RENAME_NOREPLACE);
#endif
}

}  // namespace liaison
