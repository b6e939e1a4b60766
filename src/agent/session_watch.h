// Tells the agent when its own login session has ended, so it leaves at logout even when the
// daemon is not there to say so. Event-driven like the daemon's session source: a readable fd,
// then a question.
#pragma once

namespace liaison::agent {

class SessionWatch {
 public:
  virtual ~SessionWatch() = default;

  // Readable when any session changed; stays the same fd for the watch's lifetime.
  virtual int change_fd() const = 0;
  virtual void acknowledge_change() = 0;

  // Whether the agent's session is gone or closing. Cheap (reads logind's record).
  virtual bool session_ended() = 0;
};

}  // namespace liaison::agent
