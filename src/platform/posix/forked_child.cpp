#include "platform/posix/forked_child.h"

#include <signal.h>

namespace liaison::platform {

void reset_signal_dispositions() {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number != SIGKILL && signal_number != SIGSTOP) {
      sigaction(signal_number, &default_action, nullptr);
    }
  }
}

}  // namespace liaison::platform
