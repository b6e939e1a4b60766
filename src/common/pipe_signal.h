// For tests and fakes: a pipe that plays a kernel notification fd -- an eventfd a session source
// writes, a pidfd that turns readable when its process exits. fire() makes fd() readable until
// drain(). A pipe, not an eventfd, so both platforms build the fakes that use it.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include "common/portable_calls.h"
#include "common/unique_fd.h"

namespace liaison {

class PipeSignal {
 public:
  PipeSignal() {
    int fds[2];
    if (open_pipe(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
      read_end_ = UniqueFd(fds[0]);
      write_end_ = UniqueFd(fds[1]);
    }
  }

  // The end to poll: readable once fired, until drained.
  int fd() const { return read_end_.get(); }
  // A copy of fd() for a holder of its own (a LaunchedAgent's exit fd).
  UniqueFd watch() const { return UniqueFd(::fcntl(read_end_.get(), F_DUPFD_CLOEXEC, 0)); }

  void fire() const {
    const char byte = 1;
    [[maybe_unused]] ssize_t written = ::write(write_end_.get(), &byte, sizeof(byte));
  }
  void drain() const {
    char bytes[64];
    while (::read(read_end_.get(), bytes, sizeof(bytes)) > 0) {
    }
  }

 private:
  UniqueFd read_end_;
  UniqueFd write_end_;
};

}  // namespace liaison
