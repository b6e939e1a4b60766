#include "daemon/adoption_records.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace liaison::daemon {
namespace {

namespace fs = std::filesystem;

class AdoptionRecordsTest : public testing::Test {
 protected:
  AdoptionRecordsTest() {
    root_ =
        fs::temp_directory_path() / fmt::format("liaison-records-{}-{}", ::getpid(), counter_++);
    fs::create_directories(root_);
  }
  ~AdoptionRecordsTest() override { fs::remove_all(root_); }

  static AdoptionRecord record(std::string id) {
    return {.agent_id = std::move(id),
            .strategy = "exec",
            .uid = 1001,
            .pid = 4242,
            .start_time = 123456,
            .token_digests = {std::string(64, 'a'), std::string(64, 'b')}};
  }

  static inline int counter_ = 0;
  fs::path root_;
};

TEST_F(AdoptionRecordsTest, SavedRecordsLoadBackAndRemoveCleanly) {
  AdoptionRecords records((root_ / "agents").string());
  ASSERT_TRUE(records.save(record("3")).has_value());
  ASSERT_TRUE(records.save(record("c7")).has_value());
  EXPECT_EQ(records.load_all(), (std::vector<AdoptionRecord>{record("3"), record("c7")}));
  EXPECT_EQ(fs::status(root_ / "agents").permissions(), fs::perms::owner_all);
  EXPECT_EQ(fs::status(root_ / "agents/3.json").permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  records.remove("3");
  EXPECT_EQ(records.load_all(), std::vector<AdoptionRecord>{record("c7")});
}

TEST_F(AdoptionRecordsTest, ASavedRecordReplacesTheOldOne) {
  AdoptionRecords records((root_ / "agents").string());
  AdoptionRecord changed = record("3");
  ASSERT_TRUE(records.save(changed).has_value());
  changed.token_digests = {std::string(64, 'c')};
  ASSERT_TRUE(records.save(changed).has_value());
  EXPECT_EQ(records.load_all(), std::vector<AdoptionRecord>{changed});
}

TEST_F(AdoptionRecordsTest, GarbageAndLeftoverTemporariesAreRemoved) {
  AdoptionRecords records((root_ / "agents").string());
  ASSERT_TRUE(records.save(record("3")).has_value());
  std::ofstream(root_ / "agents/junk.json") << "{not json";
  std::ofstream(root_ / "agents/.3.json.tmp-1") << "{}";
  AdoptionRecord token_not_digest = record("4");
  token_not_digest.token_digests = {"a-token-not-a-digest"};
  std::ofstream(root_ / "agents/4.json")
      << R"({"agent":"4","strategy":"exec","uid":1,"pid":2,"start_time":3,"token_sha256":["x"]})";
  EXPECT_EQ(records.load_all(), std::vector<AdoptionRecord>{record("3")});
  EXPECT_FALSE(fs::exists(root_ / "agents/junk.json"));
  EXPECT_FALSE(fs::exists(root_ / "agents/.3.json.tmp-1"));
  EXPECT_FALSE(fs::exists(root_ / "agents/4.json"));
}

TEST_F(AdoptionRecordsTest, ADirectoryOthersCanReadIsIgnored) {
  AdoptionRecords records((root_ / "agents").string());
  ASSERT_TRUE(records.save(record("3")).has_value());
  fs::permissions(root_ / "agents", fs::perms::others_read, fs::perm_options::add);
  EXPECT_TRUE(records.load_all().empty());
}

TEST_F(AdoptionRecordsTest, ASymlinkedDirectoryIsNeitherReadNorWritten) {
  fs::create_directories(root_ / "elsewhere");
  fs::create_directory_symlink(root_ / "elsewhere", root_ / "agents");
  AdoptionRecords records((root_ / "agents").string());
  EXPECT_FALSE(records.save(record("3")).has_value());
  EXPECT_TRUE(fs::is_empty(root_ / "elsewhere"));
}

TEST_F(AdoptionRecordsTest, FileNamesAreSafeForAnySessionId) {
  EXPECT_EQ(AdoptionRecords::file_name("3"), "3.json");
  EXPECT_EQ(AdoptionRecords::file_name("c12"), "c12.json");
  EXPECT_EQ(AdoptionRecords::file_name("../x"), "x2e2e2f78.json");
  EXPECT_EQ(AdoptionRecords::file_name("a.b"), "x612e62.json");
}

TEST_F(AdoptionRecordsTest, WithoutADirectoryNothingIsKept) {
  AdoptionRecords records("");
  EXPECT_FALSE(records.enabled());
  EXPECT_TRUE(records.save(record("3")).has_value());
  EXPECT_TRUE(records.load_all().empty());
}

}  // namespace
}  // namespace liaison::daemon
