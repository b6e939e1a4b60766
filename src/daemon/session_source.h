// Where the daemon learns which login sessions exist. Event-driven: the source exposes a file
// descriptor that becomes readable when anything changed; the daemon then lists again. It never
// needs a timer.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "daemon/session.h"

namespace liaison::daemon {

class SessionSource {
 public:
  virtual ~SessionSource() = default;

  // Every session that exists now, eligible or not. Cheap (reads /run/systemd/sessions on Linux).
  virtual std::expected<std::vector<Session>, std::string> list_sessions() = 0;

  // Readable when the set of sessions or one of their states changed. Stays the same fd for the
  // source's lifetime.
  virtual int change_fd() const = 0;

  // Acknowledges a change notification so change_fd() stops being readable until the next one.
  virtual void acknowledge_change() = 0;
};

}  // namespace liaison::daemon
