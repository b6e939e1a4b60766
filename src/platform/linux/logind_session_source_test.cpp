#include "platform/linux/logind_session_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace liaison::platform {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

constexpr char kSessionsDirectory[] = "/run/systemd/sessions";

bool is_readable(int fd) {
  pollfd poll_fd{.fd = fd, .events = POLLIN, .revents = 0};
  return poll(&poll_fd, 1, 0) == 1;
}

// Runs first, on the host as it is: no logind here, yet the source works and lists nothing.
TEST(LogindSessionSourceOnThisHost, ListsWithoutErrorAndGivesAnFd) {
  auto source = LogindSessionSource::create();
  if (!fs::exists(kSessionsDirectory)) {
    ASSERT_FALSE(source);
    EXPECT_THAT(source.error(), HasSubstr("is systemd-logind running?"));
    return;
  }
  ASSERT_TRUE(source) << source.error();
  EXPECT_GE((*source)->change_fd(), 0);
  auto sessions = (*source)->list_sessions();
  ASSERT_TRUE(sessions) << sessions.error();
  if (fs::is_empty(kSessionsDirectory)) {
    EXPECT_TRUE(sessions->empty());
  }
}

// logind's state, faked: a tmpfs over /run/systemd/sessions in a mount namespace of this test
// process alone, filled with records written the way logind writes them (temp file + rename).
class FakeLogindTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0 || !fs::exists(kSessionsDirectory)) {
      return;
    }
    if (unshare(CLONE_NEWNS) != 0) {
      return;
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return;
    }
    namespace_ready_ = mount("tmpfs", kSessionsDirectory, "tmpfs", 0, "mode=0755") == 0;
  }

  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to mount a private /run/systemd/sessions";
    }
    if (!fs::exists(kSessionsDirectory)) {
      GTEST_SKIP() << kSessionsDirectory << " does not exist";
    }
    ASSERT_TRUE(namespace_ready_) << "could not set up the private mount namespace";
    for (const auto& entry : fs::directory_iterator(kSessionsDirectory)) {
      fs::remove(entry.path());
    }
  }

  static void write_session(const std::string& id,
                            const std::map<std::string, std::string>& fields) {
    fs::path temporary = fs::path(kSessionsDirectory) / ("." + id + ".tmp");
    {
      std::ofstream record(temporary);
      record << "# This is private data. Do not parse.\n";
      for (const auto& [key, value] : fields) {
        record << key << "=" << value << "\n";
      }
    }
    fs::rename(temporary, fs::path(kSessionsDirectory) / id);
  }

  static std::map<std::string, std::string> graphical_fields() {
    return {{"UID", "65534"},
            {"USER", "nobody"},
            {"ACTIVE", "1"},
            {"STATE", "active"},
            {"REMOTE", "0"},
            {"TYPE", "x11"},
            {"CLASS", "user"},
            {"SEAT", "seat0"},
            {"DISPLAY", ":0"},
            {"LEADER", "4242"},
            {"SCOPE", "session-3.scope"}};
  }

  static inline bool namespace_ready_ = false;
};

TEST_F(FakeLogindTest, EmptyDirectoryListsNothing) {
  auto source = LogindSessionSource::create();
  ASSERT_TRUE(source) << source.error();
  auto sessions = (*source)->list_sessions();
  ASSERT_TRUE(sessions) << sessions.error();
  EXPECT_TRUE(sessions->empty());
}

TEST_F(FakeLogindTest, ReadsEveryField) {
  write_session("3", graphical_fields());
  auto source = LogindSessionSource::create();
  ASSERT_TRUE(source) << source.error();
  auto sessions = (*source)->list_sessions();
  ASSERT_TRUE(sessions) << sessions.error();
  ASSERT_EQ(sessions->size(), 1u);
  daemon::Session expected;
  expected.id = "3";
  expected.uid = 65534;
  expected.user = "nobody";  // from getpwuid_r, not from the record
  expected.type = "x11";
  expected.session_class = "user";
  expected.state = "active";
  expected.seat = "seat0";
  expected.display = ":0";
  expected.remote = false;
  expected.leader = 4242;
  EXPECT_EQ(sessions->front(), expected);
}

TEST_F(FakeLogindTest, AbsentOptionalFieldsReadAsEmpty) {
  write_session("c7", {{"UID", "65534"}, {"STATE", "online"}, {"CLASS", "user"}});
  auto session = read_logind_session("c7");
  ASSERT_TRUE(session) << session.error();
  ASSERT_TRUE(session->has_value());
  const daemon::Session& found =
      **session;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_EQ(found.state, "online");
  EXPECT_EQ(found.type, "");
  EXPECT_EQ(found.seat, "");
  EXPECT_EQ(found.display, "");
  EXPECT_FALSE(found.remote);
  EXPECT_EQ(found.leader, 0);
}

