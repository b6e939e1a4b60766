// ReplacedFileWatch on a directory of the test's own, written the way logind writes its session
// records (a temporary renamed over the record), and LogindSessionWatch's own checks.
#include "platform/linux/replaced_file_watch.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "platform/linux/logind_session_watch.h"

namespace liaison::platform {
namespace {

namespace fs = std::filesystem;

class ReplacedFileWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/liaison-watch-XXXXXX";
    ASSERT_NE(::mkdtemp(path), nullptr);
    directory_ = path;
    replace("1", "STATE=active\n");
  }
  void TearDown() override { fs::remove_all(directory_); }

  // As logind's session_save(): a temporary in the same directory, renamed over the record.
  void replace(const std::string& name, const std::string& content) {
    const fs::path temporary = directory_ / ("." + name + ".tmp");
    std::ofstream(temporary) << content;
    fs::rename(temporary, directory_ / name);
  }

  // Whether the watch's fd is readable now. inotify queues an event before the call that caused
  // it returns, so no waiting is needed to see one.
  static bool readable(const ReplacedFileWatch& watch) {
    pollfd ready{.fd = watch.fd(), .events = POLLIN, .revents = 0};
    return ::poll(&ready, 1, 0) == 1;
  }

  fs::path directory_;
};

TEST_F(ReplacedFileWatchTest, WakesWhenItsFileIsReplacedAndFollowsTheNewOne) {
  auto watch = ReplacedFileWatch::create(directory_ / "1");
  ASSERT_TRUE(watch.has_value()) << watch.error();
  EXPECT_TRUE(watch->exists());
  EXPECT_FALSE(readable(*watch));

  replace("1", "STATE=online\n");
  EXPECT_TRUE(readable(*watch));
  watch->rearm();
  EXPECT_FALSE(readable(*watch)) << "the events were taken";
  EXPECT_TRUE(watch->exists());

  replace("1", "STATE=closing\n");  // the new file is the one watched now
  EXPECT_TRUE(readable(*watch));
}

TEST_F(ReplacedFileWatchTest, OtherFilesInTheDirectoryNeverWakeIt) {
  auto watch = ReplacedFileWatch::create(directory_ / "1");
  ASSERT_TRUE(watch.has_value()) << watch.error();
  // Other sessions logging in, changing and out: what woke every agent through sd_login_monitor.
  for (int round = 0; round < 20; ++round) {
    const std::string other = std::to_string(100 + round);
    replace(other, "STATE=active\n");
    replace(other, "STATE=closing\n");
    fs::remove(directory_ / other);
  }
  EXPECT_FALSE(readable(*watch));
}

TEST_F(ReplacedFileWatchTest, WakesWhenItsFileIsWrittenInPlaceOrRemoved) {
  auto watch = ReplacedFileWatch::create(directory_ / "1");
  ASSERT_TRUE(watch.has_value()) << watch.error();
  std::ofstream(directory_ / "1", std::ios::app) << "ACTIVE=1\n";
  EXPECT_TRUE(readable(*watch));
  watch->rearm();

  fs::remove(directory_ / "1");
  EXPECT_TRUE(readable(*watch));
  watch->rearm();
  EXPECT_FALSE(watch->exists());
}

TEST_F(ReplacedFileWatchTest, AFileThatIsNotThereYetIsNotAnError) {
  auto watch = ReplacedFileWatch::create(directory_ / "2");
  ASSERT_TRUE(watch.has_value()) << watch.error();
  EXPECT_FALSE(watch->exists());
}

TEST_F(ReplacedFileWatchTest, ASessionWhoseRecordIsGoneHasEnded) {
  auto session = LogindSessionWatch::create("7", directory_);
  ASSERT_TRUE(session.has_value()) << session.error();
  EXPECT_TRUE((*session)->session_ended());
}

TEST_F(ReplacedFileWatchTest, SessionIdsThatNameOtherFilesAreRefused) {
  for (const char* id : {"", "../1", "1/..", ".", "1 2"}) {
    auto session = LogindSessionWatch::create(id, directory_);
    EXPECT_FALSE(session.has_value()) << "\"" << id << "\"";
  }
}

}  // namespace
}  // namespace liaison::platform
