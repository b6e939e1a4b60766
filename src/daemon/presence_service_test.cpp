#include "daemon/presence_service.h"

#include <gtest/gtest.h>

namespace liaison::daemon {
namespace {

using protocol::Json;

Json with_reason(std::string reason) { return {{"user", "alice"}, {"reason", std::move(reason)}}; }

TEST(PresenceRequestTest, NeedsAUserOrASessionAndAReason) {
  auto nobody = parse_presence_request({{"reason", "why"}});
  ASSERT_FALSE(nobody.has_value());
  EXPECT_EQ(nobody.error().message, "no one to ask: give user, session, or both");
  EXPECT_FALSE(parse_presence_request({{"user", "alice"}}).has_value());
  auto session_only = parse_presence_request({{"session", "3"}, {"reason", "why"}});
  ASSERT_TRUE(session_only.has_value()) << session_only.error().message;
  EXPECT_EQ(session_only->user, "");
  EXPECT_EQ(session_only->session, "3");
  EXPECT_FALSE(parse_presence_request(with_reason("")).has_value());
  auto parsed = parse_presence_request({{"user", 1001}, {"session", "c2"}, {"reason", "why"}});
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->user, "1001");
  EXPECT_EQ(parsed->session, "c2");
  EXPECT_EQ(parsed->timeout, kDefaultPresenceTimeout);
}

TEST(PresenceRequestTest, TheReasonIsOneBoundedLineOfPlainText) {
  EXPECT_TRUE(parse_presence_request(with_reason("Approve \xc3\xa9 the VPN")).has_value());
  EXPECT_TRUE(parse_presence_request(with_reason(std::string(256, 'a'))).has_value());
  auto long_reason = parse_presence_request(with_reason(std::string(257, 'a')));
  ASSERT_FALSE(long_reason.has_value());
  EXPECT_EQ(long_reason.error().message, "reason is 257 bytes, over the limit of 256");
  for (const char* bad : {"two\nlines", "tab\there", "escape\x1b[2J", "del\x7f", "c1\xc2\x85"}) {
    auto parsed = parse_presence_request(with_reason(bad));
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code, protocol::kInvalidParams);
  }
}

TEST(PresenceRequestTest, TheTimeoutIsOneToSixHundredSeconds) {
  Json params = with_reason("why");
  for (const Json& bad : {Json(0), Json(601), Json(-5), Json("60"), Json(1.5)}) {
    params["timeout"] = bad;
    EXPECT_FALSE(parse_presence_request(params).has_value()) << bad;
  }
  params["timeout"] = 600;
  ASSERT_TRUE(parse_presence_request(params).has_value());
  EXPECT_EQ(parse_presence_request(params)->timeout, std::chrono::seconds(600));
}

Session session(std::string id, std::string state, std::string seat) {
  return {.id = std::move(id),
          .uid = 1001,
          .user = "alice",
          .state = std::move(state),
          .seat = std::move(seat)};
}

TEST(PresenceSessionTest, TheActiveSessionOnASeatWins) {
  auto chosen =
      choose_presence_session({session("2", "online", "seat0"), session("3", "active", ""),
                               session("4", "active", "seat0")},
                              "alice");
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->id, "4");
  chosen = choose_presence_session({session("2", "online", "seat0"), session("3", "active", "")},
                                   "alice");
  ASSERT_TRUE(chosen.has_value());
  EXPECT_EQ(chosen->id, "3");
}

TEST(PresenceSessionTest, NoActiveSessionIsNoSession) {
  auto chosen = choose_presence_session({session("2", "online", "seat0")}, "alice");
  ASSERT_FALSE(chosen.has_value());
  EXPECT_EQ(chosen.error().data_code, "no_session");
  EXPECT_EQ(chosen.error().message, "alice has no active session liaison serves");
}

TEST(PresenceResultTest, NamesAreTheProtocols) {
  EXPECT_EQ(presence_result_name(PresenceResult::kConfirmed), "confirmed");
  EXPECT_EQ(presence_result_name(PresenceResult::kNoAgent), "no_agent");
  EXPECT_EQ(presence_result_name(PresenceResult::kBusy), "busy");
}

}  // namespace
}  // namespace liaison::daemon
