#include "keys/key_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "keys/key_test_support.h"
#include "keys/public_key_formats.h"
#include "keys/software_provider.h"

namespace liaison::keys {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

namespace fs = std::filesystem;

constexpr uid_t kOtherUid = 4242;

KeyRecord make_record(std::string label) {
  SoftwareKeyProvider provider;
  auto key = provider.generate();
  return make_key_record(std::move(label), provider, **key);
}

struct stat stat_of(const fs::path& path) {
  struct stat status {};
  EXPECT_EQ(::lstat(path.c_str(), &status), 0) << path;
  return status;
}

bool running_as_root() { return ::geteuid() == 0; }

class KeyStoreTest : public ::testing::Test {
 protected:
  fs::path store_path() const { return temp_.path() / "keys" / "store"; }
  fs::path file_path(std::string_view label) const {
    return store_path() / fmt::format("{}.json", label);
  }

  KeyStore open_store() {
    auto store = KeyStore::open(store_path(), ::geteuid());
    if (!store) {
      throw std::runtime_error(store.error().message);
    }
    return std::move(*store);
  }

  KeyStore store_with(std::initializer_list<std::string> labels) {
    KeyStore store = open_store();
    for (const auto& label : labels) {
      auto created = store.create(make_record(label), false);
      if (!created) {
        throw std::runtime_error(created.error().message);
      }
    }
    return store;
  }

  static void expect_error(const KeyError& error, std::string_view code,
                           std::initializer_list<std::string_view> message_parts) {
    EXPECT_EQ(error.code, code) << error.message;
    for (auto part : message_parts) {
      EXPECT_NE(error.message.find(part), std::string::npos)
          << "\"" << error.message << "\" lacks \"" << part << "\"";
    }
  }