TEST_F(FakeLogindTest, RemoteAndUnnamedUsers) {
  auto fields = graphical_fields();
  fields["REMOTE"] = "1";
  fields["UID"] = "64999";  // no passwd entry: kept, with an empty name
  write_session("5", fields);
  auto session = read_logind_session("5");
  ASSERT_TRUE(session && session->has_value());
  const daemon::Session& found =
      **session;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_TRUE(found.remote);
  EXPECT_EQ(found.uid, 64999u);
  EXPECT_EQ(found.user, "");
}

TEST_F(FakeLogindTest, ListsSeveralSessionsAndSkipsBrokenOnes) {
  write_session("1", graphical_fields());
  auto second = graphical_fields();
  second["TYPE"] = "wayland";
  write_session("2", second);
  write_session("9", {{"STATE", "active"}});  // no UID: unreadable, skipped
  auto source = LogindSessionSource::create();
  ASSERT_TRUE(source) << source.error();
  auto sessions = (*source)->list_sessions();
  ASSERT_TRUE(sessions) << sessions.error();
  std::vector<std::string> ids;
  for (const auto& session : *sessions) {
    ids.push_back(session.id);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2"}));
}

TEST_F(FakeLogindTest, VanishedSessionIsNotAnError) {
  auto session = read_logind_session("77");
  ASSERT_TRUE(session) << session.error();
  EXPECT_FALSE(session->has_value());
}

TEST_F(FakeLogindTest, InvalidIdIsRefused) {
  auto session = read_logind_session("../../etc/passwd");
  ASSERT_FALSE(session);
  EXPECT_THAT(session.error(), HasSubstr("invalid session id"));
}

TEST_F(FakeLogindTest, ChangeFdSignalsLoginAndLogout) {
  auto source = LogindSessionSource::create();
  ASSERT_TRUE(source) << source.error();
  int fd = (*source)->change_fd();
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(is_readable(fd));

  write_session("4", graphical_fields());  // a login
  EXPECT_TRUE(is_readable(fd));
  (*source)->acknowledge_change();
  EXPECT_FALSE(is_readable(fd));
  EXPECT_EQ((*source)->change_fd(), fd);  // the same fd for the source's lifetime

  auto closing = graphical_fields();
  closing["STATE"] = "closing";
  write_session("4", closing);  // a state change
  EXPECT_TRUE(is_readable(fd));
  (*source)->acknowledge_change();

  fs::remove(fs::path(kSessionsDirectory) / "4");  // a logout
  EXPECT_TRUE(is_readable(fd));
  (*source)->acknowledge_change();
  EXPECT_FALSE(is_readable(fd));
  auto sessions = (*source)->list_sessions();
  ASSERT_TRUE(sessions);
  EXPECT_TRUE(sessions->empty());
}

// A terminal server's login storm: each change costs reading the one record it names, not every
// session's again (issue 13: a full rescan per event made a storm of N logins N^2 reads).
TEST_F(FakeLogindTest, AChangeReadsOnlyTheRecordItNames) {
  for (int i = 1; i <= 50; ++i) {
    write_session(std::to_string(i), graphical_fields());
  }
  auto source = LogindSessionSource::create();
  ASSERT_TRUE(source) << source.error();
  auto first = (*source)->list_sessions();
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(first->size(), 50u);
  EXPECT_EQ((*source)->records_read(), 50u);

  auto online = graphical_fields();
  online["STATE"] = "online";
  write_session("17", online);                     // a switch to another user's desktop
  write_session("51", graphical_fields());         // a login
  fs::remove(fs::path(kSessionsDirectory) / "3");  // a logout
  ASSERT_TRUE(is_readable((*source)->change_fd()));
  (*source)->acknowledge_change();
  auto now = (*source)->list_sessions();
  ASSERT_TRUE(now) << now.error();
  EXPECT_EQ((*source)->records_read(), 53u) << "three changes, three records read";

  std::map<std::string, std::string> states;
  for (const daemon::Session& session : *now) states[session.id] = session.state;
  EXPECT_EQ(states.size(), 50u);
  EXPECT_EQ(states["17"], "online");
  EXPECT_TRUE(states.contains("51"));
  EXPECT_FALSE(states.contains("3"));

  // Nothing changed: nothing read.
  ASSERT_TRUE((*source)->list_sessions().has_value());
  EXPECT_EQ((*source)->records_read(), 53u);
}

}  // namespace
}  // namespace liaison::platform
