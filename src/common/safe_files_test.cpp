#include "common/safe_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace liaison {
namespace {

namespace fs = std::filesystem;

class SafeFilesTest : public testing::Test {
 protected:
  SafeFilesTest() {
    root_ =
        fs::temp_directory_path() / fmt::format("liaison-safe-files-{}-{}", ::getpid(), counter_++);
    fs::create_directories(root_ / "trusted");
    fs::create_directories(root_ / "elsewhere");
    trusted_ = UniqueFd(::open((root_ / "trusted").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  ~SafeFilesTest() override { fs::remove_all(root_); }

  static std::string read(const fs::path& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), {});
  }

  static inline int counter_ = 0;
  fs::path root_;
  UniqueFd trusted_;
};

TEST_F(SafeFilesTest, WritesAFileAndItsMissingDirectoriesWithTheModeAsked) {
  ASSERT_TRUE(write_file_beneath(trusted_.get(), "a/b/file.conf", "hello\n", 0600).has_value());
  EXPECT_EQ(read(root_ / "trusted/a/b/file.conf"), "hello\n");
  EXPECT_EQ(fs::status(root_ / "trusted/a/b/file.conf").permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  auto again = read_file_beneath(trusted_.get(), "a/b/file.conf");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->value_or(""), "hello\n");
}

TEST_F(SafeFilesTest, ReplacesAnExistingFileAndLeavesNoTemporaryBehind) {
  ASSERT_TRUE(write_file_beneath(trusted_.get(), "file", "one", 0644).has_value());
  ASSERT_TRUE(write_file_beneath(trusted_.get(), "file", "two", 0644).has_value());
  EXPECT_EQ(read(root_ / "trusted/file"), "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(root_ / "trusted")) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(SafeFilesTest, ASymlinkPlantedAtTheFileIsReplacedNotFollowed) {
  std::ofstream(root_ / "elsewhere/victim") << "precious";
  fs::create_symlink(root_ / "elsewhere/victim", root_ / "trusted/file");
  ASSERT_TRUE(write_file_beneath(trusted_.get(), "file", "mine", 0644).has_value());
  EXPECT_EQ(read(root_ / "elsewhere/victim"), "precious");
  EXPECT_FALSE(fs::is_symlink(root_ / "trusted/file"));
  EXPECT_EQ(read(root_ / "trusted/file"), "mine");
}

TEST_F(SafeFilesTest, ASymlinkPlantedAsADirectoryIsRefused) {
  fs::create_symlink(root_ / "elsewhere", root_ / "trusted/dir");
  auto written = write_file_beneath(trusted_.get(), "dir/file", "mine", 0644);
  ASSERT_FALSE(written.has_value());
  EXPECT_TRUE(written.error().error_number == ELOOP || written.error().error_number == ENOTDIR)
      << written.error().message();
  EXPECT_FALSE(fs::exists(root_ / "elsewhere/file"));
  EXPECT_FALSE(read_file_beneath(trusted_.get(), "dir/file").has_value());
  EXPECT_FALSE(open_directory_beneath(trusted_.get(), "dir").has_value());
}

TEST_F(SafeFilesTest, ASymlinkDeeperDownIsRefusedToo) {
  fs::create_directories(root_ / "trusted/a");
  fs::create_symlink(root_ / "elsewhere", root_ / "trusted/a/b");
  EXPECT_FALSE(write_file_beneath(trusted_.get(), "a/b/c/file", "x", 0644).has_value());
  EXPECT_FALSE(fs::exists(root_ / "elsewhere/c"));
}

TEST_F(SafeFilesTest, ReadingASymlinkIsRefusedAndAMissingFileIsNothing) {
  std::ofstream(root_ / "elsewhere/secret") << "secret";
  fs::create_symlink(root_ / "elsewhere/secret", root_ / "trusted/link");
  EXPECT_FALSE(read_file_beneath(trusted_.get(), "link").has_value());
  auto missing = read_file_beneath(trusted_.get(), "nothing/here");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(SafeFilesTest, DotDotIsRefused) {
  EXPECT_FALSE(write_file_beneath(trusted_.get(), "../elsewhere/file", "x", 0644).has_value());
  EXPECT_FALSE(fs::exists(root_ / "elsewhere/file"));
}

TEST_F(SafeFilesTest, SymlinksAreMadeReadAndRemovedAsLinks) {
  std::ofstream(root_ / "elsewhere/target") << "kept";
  ASSERT_TRUE(symlink_beneath(trusted_.get(), "wants/unit", (root_ / "elsewhere/target").string())
                  .has_value());
  auto target = read_symlink_beneath(trusted_.get(), "wants/unit");
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->value_or(""), (root_ / "elsewhere/target").string());
  EXPECT_EQ(remove_beneath(trusted_.get(), "wants/unit").value_or(false), true);
  EXPECT_EQ(remove_beneath(trusted_.get(), "wants/unit").value_or(true), false);
  EXPECT_EQ(read(root_ / "elsewhere/target"), "kept");
  EXPECT_EQ(remove_empty_directory_beneath(trusted_.get(), "wants").value_or(false), true);
  EXPECT_FALSE(fs::exists(root_ / "trusted/wants"));
}

TEST_F(SafeFilesTest, OpenDirectoryRefusesASymlinkOnTheWay) {
  fs::create_symlink(root_ / "elsewhere", root_ / "trusted/link");
  EXPECT_TRUE(open_directory((root_ / "trusted").string()).has_value());
  EXPECT_FALSE(open_directory((root_ / "trusted/link").string()).has_value());
  EXPECT_TRUE(open_directory((root_ / "trusted/made/here").string(), true, 0700).has_value());
  EXPECT_EQ(fs::status(root_ / "trusted/made/here").permissions(), fs::perms::owner_all);
}

}  // namespace
}  // namespace liaison
