#include "cli/agent_startup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace liaison::cli {
namespace {

class AgentStartupTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* name : {"LIAISON_SESSION", "LIAISON_AGENT_SOCKET", "LIAISON_TOKEN_FD",
                             "LIAISON_DAEMON_GRACE_SECONDS"}) {
      unsetenv(name);
    }
  }
  // A pipe holding `text`, its read end named by LIAISON_TOKEN_FD.
  int token_pipe(const std::string& text) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    EXPECT_EQ(write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fds[1]);
    setenv("LIAISON_TOKEN_FD", std::to_string(fds[0]).c_str(), 1);
    return fds[0];
  }
};

TEST_F(AgentStartupTest, TakesTheTokenOnceAndClosesItsFd) {
  const int fd = token_pipe("abc123\n");
  EXPECT_EQ(take_token(), "abc123");
  EXPECT_EQ(std::getenv("LIAISON_TOKEN_FD"), nullptr);
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);  // closed
  EXPECT_EQ(take_token(), "");
}

TEST_F(AgentStartupTest, ReadsAtMostAKibibyte) {
  token_pipe(std::string(5000, 'x'));
  const std::string token = take_token();
  EXPECT_GE(token.size(), 1024u);
  EXPECT_LT(token.size(), 1024u + 128u);
}

TEST_F(AgentStartupTest, OptionsFromTheEnvironmentWithDefaults) {
  auto defaults = agent_options_from_environment("/var/run/liaison/agent.sock");
  EXPECT_EQ(defaults.session_id, "");
  EXPECT_EQ(defaults.socket_path, "/var/run/liaison/agent.sock");
  EXPECT_EQ(defaults.token, "");
  EXPECT_EQ(defaults.max_retry, std::chrono::seconds(1));

  setenv("LIAISON_SESSION", "257", 1);
  setenv("LIAISON_AGENT_SOCKET", "/tmp/a.sock", 1);
  setenv("LIAISON_DAEMON_GRACE_SECONDS", "7", 1);
  token_pipe("t0k");
  auto given = agent_options_from_environment("/var/run/liaison/agent.sock");
  EXPECT_EQ(given.session_id, "257");
  EXPECT_EQ(given.socket_path, "/tmp/a.sock");
  EXPECT_EQ(given.token, "t0k");
  EXPECT_EQ(given.daemon_grace, std::chrono::seconds(7));
}

}  // namespace
}  // namespace liaison::cli
