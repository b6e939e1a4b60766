#include "cli/launch_agent_output.h"

#include <gtest/gtest.h>

namespace liaison::cli {
namespace {

using protocol::Json;

TEST(LaunchAgentOutputTest, NamesWhomItIsInstalledForAndEachSession) {
  const Json report = Json::parse(R"({
    "unit": "liaison-agent.service", "command": "/usr/bin/liaison agent", "strategy": "launch-agent",
    "installed": {"all": false, "users": [{"uid": 1001, "user": "alice"}]}, "changed": true,
    "sessions": [{"session": "3", "uid": 1001, "user": "alice", "installed": true,
                  "unit": {"load_state": "loaded", "active_state": "active", "pid": 42},
                  "agent": {"state": "ready", "pid": 42, "strategy": "launch-agent"}}]})");
  const std::string text = format_launch_agent_report(report);
  EXPECT_NE(text.find("installed for alice; [agent] launch = \"launch-agent\"; changed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("3        alice  yes        active  42        ready  42   launch-agent"),
            std::string::npos)
      << text;
}

TEST(LaunchAgentOutputTest, SaysWhenItIsNotInstalledAndThereAreNoSessions) {
  const Json report = Json::parse(R"({
    "unit": "liaison-agent.service", "command": "/usr/bin/liaison agent", "strategy": "exec",
    "installed": {"all": false, "users": []}, "sessions": []})");
  const std::string text = format_launch_agent_report(report);
  EXPECT_NE(text.find("installed for nobody (not installed)"), std::string::npos) << text;
  EXPECT_NE(text.find("no eligible sessions"), std::string::npos) << text;
}

}  // namespace
}  // namespace liaison::cli
