// What a daemon leaves for the next one so that agents outlive a daemon restart without a second
// agent being started beside them: per exec-launched agent, its session, strategy, uid, pid, the
// process's start time (a recycled pid has another), and the SHA-256 of the tokens its next hello
// may present (never a token itself). One JSON file per agent in a root-only directory of the
// runtime dir (0700, files 0600), written atomically. The runtime dir survives a restart of
// liaison.service and is removed when it stops for good (RuntimeDirectoryPreserve=restart), so
// the records never outlive the agents they describe by more than a stop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

namespace liaison::daemon {

struct AdoptionRecord {
  std::string agent_id;  // the session id
  std::string strategy;  // "exec"
  uid_t uid = 0;
  pid_t pid = 0;
  uint64_t start_time = 0;
  // Digests of the tokens a returning agent may present: the one its last hello was answered
  // with, and the one it presented then (in case that answer never reached it).
  std::vector<std::string> token_digests;

  friend bool operator==(const AdoptionRecord&, const AdoptionRecord&) = default;
};

class AdoptionRecords {
 public:
  // Records live in `directory`; an empty directory disables them (nothing saved or loaded).
  explicit AdoptionRecords(std::string directory) : directory_(std::move(directory)) {}

  bool enabled() const { return !directory_.empty(); }

  std::expected<void, std::string> save(const AdoptionRecord& record) const;
  void remove(const std::string& agent_id) const;

  // Every well-formed record; malformed or foreign files are removed (and said so in the log).
  std::vector<AdoptionRecord> load_all() const;

  // The file name of an agent's record: its id when that is a safe name, else its hex.
  static std::string file_name(const std::string& agent_id);

 private:
  std::string directory_;
};

}  // namespace liaison::daemon
