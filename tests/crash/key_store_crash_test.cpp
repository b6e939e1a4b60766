// SIGKILLs a process that keeps replacing a key, at random moments, and checks after every kill
// that the label holds either the record it held before or a complete newer one: never a torn
// file, never an older record, never a stray file under a key's name.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "common/portable_calls.h"
#include "common/unique_fd.h"
#include "keys/key_store.h"
#include "keys/key_test_support.h"
#include "keys/software_provider.h"

namespace liaison::keys {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kKills = 250;
// On a loaded machine (fsync slowed down by parallel builds and tests) stop after the minimum the
// issue asks for rather than run long.
constexpr int kMinimumKills = 200;
constexpr auto kTimeBudget = std::chrono::seconds(15);
// Where few kills land mid-write (a fast disk: in a fresh container 3 of 250 did), go on killing
// until this many have, up to kMaxKills or kCoverageBudget: the test proves nothing without them.
constexpr int kMinimumKillsMidWrite = 10;
constexpr int kMaxKills = 2500;
constexpr auto kCoverageBudget = std::chrono::seconds(60);
constexpr std::string_view kLabel = "crash";

// The child, its stdout, and what it has said so far.
class Child {
 public:
  explicit Child(const fs::path& directory) {
    int fds[2];
    if (liaison::open_pipe(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
#if defined(__linux__)
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
#endif
      // Elsewhere (macOS has no parent-death signal) the child's next report to a gone test
      // meets a closed pipe: SIGPIPE ends it.
      ::dup2(fds[1], STDOUT_FILENO);
      ::execl(KEY_STORE_CRASH_CHILD, KEY_STORE_CRASH_CHILD, directory.c_str(),
              std::string(kLabel).c_str(), nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    output_.reset(fds[0]);
  }

  // Waits until the child said "ready"; false if it ended or took more than five seconds.
  bool wait_until_ready() {
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (text_.find("ready\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd readable{output_.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) {
        return false;
      }
      if (!read_some()) return false;
    }
    return true;
  }

  // SIGKILL, reap, and read what it printed before dying. Returns the wait status.
  int kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    while (read_some()) {
    }
    return status;
  }

  // The SPKI digests of the records the child finished writing, in order.
  std::vector<std::string> written() const {
    std::vector<std::string> digests;
    std::istringstream lines(text_);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("wrote ")) digests.push_back(line.substr(6));
    }
    return digests;
  }

 private:
  bool read_some() {
    char buffer[4096];
    ssize_t got = ::read(output_.get(), buffer, sizeof(buffer));
    if (got <= 0) return false;
    text_.append(buffer, static_cast<std::size_t>(got));
    return true;
  }

  pid_t pid_ = -1;
  UniqueFd output_;
  std::string text_;
};

std::string hex_digest_of(const Bytes& spki) {
  std::string text;
  for (uint8_t byte : sha256(spki)) text += fmt::format("{:02x}", byte);
  return text;
}

bool has_temporary_file(const fs::path& directory) {
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().filename().string().starts_with(".tmp-")) return true;
  }
  return false;
}

// Everything that must hold after a kill; returns the SPKI digest the label now holds, or "" if
// the label was never written.
std::string check_survivor(const fs::path& directory) {
  auto store = KeyStore::open(directory, ::geteuid());
  EXPECT_TRUE(store) << store.error().message;
  if (!store) return "";
  auto listing = store->list();
  EXPECT_TRUE(listing) << listing.error().message;
  for (const auto& problem : listing->problems) {
    ADD_FAILURE() << problem.file_name << ": " << problem.error.message;
  }
  if (listing->records.empty()) {
    EXPECT_FALSE(fs::exists(directory / "crash.json"));
    return "";
  }
  EXPECT_EQ(listing->records.size(), 1u);
  const KeyRecord& record = listing->records.front();
  EXPECT_EQ(record.label, kLabel);
  SoftwareKeyProvider provider;
  auto key = provider.from_wrapped(record.wrapped_key);
  EXPECT_TRUE(key) << key.error().message;
  if (!key) return "";
  EXPECT_EQ((*key)->public_key_spki(), record.public_key_spki)
      << "the stored public key is not the stored key's";
  auto signature = (*key)->sign_digest(sha256(testing::bytes_of("after the crash")));
  EXPECT_TRUE(signature &&
              testing::signature_verifies(record.public_key_spki,
                                          testing::bytes_of("after the crash"), *signature));
  return hex_digest_of(record.public_key_spki);
}

