#include "common/portable_calls.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/unique_fd.h"

namespace liaison {
namespace {

TEST(FillRandom, FillsEveryByteAndNeverTwiceAlike) {
  std::array<uint8_t, 64> first{};
  std::array<uint8_t, 64> second{};
  ASSERT_TRUE(fill_random(first));
  ASSERT_TRUE(fill_random(second));
  EXPECT_NE(first, second);
  // 64 zero bytes from a working generator: a chance of 2^-512.
  EXPECT_NE(first, (std::array<uint8_t, 64>{}));
}

class RenameNoReplaceTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("liaison-rename-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    fd_ = UniqueFd(::open(dir_.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd_.valid());
    std::ofstream(dir_ / "new") << "new";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string read(const char* name) {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::filesystem::path dir_;
  UniqueFd fd_;
};

TEST_F(RenameNoReplaceTest, MovesToAFreeName) {
  ASSERT_EQ(rename_no_replace(fd_.get(), "new", "target"), 0) << std::strerror(errno);
  EXPECT_EQ(read("target"), "new");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "new"));
}

TEST_F(RenameNoReplaceTest, RefusesToReplaceAndLeavesBothAlone) {
  std::ofstream(dir_ / "target") << "old";
  errno = 0;
  const int renamed = rename_no_replace(fd_.get(), "new", "target");
  if (renamed != 0 && errno == EINVAL) {
    GTEST_SKIP() << "this filesystem cannot";
  }
  EXPECT_EQ(renamed, -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(read("target"), "old");
  EXPECT_EQ(read("new"), "new");
}

}  // namespace
}  // namespace liaison