  TempDir temp_;
};

TEST_F(KeyStoreTest, CreateThenLoadGivesTheSameRecord) {
  KeyStore store = open_store();
  KeyRecord record = make_record("work");
  ASSERT_TRUE(store.create(record, false));
  auto loaded = store.load("work");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(*loaded, record);
  EXPECT_EQ(loaded->backend, "software");
  EXPECT_FALSE(loaded->hardware_backed);
}

TEST_F(KeyStoreTest, FilesAre0600AndTheDirectoryIs0700OwnedByTheOwner) {
  KeyStore store = store_with({"work"});
  struct stat directory = stat_of(store_path());
  EXPECT_EQ(directory.st_mode & 07777, 0700u);
  EXPECT_EQ(directory.st_uid, ::geteuid());
  struct stat file = stat_of(file_path("work"));
  EXPECT_TRUE(S_ISREG(file.st_mode));
  EXPECT_EQ(file.st_mode & 07777, 0600u);
  EXPECT_EQ(file.st_uid, ::geteuid());
}

TEST_F(KeyStoreTest, TheUmaskDoesNotDecideModes) {
  mode_t previous = ::umask(0);
  KeyStore store = store_with({"work"});
  ::umask(previous);
  EXPECT_EQ(stat_of(file_path("work")).st_mode & 07777, 0600u);
  EXPECT_EQ(stat_of(store_path()).st_mode & 07777, 0700u);
}

TEST_F(KeyStoreTest, TheFileIsTheDocumentedJson) {
  KeyStore store = open_store();
  KeyRecord record = make_record("work");
  ASSERT_TRUE(store.create(record, false));
  auto json = nlohmann::json::parse(read_file(file_path("work")));
  EXPECT_EQ(json["version"], 1);
  EXPECT_EQ(json["label"], "work");
  EXPECT_EQ(json["backend"], "software");
  EXPECT_EQ(json["hardware_backed"], false);
  EXPECT_EQ(json["created"], record.created);
  EXPECT_EQ(json["public_key_spki"], base64_encode(record.public_key_spki));
  EXPECT_EQ(json["wrapped_key"], base64_encode(record.wrapped_key));
  EXPECT_EQ(record.created.size(), std::string_view("2026-03-01T12:00:00Z").size());
}

TEST_F(KeyStoreTest, CreatingATakenLabelIsExistsUnlessReplacing) {
  KeyStore store = store_with({"work"});
  KeyRecord first = *store.load("work");
  KeyRecord second = make_record("work");
  auto again = store.create(second, false);
  ASSERT_FALSE(again);
  expect_error(again.error(), "exists", {"\"work\"", "already exists"});
  EXPECT_EQ(*store.load("work"), first);
  ASSERT_TRUE(store.create(second, true));
  EXPECT_EQ(*store.load("work"), second);
}

TEST_F(KeyStoreTest, MissingLabelsAreNotFound) {
  KeyStore store = store_with({"work"});
  expect_error(store.load("home").error(), "not_found", {"\"home\""});
  expect_error(store.remove("home").error(), "not_found", {"\"home\""});
  ASSERT_TRUE(store.remove("work"));
  expect_error(store.load("work").error(), "not_found", {"\"work\""});
  EXPECT_FALSE(fs::exists(file_path("work")));
}

TEST_F(KeyStoreTest, BadLabelsAreRefusedByEveryOperation) {
  KeyStore store = open_store();
  for (std::string_view label : {"", "../escape", ".hidden", "a/b", ".."}) {
    expect_error(store.create(make_record(std::string(label)), true).error(), "invalid_params", {});
    expect_error(store.load(label).error(), "invalid_params", {});
    expect_error(store.remove(label).error(), "invalid_params", {});
  }
  EXPECT_FALSE(fs::exists(temp_.path() / "keys" / "escape.json"));
}

TEST_F(KeyStoreTest, ListIsSortedAndReportsEveryFileItCannotUse) {
  KeyStore store = store_with({"charlie", "alpha", "bravo"});
  write_file(file_path("delta"), "{ not json");
  write_file(store_path() / "notes.txt", "hello");
  write_file(store_path() / "bad label.json", "{}");
  write_file(file_path("echo"), read_file(file_path("alpha")), 0644);
  auto listing = store.list();
  ASSERT_TRUE(listing) << listing.error().message;
  ASSERT_EQ(listing->records.size(), 3u);
  EXPECT_EQ(listing->records[0].label, "alpha");
  EXPECT_EQ(listing->records[1].label, "bravo");
  EXPECT_EQ(listing->records[2].label, "charlie");
  ASSERT_EQ(listing->problems.size(), 4u);
  EXPECT_EQ(listing->problems[0].file_name, "bad label.json");
  EXPECT_EQ(listing->problems[1].file_name, "delta.json");
  expect_error(listing->problems[1].error, "failed", {"corrupt", "delta.json"});
  EXPECT_EQ(listing->problems[2].file_name, "echo.json");
  expect_error(listing->problems[2].error, "not_permitted", {"0644"});
  EXPECT_EQ(listing->problems[3].file_name, "notes.txt");
  expect_error(listing->problems[3].error, "failed", {"not a key file"});
}

TEST_F(KeyStoreTest, AFileGroupOrOthersCanReachIsRefused) {
  KeyStore store = store_with({"work"});
  for (mode_t mode : {0644, 0640, 0604, 0602, 0620, 0610}) {
    ASSERT_EQ(::chmod(file_path("work").c_str(), mode), 0);
    auto loaded = store.load("work");
    ASSERT_FALSE(loaded) << fmt::format("{:o}", mode);
    expect_error(loaded.error(), "not_permitted",
                 {file_path("work").string(), fmt::format("mode {:04o}", mode), "want 0600"});
  }
  ASSERT_EQ(::chmod(file_path("work").c_str(), 0600), 0);
  EXPECT_TRUE(store.load("work"));
}

TEST_F(KeyStoreTest, ASymlinkPlantedAsTheKeyFileIsRefusedAndNeverWrittenThrough) {
  KeyStore store = open_store();
  // The planted link points at a perfectly valid record: following it would "work".
  fs::path elsewhere = temp_.path() / "elsewhere.json";
  KeyStore decoy = *KeyStore::open(temp_.path() / "decoy", ::geteuid());
  ASSERT_TRUE(decoy.create(make_record("work"), false));
  fs::copy_file(temp_.path() / "decoy" / "work.json", elsewhere);
  const std::string original = read_file(elsewhere);
  fs::create_symlink(elsewhere, file_path("work"));

  expect_error(store.load("work").error(), "not_permitted",
               {file_path("work").string(), "symbolic link"});
  auto listing = store.list();
  ASSERT_EQ(listing->problems.size(), 1u);
  EXPECT_EQ(listing->problems[0].error.code, "not_permitted");
  expect_error(store.create(make_record("work"), false).error(), "exists", {});

  ASSERT_TRUE(store.create(make_record("work"), true));
  EXPECT_EQ(read_file(elsewhere), original);
  EXPECT_TRUE(S_ISREG(stat_of(file_path("work")).st_mode));
  EXPECT_TRUE(store.load("work"));
}

TEST_F(KeyStoreTest, ASymlinkPlantedAsTheDirectoryIsRefused) {
  fs::path real = temp_.path() / "keys" / "real";
  ASSERT_TRUE(KeyStore::open(real, ::geteuid()));
  fs::create_symlink(real, store_path());
  auto store = KeyStore::open(store_path(), ::geteuid());
  ASSERT_FALSE(store);
  expect_error(store.error(), "not_permitted", {store_path().string(), "symbolic link"});
}

TEST_F(KeyStoreTest, AFilePlantedAsTheDirectoryIsRefused) {
  fs::create_directories(store_path().parent_path());
  write_file(store_path(), "not a directory");
  auto store = KeyStore::open(store_path(), ::geteuid());
  ASSERT_FALSE(store);
  expect_error(store.error(), "not_permitted", {"not a directory"});
}

TEST_F(KeyStoreTest, ADirectoryGroupOrOthersCanReachIsRefused) {
  open_store();
  ASSERT_EQ(::chmod(store_path().c_str(), 0755), 0);
  auto store = KeyStore::open(store_path(), ::geteuid());
  ASSERT_FALSE(store);
  expect_error(store.error(), "not_permitted", {store_path().string(), "mode 0755"});
}

TEST_F(KeyStoreTest, AParentOthersCanWriteInIsRefused) {
  open_store();
  ASSERT_EQ(::chmod(store_path().parent_path().c_str(), 0777), 0);
  auto store = KeyStore::open(store_path(), ::geteuid());
  ASSERT_FALSE(store);
  expect_error(store.error(), "not_permitted", {"parent", "write"});
}

TEST_F(KeyStoreTest, ARelativeOrRootDirectoryIsRefused) {
  for (const char* directory : {"keys/1000", "/", ""}) {
    auto store = KeyStore::open(directory, ::geteuid());
    ASSERT_FALSE(store) << directory;
    EXPECT_EQ(store.error().code, "invalid_params");
  }
}

TEST_F(KeyStoreTest, ATrailingSlashNamesTheSameDirectory) {
  KeyStore store = store_with({"work"});
  auto again = KeyStore::open(store_path().string() + "/", ::geteuid());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->directory(), store_path());
  EXPECT_TRUE(again->load("work"));
}