// How long to let the child run before a kill: random, over about three of its write cycles, so
// kills land at every point of a cycle however slow fsync is on this machine right now.
class KillTiming {
 public:
  explicit KillTiming(uint32_t seed) : random_(seed) {}

  std::chrono::microseconds next_delay() {
    auto window = std::clamp(3 * cycle_estimate(), std::chrono::microseconds(2000),
                             std::chrono::microseconds(40000));
    return std::chrono::microseconds(
        std::uniform_int_distribution<int64_t>(0, window.count())(random_));
  }
  bool next_kill_is_early() { return std::uniform_int_distribution<int>(0, 9)(random_) == 0; }

  void observe(std::chrono::microseconds ran_for, int cycles_completed) {
    ran_for_ += ran_for;
    cycles_ += cycles_completed;
  }

 private:
  std::chrono::microseconds cycle_estimate() const {
    if (cycles_ == 0) return std::chrono::microseconds(10000);
    return ran_for_ / cycles_;
  }

  std::mt19937 random_;
  std::chrono::microseconds ran_for_{0};
  int cycles_ = 0;
};

TEST(KeyStoreCrash, EveryKillLeavesTheOldRecordOrACompleteNewOne) {
  testing::TempDir temp;
  const fs::path directory = temp.path() / "keys";
  const auto seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  KillTiming timing(seed);

  std::set<std::string> seen;  // every record the label ever held or was reported to hold
  std::string held;            // what the label held after the previous kill
  int kills_mid_write = 0;
  int records_written = 0;
  const auto started = Clock::now();
  int kill = 0;  // also how many kills were done, after the loop
  for (; kill < kMaxKills; ++kill) {
    const auto ran = Clock::now() - started;
    const bool covered = kills_mid_write >= kMinimumKillsMidWrite;
    if (covered && (kill >= kKills || (kill >= kMinimumKills && ran > kTimeBudget))) break;
    if (!covered && kill >= kMinimumKills && ran > kCoverageBudget) break;
    Child child(directory);
    // Most kills land in the replace loop; some during start-up (open, leftover cleanup).
    bool early = timing.next_kill_is_early();
    if (!early) {
      ASSERT_TRUE(child.wait_until_ready()) << "kill " << kill;
    }
    auto delay = timing.next_delay();
    std::this_thread::sleep_for(early ? delay / 4 : delay);
    int status = child.kill_and_reap();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "kill " << kill << ": the child ended by itself with status " << status;

    if (fs::exists(directory) && has_temporary_file(directory)) ++kills_mid_write;
    std::vector<std::string> written = child.written();
    records_written += static_cast<int>(written.size());
    if (!early) timing.observe(delay, static_cast<int>(written.size()));
    // The newest record known to be complete: the child's last report, or the previous holder.
    std::string expected_at_least = written.empty() ? held : written.back();
    seen.insert(written.begin(), written.end());

    std::string now_held = check_survivor(directory);
    ASSERT_FALSE(::testing::Test::HasFailure()) << "after kill " << kill;
    bool is_newest_complete = now_held == expected_at_least;
    bool is_newer_unreported = !now_held.empty() && !seen.contains(now_held);
    ASSERT_TRUE(is_newest_complete || is_newer_unreported)
        << "after kill " << kill << " the label holds an older record (or lost it)";
    seen.insert(now_held);
    held = now_held;
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  std::cout << kill << " kills in " << elapsed.count() << " ms; " << records_written
            << " records completed; " << kills_mid_write
            << " kills left a temporary file (died mid-write)\n";
  // Not the property under test, but without them the test would pass without testing much.
  EXPECT_GE(kill, kMinimumKills);
  EXPECT_GE(records_written, kill / 4) << "the child rarely finished a write";
  EXPECT_GE(kills_mid_write, kMinimumKillsMidWrite) << "few kills landed mid-write";
}

}  // namespace
}  // namespace liaison::keys
