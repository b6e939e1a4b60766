#include "platform/linux/peer_credentials.h"

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "platform/linux/passwd.h"

namespace liaison::platform {
namespace {

using testing::HasSubstr;

constexpr char kNoSuchGroup[] = "liaison-test-no-such-group";

std::vector<gid_t> sorted(std::vector<gid_t> groups) {
  std::sort(groups.begin(), groups.end());
  return groups;
}

std::vector<gid_t> own_groups() {
  std::vector<gid_t> groups(getgroups(0, nullptr));
  groups.resize(getgroups(static_cast<int>(groups.size()), groups.data()));
  return groups;
}

TEST(LinuxPeerIdentity, SocketpairGivesOurOwnCredentials) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd ours(fds[0]);
  UniqueFd theirs(fds[1]);
  LinuxPeerIdentity identity;
  auto peer = identity.credentials_of(ours.get());
  ASSERT_TRUE(peer) << peer.error();
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_EQ(peer->gid, getegid());
  EXPECT_EQ(peer->pid, getpid());
  EXPECT_EQ(sorted(peer->groups), sorted(own_groups()));
}

TEST(LinuxPeerIdentity, NotASocketIsAnError) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  auto peer = LinuxPeerIdentity().credentials_of(read_end.get());
  ASSERT_FALSE(peer);
  EXPECT_THAT(peer.error(), HasSubstr("SO_PEERCRED"));
}

TEST(LinuxPeerIdentity, WithoutTheGroupOnlyRootMayControl) {
  LinuxPeerIdentity identity(kNoSuchGroup);
  EXPECT_EQ(identity.control_gid(), std::nullopt);
  EXPECT_TRUE(identity.may_control({.uid = 0, .gid = 0, .pid = 1}));
  EXPECT_FALSE(identity.may_control({.uid = 1000, .gid = 1000, .pid = 2, .groups = {1000, 27}}));
}

// "users" is gid 100 on Debian; any existing group will do, looked up by name.
TEST(LinuxPeerIdentity, MembersOfTheGroupMayControl) {
  auto users = group_id_by_name("users");
  ASSERT_TRUE(users) << users.error();
  const std::optional<gid_t>& users_gid = *users;
  if (!users_gid) {
    GTEST_SKIP() << "no group named users here";
  }
  gid_t gid = *users_gid;
  LinuxPeerIdentity identity("users");
  EXPECT_EQ(identity.control_gid(), gid);
  EXPECT_TRUE(identity.may_control({.uid = 0, .gid = 0, .pid = 1}));
  EXPECT_TRUE(identity.may_control({.uid = 1000, .gid = gid, .pid = 2}));  // primary group
  EXPECT_TRUE(identity.may_control({.uid = 1000, .gid = 1000, .pid = 2, .groups = {1000, gid}}));
  EXPECT_FALSE(identity.may_control({.uid = 1000, .gid = 1000, .pid = 2, .groups = {1000}}));
}

// A forked child drops to nobody with chosen supplementary groups, then connects: the kernel's
// record at connect() is what the daemon sees.
class DroppedPeerTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to connect as another user";
    }
    auto nobody = passwd_by_name("nobody");
    ASSERT_TRUE(nobody) << nobody.error();
    nobody_ = *nobody;
    listener_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    // An abstract address: no file system permissions between the two ends.
    address_.sun_family = AF_UNIX;
    std::snprintf(address_.sun_path + 1, sizeof(address_.sun_path) - 1, "liaison-peer-test-%d",
                  getpid());
    ASSERT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&address_), sizeof(address_)), 0);
    ASSERT_EQ(listen(listener_.get(), 1), 0);
  }

  // Connects from a child running as nobody with `groups`; returns the accepted connection and
  // the child's pid.
  std::pair<UniqueFd, pid_t> connect_as_nobody(const std::vector<gid_t>& groups) {
    pid_t child = fork();
    if (child == 0) {
      int client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (setgroups(groups.size(), groups.data()) != 0 ||
          setresgid(nobody_.gid, nobody_.gid, nobody_.gid) != 0 ||
          setresuid(nobody_.uid, nobody_.uid, nobody_.uid) != 0 ||
          connect(client, reinterpret_cast<sockaddr*>(&address_), sizeof(address_)) != 0) {
        _exit(1);
      }
      char byte;
      [[maybe_unused]] ssize_t ignored = read(client, &byte, 1);  // until the parent is done
      _exit(0);
    }
    return {UniqueFd(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)), child};
  }

  static void finish(std::pair<UniqueFd, pid_t>& connection) {
    connection.first.reset();
    int status = 0;
    waitpid(connection.second, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  PasswdEntry nobody_;
  UniqueFd listener_;
  sockaddr_un address_{};
};

TEST_F(DroppedPeerTest, SeesTheDroppedIdsAndGroups) {
  auto connection = connect_as_nobody({nobody_.gid, 100});
  ASSERT_TRUE(connection.first.valid());
  LinuxPeerIdentity identity("users");
  auto peer = identity.credentials_of(connection.first.get());
  ASSERT_TRUE(peer) << peer.error();
  EXPECT_EQ(peer->uid, nobody_.uid);
  EXPECT_EQ(peer->gid, nobody_.gid);
  EXPECT_EQ(peer->pid, connection.second);
  EXPECT_EQ(sorted(peer->groups), sorted({nobody_.gid, 100}));
  if (identity.control_gid() == gid_t{100}) {
    EXPECT_TRUE(identity.may_control(*peer));
  }
  EXPECT_FALSE(LinuxPeerIdentity(kNoSuchGroup).may_control(*peer));
  finish(connection);
}

TEST_F(DroppedPeerTest, NonMemberMayNotControl) {
  auto connection = connect_as_nobody({nobody_.gid});
  ASSERT_TRUE(connection.first.valid());
  LinuxPeerIdentity identity("users");
  auto peer = identity.credentials_of(connection.first.get());
  ASSERT_TRUE(peer) << peer.error();
  EXPECT_EQ(sorted(peer->groups), std::vector<gid_t>{nobody_.gid});
  EXPECT_FALSE(identity.may_control(*peer));
  finish(connection);
}

}  // namespace
}  // namespace liaison::platform
