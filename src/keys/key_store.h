// Where keys are kept between runs: one JSON file per label, holding the key's metadata and its
// wrapped form. The daemon keeps each user's keys in /var/lib/liaison/keys/<uid>/ (it runs as
// root, so every path it touches is resolved against directory fds it has checked, and a user's
// symlink can never redirect a root write); the agent keeps the user-session keys in
// $XDG_DATA_HOME/liaison/keys/.
//
// Rules: the directory is 0700 and owned by the key owner; every file is 0600, owned by the key
// owner, a regular file, never reached through a symlink; anything else is refused with a
// `not_permitted` error naming the file. Writes are atomic and durable (temp file, fsync, rename,
// fsync the directory): after a crash a label holds its old record or the complete new one.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"
#include "keys/unexportable_key.h"

namespace liaison::keys {

// What the store keeps about one key. The file is <label>.json:
// {"version":1,"label","backend","hardware_backed","created","public_key_spki","wrapped_key"},
// the last two in base64.
struct KeyRecord {
  std::string label;
  std::string backend;  // the provider's name(): "tpm", "secure-enclave", "software"
  bool hardware_backed = false;
  std::string created;  // ISO 8601 UTC, "2026-03-01T12:00:00Z"
  Bytes public_key_spki;
  Bytes wrapped_key;

  friend bool operator==(const KeyRecord&, const KeyRecord&) = default;
};

// "2026-03-01T12:00:00Z".
std::string iso8601_utc(std::chrono::system_clock::time_point time);

// The record for a key `provider` just made, created now.
KeyRecord make_key_record(std::string label, const UnexportableKeyProvider& provider,
                          const UnexportableSigningKey& key);

// A key file's contents as a record labeled `expected_label`; the error says what is wrong with
// it ("not valid JSON", a field's name). The file is the user's to write: any bytes may come.
std::expected<KeyRecord, std::string> parse_key_record(std::string_view contents,
                                                       std::string_view expected_label);

// A file in the store that list() could not use, and why.
struct KeyStoreProblem {
  std::string file_name;  // relative to the store directory
  KeyError error;
};

struct KeyListing {
  std::vector<KeyRecord> records;         // sorted by label
  std::vector<KeyStoreProblem> problems;  // sorted by file name
};

// <state_directory>/keys/<uid>: the daemon's store for one user.
std::filesystem::path daemon_key_directory(const std::filesystem::path& state_directory, uid_t uid);

// $XDG_DATA_HOME/liaison/keys, or $HOME/.local/share/liaison/keys when XDG_DATA_HOME is unset,
// empty or relative (as the XDG base directory spec says). Pass std::getenv's results.
KeyResult<std::filesystem::path> agent_key_directory(const char* xdg_data_home, const char* home);

// Safe to use from several threads, and from several processes at once: writers take an
// exclusive flock(2) on the directory, readers rely on rename(2) being atomic.
class KeyStore {
 public:
  // Opens the store at `directory` (absolute) for keys owned by `owner`. Missing parents are
  // made 0700. The parent must be owned by root or by us and not writable by group or others.
  // The directory itself is made 0700 and owned by `owner` if missing; if present it must be a
  // real directory (not a symlink), owned by `owner`, with no group or other permissions.
  // Removes temporary files a crashed writer left behind.
  static KeyResult<KeyStore> open(const std::filesystem::path& directory, uid_t owner);

  // Writes `record` under its label: an `exists` error if the label is taken, unless `replace`.
  // A bad label is `invalid_params`.
  KeyResult<void> create(const KeyRecord& record, bool replace);

  // `not_found` when the label has no file; `not_permitted` for a file that breaks the rules
  // above; `failed` for a file that is not a valid record.
  KeyResult<KeyRecord> load(std::string_view label) const;

  // What identifies the current version of a label's file (inode, size, change time, owner,
  // mode): one fstatat, so callers can keep a loaded record and notice any change to the file,
  // a chown or chmod included, without reading and checking it again on every use.
  struct FileStamp {
    ino_t inode = 0;
    off_t size = 0;
    int64_t change_time_ns = 0;
    uid_t owner = 0;
    mode_t mode = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
  };
  KeyResult<FileStamp> stamp(std::string_view label) const;

  // Every record, and every file that is not a usable record (never silently skipped).
  KeyResult<KeyListing> list() const;

  // `not_found` when the label has no file.
  KeyResult<void> remove(std::string_view label);

  const std::filesystem::path& directory() const { return directory_; }
  uid_t owner() const { return owner_; }

 private:
  KeyStore(std::filesystem::path directory, uid_t owner, UniqueFd directory_fd)
      : directory_(std::move(directory)), owner_(owner), directory_fd_(std::move(directory_fd)) {}

  KeyResult<UniqueFd> lock_exclusively(std::chrono::milliseconds patience) const;
  void remove_leftover_temporary_files() const;
  KeyResult<std::string> read_key_file(const std::string& file_name) const;
  KeyResult<void> write_temporary_file(const std::string& temporary_name,
                                       const std::string& contents) const;
  KeyResult<void> move_into_place(const std::string& temporary_name, std::string_view label,
                                  bool replace) const;
  KeyResult<void> sync_directory() const;
  std::string path_of(std::string_view file_name) const;

  std::filesystem::path directory_;
  uid_t owner_;
  UniqueFd directory_fd_;
};

}  // namespace liaison::keys
