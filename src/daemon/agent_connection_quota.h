// How many connections agent.sock holds: in all, and per uid before agent.hello. Anyone may
// connect to agent.sock, so one user's silent or refused connections must not crowd out anyone
// else's agents, nor, by leaking, their own.
//
// A connection takes a Slot when it is accepted and owns it until it ends. The slot gives its
// place back when it is released or destroyed, whichever comes first, so however the connection
// ends (closed, refused with or without a reply, dropped by its last owner, destroyed with the
// io_context) its places are returned exactly once. Slots share the counts with the quota and may
// outlive it. Everything here is O(log uids) and runs on the daemon's loop.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <expected>
#include <map>
#include <memory>
#include <string>

namespace liaison::daemon {

class AgentConnectionQuota {
 public:
  struct Counts {
    std::size_t connections = 0;
    std::map<uid_t, std::size_t> unproven_by_uid;  // no entry for a uid with none
  };

  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

    // The peer proved itself (agent.hello): it no longer counts against its uid's unproven cap.
    void mark_proven();
    // Gives the places back now; later calls and the destructor do nothing.
    void release();

   private:
    friend class AgentConnectionQuota;
    Slot(std::shared_ptr<Counts> counts, uid_t uid) : counts_(std::move(counts)), uid_(uid) {}
    void release_unproven();

    std::shared_ptr<Counts> counts_;  // null once released
    uid_t uid_;
    bool proven_ = false;
  };

  AgentConnectionQuota(std::size_t max_connections, std::size_t max_unproven_per_uid)
      : max_connections_(max_connections), max_unproven_per_uid_(max_unproven_per_uid) {}

  // A place for a new connection of `uid`, or why there is none (the text a refused peer reads).
  std::expected<Slot, std::string> try_take(uid_t uid);

  std::size_t connections() const { return counts_->connections; }
  std::size_t unproven(uid_t uid) const;
  std::size_t uids_with_unproven() const { return counts_->unproven_by_uid.size(); }

 private:
  std::size_t max_connections_;
  std::size_t max_unproven_per_uid_;
  std::shared_ptr<Counts> counts_ = std::make_shared<Counts>();
};

}  // namespace liaison::daemon
