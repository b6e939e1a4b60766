#include "keys/key_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>

#include "common/portable_calls.h"
#include "keys/label.h"
#include "keys/openssl_util.h"
#include "keys/public_key_formats.h"

namespace liaison::keys {
namespace {

using Json = nlohmann::json;

constexpr int kRecordVersion = 1;
constexpr std::string_view kKeyFileSuffix = ".json";
// Temporary files start with '.', which no label may, so they can never be taken for a key.
constexpr std::string_view kTemporaryPrefix = ".tmp-";
// A record is well under a kilobyte; a huge file is not one of ours and is not read into memory.
constexpr off_t kMaxKeyFileSize = 1 << 20;
constexpr mode_t kGroupOrOtherBits = S_IRWXG | S_IRWXO;
constexpr std::chrono::milliseconds kWriterPatience{5000};

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

std::unexpected<KeyError> fail(std::string_view code, std::string message) {
  return std::unexpected(KeyError{std::string(code), std::move(message)});
}

std::unexpected<KeyError> system_failure(std::string_view what, int error_number = errno) {
  return fail("failed", fmt::format("{}: {}", what, errno_text(error_number)));
}

std::string file_name_for(std::string_view label) {
  return fmt::format("{}{}", label, kKeyFileSuffix);
}

KeyResult<void> check_label_for_store(std::string_view label) {
  auto valid = check_label(label);
  if (!valid) {
    return fail("invalid_params", valid.error());
  }
  return {};
}

// Why `status` breaks the owner-only rule (owned by `owner`, nothing for group or others), or
// nothing if it keeps it.
std::optional<std::string> ownership_problem(const struct stat& status, uid_t owner,
                                             mode_t wanted_mode) {
  if (status.st_uid != owner) {
    return fmt::format("owned by uid {}, expected uid {}", status.st_uid, owner);
  }
  if ((status.st_mode & kGroupOrOtherBits) != 0) {
    return fmt::format("mode {:04o} gives group or others access (want {:04o})",
                       status.st_mode & 07777, wanted_mode);
  }
  return std::nullopt;
}

KeyResult<std::string> random_suffix() {
  std::array<uint8_t, 8> bytes{};
  if (!fill_random(bytes)) {
    return system_failure("random bytes for a temporary key file name");
  }
  uint64_t value = 0;
  for (uint8_t byte : bytes) {
    value = (value << 8) | byte;
  }
  return fmt::format("{:016x}", value);
}

KeyResult<void> write_all(int fd, std::string_view data, std::string_view path) {
  while (!data.empty()) {
    ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written < 0) {
      return system_failure(fmt::format("write {}", path));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

// Unlinks a temporary file unless it was moved into place: no failure path leaves one behind.
class TemporaryFileGuard {
 public:
  TemporaryFileGuard(int directory_fd, std::string name)
      : directory_fd_(directory_fd), name_(std::move(name)) {}
  TemporaryFileGuard(const TemporaryFileGuard&) = delete;
  TemporaryFileGuard& operator=(const TemporaryFileGuard&) = delete;
  ~TemporaryFileGuard() {
    if (armed_) {
      ::unlinkat(directory_fd_, name_.c_str(), 0);
    }
  }
  void disarm() { armed_ = false; }

 private:
  int directory_fd_;
  std::string name_;
  bool armed_ = true;
};

std::string serialize(const KeyRecord& record) {
  Json json = {{"version", kRecordVersion},
               {"label", record.label},
               {"backend", record.backend},
               {"hardware_backed", record.hardware_backed},
               {"created", record.created},
               {"public_key_spki", base64_encode(record.public_key_spki)},
               {"wrapped_key", base64_encode(record.wrapped_key)}};
  return json.dump(2) + "\n";
}

std::expected<std::string, std::string> string_member(const Json& json, const char* name) {
  auto member = json.find(name);
  if (member == json.end()) {
    return std::unexpected(fmt::format("\"{}\" is missing", name));
  }
  if (!member->is_string()) {
    return std::unexpected(fmt::format("\"{}\" is not a string", name));
  }
  return member->get<std::string>();
}

std::expected<Bytes, std::string> base64_member(const Json& json, const char* name) {
  auto text = string_member(json, name);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto bytes = base64_decode(*text);
  if (!bytes || bytes->empty()) {
    return std::unexpected(fmt::format("\"{}\" is not non-empty base64", name));
  }
  return *bytes;
}

std::expected<void, std::string> check_version(const Json& json) {
  auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer()) {
    return std::unexpected("\"version\" is missing or not an integer");
  }
  if (version->get<int64_t>() != kRecordVersion) {
    return std::unexpected(fmt::format("version {} is not supported (this liaison reads {})",
                                       version->dump(), kRecordVersion));
  }
  return {};
}

std::expected<KeyRecord, std::string> parse_record_json(const Json& json,
                                                        std::string_view expected_label) {
  if (!json.is_object()) {
    return std::unexpected("not a JSON object");
  }
  if (auto version = check_version(json); !version) {
    return std::unexpected(version.error());
  }
  KeyRecord record;
  auto label = string_member(json, "label");
  if (!label) {
    return std::unexpected(label.error());
  }
  if (*label != expected_label) {
    return std::unexpected(
        fmt::format("it holds label \"{}\", not \"{}\"", *label, expected_label));
  }
  record.label = std::move(*label);
  auto backend = string_member(json, "backend");
  if (!backend || backend->empty()) {
    return std::unexpected("\"backend\" is missing or empty");
  }
  record.backend = std::move(*backend);
  auto hardware_backed = json.find("hardware_backed");
  if (hardware_backed == json.end() || !hardware_backed->is_boolean()) {
    return std::unexpected("\"hardware_backed\" is missing or not true/false");
  }
  record.hardware_backed = hardware_backed->get<bool>();
  auto created = string_member(json, "created");
  if (!created) {
    return std::unexpected(created.error());
  }
  record.created = std::move(*created);
  auto spki = base64_member(json, "public_key_spki");
  if (!spki) {
    return std::unexpected(spki.error());
  }
  if (auto key = parse_p256_spki(*spki); !key) {
    return std::unexpected("\"public_key_spki\" is not a P-256 public key");
  }
  record.public_key_spki = std::move(*spki);
  auto wrapped = base64_member(json, "wrapped_key");
  if (!wrapped) {
    return std::unexpected(wrapped.error());
  }
  record.wrapped_key = std::move(*wrapped);
  return record;
}

KeyResult<void> ensure_directory_chain(const std::filesystem::path& directory) {
  std::filesystem::path prefix;
  for (const auto& component : directory) {
    prefix /= component;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return system_failure(fmt::format("create directory {}", prefix.string()));
    }
  }
  return {};
}

// The parent of a store is trusted to name the store: nobody but root or us may rename in it.
KeyResult<UniqueFd> open_trusted_parent(const std::filesystem::path& parent) {
  if (auto made = ensure_directory_chain(parent); !made) {
    return std::unexpected(made.error());
  }
  UniqueFd fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return system_failure(fmt::format("open key directory parent {}", parent.string()));
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) {
    return system_failure(fmt::format("stat {}", parent.string()));
  }
  if (status.st_uid != 0 && status.st_uid != ::geteuid()) {
    return fail("not_permitted",
                fmt::format("refusing key directory parent {}: owned by uid {}, not by root or us",
                            parent.string(), status.st_uid));
  }
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return fail("not_permitted",
                fmt::format("refusing key directory parent {}: mode {:04o} lets group or others "
                            "write in it",
                            parent.string(), status.st_mode & 07777));
  }
  return fd;
}

