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

TEST(OpenPipe, GivesBothEndsTheFlagsAskedFor) {
  int fds[2];
  ASSERT_EQ(open_pipe(fds, O_CLOEXEC | O_NONBLOCK), 0) << std::strerror(errno);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  for (int fd : fds) {
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  }
  char byte = 0;
  EXPECT_EQ(::read(read_end.get(), &byte, 1), -1);  // empty and non-blocking: no wait
  EXPECT_EQ(errno, EAGAIN);
  ASSERT_EQ(::write(write_end.get(), "x", 1), 1);
  ASSERT_EQ(::read(read_end.get(), &byte, 1), 1);
  EXPECT_EQ(byte, 'x');

  ASSERT_EQ(open_pipe(fds, 0), 0);
  UniqueFd plain_read(fds[0]);
  UniqueFd plain_write(fds[1]);
  EXPECT_EQ(::fcntl(fds[0], F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(::fcntl(fds[1], F_GETFL) & O_NONBLOCK, 0);
}

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
