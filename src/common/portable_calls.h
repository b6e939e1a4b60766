// The few system calls liaison needs that Linux and macOS spell differently, in one place, so no
// other file has to choose between them.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <span>

namespace liaison {

// Fills `bytes` from the kernel's random generator (getrandom(2) on Linux, arc4random_buf(3) on
// macOS). False only where the kernel offers none; callers must not fall back to anything weaker
// for secrets.
bool fill_random(std::span<uint8_t> bytes);

// renameat(2) within `directory` that fails with EEXIST instead of replacing `to`: Linux's
// renameat2(RENAME_NOREPLACE), macOS's renameatx_np(RENAME_EXCL). -1 with errno EINVAL where the
// filesystem cannot do it atomically; 0 on success.
int rename_no_replace(int directory, const char* from, const char* to);

// pipe2(2): a pipe whose both ends get `flags` (O_CLOEXEC, O_NONBLOCK) -- atomically on Linux;
// macOS has no pipe2, so there the flags are set right after pipe(2), and a fork by another thread
// in between could inherit the ends. 0 on success, -1 with errno.
int open_pipe(int fds[2], int flags);

// A file's change time (ctime) in nanoseconds since the epoch: `st_ctim` on Linux,
// `st_ctimespec` on macOS.
int64_t change_time_ns(const struct stat& status);

}  // namespace liaison