KeyError refused_store_directory(const std::filesystem::path& directory, std::string_view why) {
  return KeyError{"not_permitted",
                  fmt::format("refusing key directory {}: {}", directory.string(), why)};
}

KeyResult<UniqueFd> open_store_directory(int parent_fd, const std::filesystem::path& directory) {
  const std::string leaf = directory.filename().string();
  UniqueFd fd(::openat(parent_fd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd) {
    return fd;
  }
  int error_number = errno;
  struct stat status {};
  if (::fstatat(parent_fd, leaf.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(status.st_mode)) {
      return std::unexpected(refused_store_directory(directory, "it is a symbolic link"));
    }
    if (!S_ISDIR(status.st_mode)) {
      return std::unexpected(refused_store_directory(directory, "it is not a directory"));
    }
  }
  return system_failure(fmt::format("open key directory {}", directory.string()), error_number);
}

// mkdirat + fchown relative to the checked parent: no path is resolved twice, so nothing can be
// swapped in between the check and the use.
KeyResult<UniqueFd> make_or_open_store_directory(int parent_fd,
                                                 const std::filesystem::path& directory,
                                                 uid_t owner) {
  const std::string leaf = directory.filename().string();
  bool made = ::mkdirat(parent_fd, leaf.c_str(), 0700) == 0;
  if (!made && errno != EEXIST) {
    return system_failure(fmt::format("create key directory {}", directory.string()));
  }
  auto fd = open_store_directory(parent_fd, directory);
  if (!fd) {
    return fd;
  }
  if (made &&
      (::fchown(fd->get(), owner, static_cast<gid_t>(-1)) != 0 || ::fchmod(fd->get(), 0700) != 0)) {
    return system_failure(
        fmt::format("give key directory {} to uid {}", directory.string(), owner));
  }
  struct stat status {};
  if (::fstat(fd->get(), &status) != 0) {
    return system_failure(fmt::format("stat {}", directory.string()));
  }
  if (auto problem = ownership_problem(status, owner, 0700)) {
    return std::unexpected(refused_store_directory(directory, *problem));
  }
  return fd;
}

bool is_temporary_file_name(std::string_view name) { return name.starts_with(kTemporaryPrefix); }

// "work.json" -> "work"; nothing for a name that is not <valid label>.json.
std::optional<std::string_view> label_of_file_name(std::string_view name) {
  if (!name.ends_with(kKeyFileSuffix)) {
    return std::nullopt;
  }
  std::string_view label = name.substr(0, name.size() - kKeyFileSuffix.size());
  if (!check_label(label)) {
    return std::nullopt;
  }
  return label;
}

using DirectoryPtr = std::unique_ptr<DIR, decltype([](DIR* stream) { ::closedir(stream); })>;

// Names in the directory, read through a fresh descriptor so concurrent listings don't share an
// offset.
KeyResult<std::vector<std::string>> directory_entries(int directory_fd,
                                                      const std::filesystem::path& directory) {
  int fd = ::openat(directory_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return system_failure(fmt::format("open key directory {}", directory.string()));
  }
  DirectoryPtr stream(::fdopendir(fd));
  if (!stream) {
    int error_number = errno;
    ::close(fd);
    return system_failure(fmt::format("read key directory {}", directory.string()), error_number);
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(stream.get())) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  if (errno != 0) {
    return system_failure(fmt::format("read key directory {}", directory.string()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::string iso8601_utc(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

KeyRecord make_key_record(std::string label, const UnexportableKeyProvider& provider,
                          const UnexportableSigningKey& key) {
  return KeyRecord{std::move(label),      provider.name(),
                   key.hardware_backed(), iso8601_utc(std::chrono::system_clock::now()),
                   key.public_key_spki(), key.wrapped_key()};
}

KeyResult<KeyStore> KeyStore::open(const std::filesystem::path& directory, uid_t owner) {
  std::filesystem::path normal = directory.lexically_normal();
  if (!normal.has_filename()) {
    normal = normal.parent_path();  // "/a/b/" names "/a/b"
  }
  if (!normal.is_absolute() || normal == normal.root_path() || normal.filename() == "..") {
    return fail(
        "invalid_params",
        fmt::format("key directory {} is not an absolute path to a directory", directory.string()));
  }
  auto parent = open_trusted_parent(normal.parent_path());
  if (!parent) {
    return std::unexpected(parent.error());
  }
  auto fd = make_or_open_store_directory(parent->get(), normal, owner);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  KeyStore store(normal, owner, std::move(*fd));
  store.remove_leftover_temporary_files();
  return store;
}

std::string KeyStore::path_of(std::string_view file_name) const {
  return (directory_ / file_name).string();
}

KeyResult<UniqueFd> KeyStore::lock_exclusively(std::chrono::milliseconds patience) const {
  // A descriptor of its own: flock locks belong to the open file description, so two threads
  // sharing directory_fd_ would not exclude each other.
  UniqueFd lock(::openat(directory_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock) {
    return system_failure(fmt::format("open key directory {}", directory_.string()));
  }
  // Polled, not blocking: the directory's owner can hold the lock forever, and must not be able
  // to hang a daemon thread that way.
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return system_failure(fmt::format("lock key directory {}", directory_.string()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail("timeout", fmt::format("key directory {} stayed locked by another writer",
                                         directory_.string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return lock;
}

void KeyStore::remove_leftover_temporary_files() const {
  // Only when no writer is busy: a busy writer's temporary file is not a leftover.
  auto lock = lock_exclusively(std::chrono::milliseconds(0));
  if (!lock) {
    return;
  }
  auto names = directory_entries(directory_fd_.get(), directory_);
  if (!names) {
    return;
  }
  for (const auto& name : *names) {
    if (is_temporary_file_name(name)) {
      ::unlinkat(directory_fd_.get(), name.c_str(), 0);
    }
  }
}

KeyResult<std::string> KeyStore::read_key_file(const std::string& file_name) const {
  const std::string path = path_of(file_name);
  // O_NONBLOCK: a FIFO planted under the name must not hang us; it is refused below.
  UniqueFd fd(::openat(directory_fd_.get(), file_name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd && errno == ENOENT) {
    return fail("not_found", fmt::format("no key file {}", path));
  }
  if (!fd && errno == ELOOP) {
    return fail("not_permitted", fmt::format("refusing key file {}: it is a symbolic link", path));
  }
  if (!fd) {
    return system_failure(fmt::format("open key file {}", path));
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) {
    return system_failure(fmt::format("stat {}", path));
  }
  if (!S_ISREG(status.st_mode)) {
    return fail("not_permitted", fmt::format("refusing key file {}: not a regular file", path));
  }
  if (auto problem = ownership_problem(status, owner_, 0600)) {
    return fail("not_permitted", fmt::format("refusing key file {}: {}", path, *problem));
  }
  if (status.st_size > kMaxKeyFileSize) {
    return fail("failed", fmt::format("key file {} is corrupt: {} bytes is far too large", path,
                                      status.st_size));
  }
  std::string contents(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t filled = 0;
  while (filled < contents.size()) {
    ssize_t got = ::read(fd.get(), contents.data() + filled, contents.size() - filled);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return system_failure(fmt::format("read key file {}", path));
    }
    if (got == 0) {
      break;
    }
    filled += static_cast<std::size_t>(got);
  }
  contents.resize(filled);
  return contents;
}

std::expected<KeyRecord, std::string> parse_key_record(std::string_view contents,
                                                       std::string_view expected_label) {
  Json json = Json::parse(contents, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return std::unexpected("not valid JSON");
  }
  return parse_record_json(json, expected_label);
}

KeyResult<KeyRecord> KeyStore::load(std::string_view label) const {
  if (auto valid = check_label_for_store(label); !valid) {
    return std::unexpected(valid.error());
  }
  const std::string file_name = file_name_for(label);
  auto contents = read_key_file(file_name);
  if (!contents && contents.error().code == "not_found") {
    return fail("not_found",
                fmt::format("no key labeled \"{}\" in {}", label, directory_.string()));
  }
  if (!contents) {
    return std::unexpected(contents.error());
  }
  auto record = parse_key_record(*contents, label);
  if (!record) {
    return fail("failed",
                fmt::format("key file {} is corrupt: {}", path_of(file_name), record.error()));
  }
  return *record;
}

KeyResult<KeyStore::FileStamp> KeyStore::stamp(std::string_view label) const {
  if (auto valid = check_label_for_store(label); !valid) {
    return std::unexpected(valid.error());
  }
  struct stat status {};
  if (::fstatat(directory_fd_.get(), file_name_for(label).c_str(), &status, AT_SYMLINK_NOFOLLOW) !=
      0) {
    return fail(errno == ENOENT ? "not_found" : "failed",
                fmt::format("no key labeled \"{}\" in {}", label, directory_.string()));
  }
  // ctime changes on every write, rename, chown and chmod of the file.
  return FileStamp{status.st_ino, status.st_size, change_time_ns(status), status.st_uid,
                   status.st_mode};
}

KeyResult<KeyListing> KeyStore::list() const {
  auto names = directory_entries(directory_fd_.get(), directory_);
  if (!names) {
    return std::unexpected(names.error());
  }
  KeyListing listing;
  for (const auto& name : *names) {
    if (is_temporary_file_name(name)) {
      continue;
    }
    auto label = label_of_file_name(name);
    if (!label) {
      listing.problems.push_back(
          {name, KeyError{"failed", fmt::format("{} is not a key file (those are <label>.json)",
                                                path_of(name))}});
      continue;
    }
    auto record = load(*label);
    if (record) {
      listing.records.push_back(std::move(*record));
    } else {
      listing.problems.push_back({name, record.error()});
    }
  }
  return listing;
}

KeyResult<void> KeyStore::write_temporary_file(const std::string& temporary_name,
                                               const std::string& contents) const {
  const std::string path = path_of(temporary_name);
  UniqueFd fd(::openat(directory_fd_.get(), temporary_name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) {
    return system_failure(fmt::format("create {}", path));
  }
  // fchmod: the umask must not decide the mode. fchown: the daemon writes as root for a user.
  if (::fchmod(fd.get(), 0600) != 0) {
    return system_failure(fmt::format("chmod {}", path));
  }
  if (::geteuid() != owner_ && ::fchown(fd.get(), owner_, static_cast<gid_t>(-1)) != 0) {
    return system_failure(fmt::format("give {} to uid {}", path, owner_));
  }
  if (auto written = write_all(fd.get(), contents, path); !written) {
    return written;
  }
  if (::fsync(fd.get()) != 0) {
    return system_failure(fmt::format("fsync {}", path));
  }
  return {};
}

KeyResult<void> KeyStore::move_into_place(const std::string& temporary_name, std::string_view label,
                                          bool replace) const {
  const int dir = directory_fd_.get();
  const std::string file_name = file_name_for(label);
  const char* from = temporary_name.c_str();
  const char* to = file_name.c_str();
  if (replace) {
    if (::renameat(dir, from, dir, to) != 0) {
      return system_failure(fmt::format("rename into {}", path_of(file_name)));
    }
    return {};
  }
  // Atomic "create unless it exists", even against a writer that does not take our lock.
  int renamed = rename_no_replace(dir, from, to);
  if (renamed != 0 && errno == EINVAL) {
    // A filesystem without RENAME_NOREPLACE: link(2) refuses an existing name just as well.
    renamed = ::linkat(dir, from, dir, to, 0);
    if (renamed == 0) {
      ::unlinkat(dir, from, 0);
    }
  }
  if (renamed != 0 && errno == EEXIST) {
    return fail("exists", fmt::format("a key labeled \"{}\" already exists in {}", label,
                                      directory_.string()));
  }
  if (renamed != 0) {
    return system_failure(fmt::format("rename into {}", path_of(file_name)));
  }
  return {};
}

KeyResult<void> KeyStore::sync_directory() const {
  if (::fsync(directory_fd_.get()) != 0) {
    return system_failure(fmt::format("fsync key directory {}", directory_.string()));
  }
  return {};
}

KeyResult<void> KeyStore::create(const KeyRecord& record, bool replace) {
  if (auto valid = check_label_for_store(record.label); !valid) {
    return valid;
  }
  if (record.backend.empty() || record.public_key_spki.empty() || record.wrapped_key.empty()) {
    return fail("invalid_params", "a key record needs a backend, a public key and a wrapped key");
  }
  auto lock = lock_exclusively(kWriterPatience);
  if (!lock) {
    return std::unexpected(lock.error());
  }
  auto suffix = random_suffix();
  if (!suffix) {
    return std::unexpected(suffix.error());
  }
  const std::string temporary_name =
      fmt::format("{}{}.{}", kTemporaryPrefix, file_name_for(record.label), *suffix);
  TemporaryFileGuard guard(directory_fd_.get(), temporary_name);
  if (auto written = write_temporary_file(temporary_name, serialize(record)); !written) {
    return written;
  }
  if (auto moved = move_into_place(temporary_name, record.label, replace); !moved) {
    return moved;
  }
  guard.disarm();
  return sync_directory();
}

KeyResult<void> KeyStore::remove(std::string_view label) {
  if (auto valid = check_label_for_store(label); !valid) {
    return valid;
  }
  auto lock = lock_exclusively(kWriterPatience);
  if (!lock) {
    return std::unexpected(lock.error());
  }
  const std::string file_name = file_name_for(label);
  if (::unlinkat(directory_fd_.get(), file_name.c_str(), 0) != 0) {
    if (errno == ENOENT) {
      return fail("not_found",
                  fmt::format("no key labeled \"{}\" in {}", label, directory_.string()));
    }
    return system_failure(fmt::format("remove key file {}", path_of(file_name)));
  }
  return sync_directory();
}

}  // namespace liaison::keys
