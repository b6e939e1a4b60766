#include "cli/output.h"

#include <gtest/gtest.h>

#include "cli/control_client.h"

namespace liaison::cli {
namespace {

using protocol::Json;

TEST(FormatTable, AlignsColumnsToTheWidestCell) {
  EXPECT_EQ(format_table({{"A", "BB", "C"}, {"long", "x", "y"}}), "A     BB  C\nlong  x   y\n");
}

TEST(FormatSessions, ShowsOneRowPerSessionWithItsAgent) {
  Json sessions = Json::parse(R"([{"session":"3","uid":1001,"user":"alice","type":"x11",
    "class":"user","seat":"seat0","active":true,"remote":false,
    "agent":{"state":"ready","pid":42,"strategy":"exec","since":"2026-11-29T12:00:00Z"}}])");
  const std::string table = format_sessions(sessions);
  EXPECT_NE(table.find("SESSION"), std::string::npos);
  EXPECT_NE(table.find("alice"), std::string::npos);
  EXPECT_NE(table.find("ready"), std::string::npos);
  EXPECT_NE(table.find("seat0"), std::string::npos);
  EXPECT_EQ(format_sessions(Json::array()), "no eligible sessions\n");
}

TEST(FormatNotifyResults, NamesEachFailureAndEachAnswer) {
  Json results = Json::parse(R"({"results":[
    {"session":"3","uid":1001,"user":"alice","delivered":true,"notification_id":7,
     "action":"restart","closed":"dismissed"},
    {"session":null,"uid":1003,"user":"carol","delivered":false,
     "error":{"code":"no_session","message":"carol has no eligible session"}}]})");
  EXPECT_EQ(format_notify_results(results),
            "delivered to alice (session 3) as notification 7; clicked: restart\n"
            "failed for carol: carol has no eligible session\n");
}

TEST(ExitStatus, FollowsTheContract) {
  using protocol::Error;
  namespace codes = protocol::codes;
  EXPECT_EQ(exit_status_for(Error::application(codes::kNoSession, "")), kExitNoSession);
  EXPECT_EQ(exit_status_for(Error::application(codes::kNotPermitted, "")), kExitUnreachable);
  EXPECT_EQ(exit_status_for(Error::invalid_params("")), kExitUsage);
  EXPECT_EQ(exit_status_for(Error::application(codes::kRateLimited, "")), kExitFailed);
}

}  // namespace
}  // namespace liaison::cli
