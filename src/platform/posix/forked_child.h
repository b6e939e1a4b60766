// What a child forked from the daemon does to itself before it runs anything as a user: the
// daemon's signal handlers (asio's SIGTERM handler writes to the daemon's own self-pipe) must not
// survive into a process the user may signal. Async-signal-safe: for the child between fork and
// exec or _exit.
#pragma once

namespace liaison::platform {

// Every signal back to its default action (SIGKILL and SIGSTOP cannot be changed; glibc refuses
// its two internal signals, which have nothing to reset). The signal mask is the caller's.
void reset_signal_dispositions();

}  // namespace liaison::platform
