#include "daemon/notify_request.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace liaison::daemon {
namespace {

using protocol::Json;

protocol::Error error_of(const Json& params) {
  auto request = parse_notify_request(params);
  EXPECT_FALSE(request.has_value()) << "expected an error for " << params.dump();
  return request ? protocol::Error{} : request.error();
}

TEST(NotifyRequest, ReadsEveryParameter) {
  auto request = parse_notify_request({{"user", Json::array({"alice", 1002})},
                                       {"session", "3"},
                                       {"title", "Restart now?"},
                                       {"body", "<b>soon</b>"},
                                       {"action_url", "https://example.com/x"},
                                       {"action", {"restart=Restart", "later=Later"}},
                                       {"urgency", "critical"},
                                       {"icon", "dialog-warning"},
                                       {"id", "update-1"},
                                       {"wait_action", 30}});
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->users, (std::vector<std::string>{"alice", "1002"}));
  EXPECT_EQ(request->sessions, (std::vector<std::string>{"3"}));
  EXPECT_EQ(request->title, "Restart now?");
  EXPECT_EQ(request->body, "<b>soon</b>") << "markup is kept literally here; the agent escapes it";
  ASSERT_EQ(request->actions.size(), 2u);
  EXPECT_EQ(request->actions[1], (std::pair<std::string, std::string>{"later", "Later"}));
  EXPECT_EQ(request->urgency, "critical");
  EXPECT_EQ(request->dedup_id, "update-1");
  EXPECT_EQ(request->wait_action_seconds, 30);
}

TEST(NotifyRequest, NeedsATarget) {
  EXPECT_EQ(error_of({{"title", "t"}}).message, "no target: give user, session or all");
  EXPECT_TRUE(parse_notify_request({{"title", "t"}, {"all", true}}).has_value());
  EXPECT_EQ(error_of({{"title", "t"}, {"all", "yes"}}).code, protocol::kInvalidParams);
}

TEST(NotifyRequest, TitleIsRequiredOneLineAndBounded) {
  EXPECT_EQ(error_of({{"all", true}}).message, "title is required");
  EXPECT_EQ(error_of({{"all", true}, {"title", ""}}).message, "title is required");
  EXPECT_EQ(error_of({{"all", true}, {"title", 42}}).message, "title must be a string");
  EXPECT_EQ(error_of({{"all", true}, {"title", "a\nb"}}).message, "title must be one line of text");
  EXPECT_EQ(error_of({{"all", true}, {"title", std::string(kMaxTitleBytes + 1, 'x')}}).message,
            "title is 257 bytes, over the limit of 256");
  EXPECT_TRUE(parse_notify_request({{"all", true}, {"title", std::string(kMaxTitleBytes, 'x')}})
                  .has_value());
}

TEST(NotifyRequest, RefusesBadActions) {
  const Json base = {{"all", true}, {"title", "t"}};
  auto with_action = [&](Json action) {
    Json params = base;
    params["action"] = std::move(action);
    return params;
  };
  EXPECT_EQ(error_of(with_action("restart")).code, protocol::kInvalidParams);
  EXPECT_EQ(error_of(with_action("=Label")).code, protocol::kInvalidParams);
  EXPECT_EQ(error_of(with_action("a b=Label")).code, protocol::kInvalidParams);
  EXPECT_NE(error_of(with_action("default=Open")).message.find("reserved"), std::string::npos);
  EXPECT_NE(error_of(with_action({"x=1", "x=2"})).message.find("twice"), std::string::npos);
  Json many = Json::array();
  for (int i = 0; i <= static_cast<int>(kMaxActions); ++i) {
    many.push_back(fmt::format("a{}=A", i));
  }
  EXPECT_EQ(error_of(with_action(many)).message, "at most 8 actions");
}

TEST(NotifyRequest, RefusesBadPresentation) {
  const Json base = {{"all", true}, {"title", "t"}};
  auto with = [&](const char* key, Json value) {
    Json params = base;
    params[key] = std::move(value);
    return params;
  };
  EXPECT_EQ(error_of(with("action_url", "file:///etc/passwd")).message,
            "action_url must be an http:// or https:// URL");
  EXPECT_EQ(error_of(with("urgency", "high")).message, "urgency must be low, normal or critical");
  EXPECT_EQ(error_of(with("wait_action", 0)).code, protocol::kInvalidParams);
  EXPECT_EQ(error_of(with("wait_action", "5")).code, protocol::kInvalidParams);
  EXPECT_EQ(error_of(with("user", Json::array({""}))).code, protocol::kInvalidParams);
  EXPECT_EQ(error_of(with("colour", "red")).message, "unknown parameter \"colour\"");
}

TEST(NotifyRequest, AgentParamsCarryWhatTheAgentShows) {
  auto request = parse_notify_request(
      {{"all", true}, {"title", "t"}, {"action", "ok=OK"}, {"id", "d"}, {"urgency", "low"}});
  ASSERT_TRUE(request.has_value());
  Json params = agent_notify_params(*request, "Acme");
  EXPECT_EQ(params["app_name"], "Acme");
  EXPECT_EQ(params["actions"], Json::array({{{"id", "ok"}, {"label", "OK"}}}));
  EXPECT_EQ(params["id"], "d");
  EXPECT_EQ(params["urgency"], "low");
}

}  // namespace
}  // namespace liaison::daemon