TEST_F(KeyStoreTest, AFileOwnedByAnotherUserIsRefused) {
  if (!running_as_root()) {
    GTEST_SKIP() << "chown to another uid needs root";
  }
  KeyStore store = store_with({"work"});
  ASSERT_EQ(::chown(file_path("work").c_str(), kOtherUid, static_cast<gid_t>(-1)), 0);
  expect_error(store.load("work").error(), "not_permitted",
               {file_path("work").string(), "owned by uid 4242", "expected uid 0"});
}

TEST_F(KeyStoreTest, ADirectoryOwnedByAnotherUserIsRefused) {
  if (!running_as_root()) {
    GTEST_SKIP() << "chown to another uid needs root";
  }
  open_store();
  ASSERT_EQ(::chown(store_path().c_str(), kOtherUid, static_cast<gid_t>(-1)), 0);
  auto store = KeyStore::open(store_path(), ::geteuid());
  ASSERT_FALSE(store);
  expect_error(store.error(), "not_permitted", {"owned by uid 4242"});
}

TEST_F(KeyStoreTest, TheDaemonKeepsAUsersKeysInADirectoryAndFilesTheUserOwns) {
  if (!running_as_root()) {
    GTEST_SKIP() << "writing for another uid needs root";
  }
  fs::path directory = daemon_key_directory(temp_.path(), kOtherUid);
  auto store = KeyStore::open(directory, kOtherUid);
  ASSERT_TRUE(store) << store.error().message;
  ASSERT_TRUE(store->create(make_record("work"), false));
  struct stat dir_status = stat_of(directory);
  EXPECT_EQ(dir_status.st_uid, kOtherUid);
  EXPECT_EQ(dir_status.st_mode & 07777, 0700u);
  struct stat file_status = stat_of(directory / "work.json");
  EXPECT_EQ(file_status.st_uid, kOtherUid);
  EXPECT_EQ(file_status.st_mode & 07777, 0600u);
  EXPECT_TRUE(store->load("work"));
  // The parent stays root's: users cannot rename each other's directories.
  EXPECT_EQ(stat_of(directory.parent_path()).st_uid, 0u);
  // A file root left behind for that user (owned by root) is not the user's.
  ASSERT_EQ(::chown((directory / "work.json").c_str(), 0, static_cast<gid_t>(-1)), 0);
  expect_error(store->load("work").error(), "not_permitted", {"owned by uid 0"});
}

TEST_F(KeyStoreTest, CorruptFilesAreClearErrors) {
  KeyStore store = store_with({"work"});
  auto json = nlohmann::json::parse(read_file(file_path("work")));
  const std::string full = read_file(file_path("work"));
  auto with = [&](const char* member, nlohmann::json value) {
    auto changed = json;
    changed[member] = std::move(value);
    return changed.dump();
  };
  auto without = [&](const char* member) {
    auto changed = json;
    changed.erase(member);
    return changed.dump();
  };
  const std::pair<std::string, std::string_view> cases[] = {
      {"", "not valid JSON"},
      {full.substr(0, full.size() / 2), "not valid JSON"},
      {"[1,2,3]", "not a JSON object"},
      {with("version", 2), "version 2 is not supported"},
      {without("version"), "\"version\""},
      {with("label", "home"), "holds label \"home\""},
      {without("backend"), "\"backend\""},
      {with("hardware_backed", "yes"), "\"hardware_backed\""},
      {with("created", 12), "\"created\""},
      {with("public_key_spki", "!!!"), "\"public_key_spki\""},
      {with("public_key_spki", "AAAA"), "not a P-256 public key"},
      {with("wrapped_key", ""), "\"wrapped_key\""},
      {without("wrapped_key"), "\"wrapped_key\" is missing"},
  };
  for (const auto& [contents, reason] : cases) {
    write_file(file_path("work"), contents);
    auto loaded = store.load("work");
    ASSERT_FALSE(loaded) << contents;
    expect_error(loaded.error(), "failed", {file_path("work").string(), "corrupt", reason});
  }
}

TEST_F(KeyStoreTest, AFifoPlantedAsTheKeyFileIsRefusedWithoutHanging) {
  KeyStore store = open_store();
  ASSERT_EQ(::mkfifo(file_path("work").c_str(), 0600), 0);
  expect_error(store.load("work").error(), "not_permitted", {"not a regular file"});
}

TEST_F(KeyStoreTest, AHugeFileIsNotReadIntoMemory) {
  KeyStore store = open_store();
  write_file(file_path("work"), std::string(2 << 20, ' '));
  expect_error(store.load("work").error(), "failed", {"too large"});
}

TEST_F(KeyStoreTest, LeftoverTemporaryFilesAreIgnoredAndCleanedAtOpen) {
  KeyStore store = store_with({"work"});
  fs::path leftover = store_path() / ".tmp-work.json.0123456789abcdef";
  write_file(leftover, "{ half a rec");
  auto listing = store.list();
  EXPECT_EQ(listing->records.size(), 1u);
  EXPECT_TRUE(listing->problems.empty());
  EXPECT_TRUE(store.load("work"));
  ASSERT_TRUE(KeyStore::open(store_path(), ::geteuid()));
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(fs::exists(file_path("work")));
}

TEST_F(KeyStoreTest, OpeningDoesNotRemoveTheTemporaryFileOfABusyWriter) {
  KeyStore store = open_store();
  fs::path in_progress = store_path() / ".tmp-work.json.fedcba9876543210";
  write_file(in_progress, "{ being writ");
  // What a writer holds while it writes.
  UniqueFd lock(::open(store_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(::flock(lock.get(), LOCK_EX), 0);
  ASSERT_TRUE(KeyStore::open(store_path(), ::geteuid()));
  EXPECT_TRUE(fs::exists(in_progress));
}

TEST_F(KeyStoreTest, AWriterWaitsForAnotherWritersLock) {
  KeyStore store = open_store();
  UniqueFd lock(::open(store_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_EQ(::flock(lock.get(), LOCK_EX), 0);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    EXPECT_TRUE(store.create(make_record("work"), false));
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(done.load());
  lock.reset();
  writer.join();
  EXPECT_TRUE(done.load());
  EXPECT_TRUE(store.load("work"));
}

TEST_F(KeyStoreTest, ConcurrentWritersNeitherLoseNorTearRecords) {
  KeyStore store = open_store();
  std::vector<std::thread> writers;
  writers.reserve(8);
  std::atomic<int> exists_errors{0};
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      for (int round = 0; round < 10; ++round) {
        EXPECT_TRUE(store.create(make_record(fmt::format("key-{}", i)), true));
        auto shared = store.create(make_record("shared"), false);
        if (!shared && shared.error().code == "exists") {
          ++exists_errors;
        }
      }
    });
  }
  for (auto& writer : writers) {
    writer.join();
  }
  auto listing = store.list();
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->records.size(), 9u);
  EXPECT_TRUE(listing->problems.empty());
  EXPECT_EQ(exists_errors.load(), 79);  // exactly one of the 80 attempts created "shared"
}

TEST(KeyStorePaths, DaemonAndAgentDirectories) {
  EXPECT_EQ(daemon_key_directory("/var/lib/liaison", 1000), "/var/lib/liaison/keys/1000");
  EXPECT_EQ(*agent_key_directory("/home/u/.data", "/home/u"), "/home/u/.data/liaison/keys");
  EXPECT_EQ(*agent_key_directory(nullptr, "/home/u"), "/home/u/.local/share/liaison/keys");
  EXPECT_EQ(*agent_key_directory("", "/home/u"), "/home/u/.local/share/liaison/keys");
  EXPECT_EQ(*agent_key_directory("relative", "/home/u"), "/home/u/.local/share/liaison/keys");
  EXPECT_EQ(agent_key_directory(nullptr, nullptr).error().code, "unavailable");
}

TEST(KeyStoreTime, Iso8601InUtc) {
  EXPECT_EQ(iso8601_utc(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso8601_utc(std::chrono::system_clock::time_point{std::chrono::seconds(1772366400)}),
            "2026-03-01T12:00:00Z");
}

}  // namespace
}  // namespace liaison::keys
