#include "protocol/finding.h"

#include <gtest/gtest.h>

namespace liaison::protocol {
namespace {

TEST(Finding, AFailureCarriesItsHintAndFactsOnTheWire) {
  Json json = to_json(Finding::fail("notification-server", "nobody owns the name",
                                    "start a notification daemon", {{"bus", "unix:path=/x"}}));
  EXPECT_EQ(json, Json::parse(R"({"check":"notification-server","status":"fail",
      "detail":"nobody owns the name","hint":"start a notification daemon",
      "facts":{"bus":"unix:path=/x"}})"));
}

TEST(Finding, AnOkFindingLeavesOutTheEmptyHintAndFacts) {
  Json json = to_json(Finding::ok("session-bus", "reachable"));
  EXPECT_EQ(json, Json::parse(R"({"check":"session-bus","status":"ok","detail":"reachable"})"));
}

TEST(Finding, RoundTripsEveryStatus) {
  for (const Finding& sent : {Finding::ok("a", "1"), Finding::info("b", "2"),
                              Finding::warn("c", "3", "fix c"), Finding::fail("d", "4", "fix d")}) {
    auto read = finding_from_json(to_json(sent));
    ASSERT_TRUE(read.has_value()) << sent.check;
    EXPECT_EQ(read->check, sent.check);
    EXPECT_EQ(read->status, sent.status);
    EXPECT_EQ(read->detail, sent.detail);
    EXPECT_EQ(read->hint, sent.hint);
  }
}

TEST(Finding, RejectsWhatIsNotAFinding) {
  EXPECT_FALSE(finding_from_json(Json::array()).has_value());
  EXPECT_FALSE(finding_from_json(Json::parse(R"({"status":"ok","detail":"x"})")).has_value());
  EXPECT_FALSE(
      finding_from_json(Json::parse(R"({"check":"x","status":"great","detail":"x"})")).has_value());
  EXPECT_FALSE(
      finding_from_json(Json::parse(R"({"check":"x","status":"ok","detail":7})")).has_value());
}

TEST(Finding, ReadsAListAndDropsOnlyTheMalformedEntries) {
  auto findings = findings_from_json(Json::parse(
      R"({"findings":[{"check":"a","status":"ok","detail":""},42,{"check":"b","status":"warn",
          "detail":"d","hint":"h"}]})"));
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].check, "a");
  EXPECT_EQ(findings[1].hint, "h");
  EXPECT_TRUE(findings_from_json(Json::parse(R"({"findings":"no"})")).empty());
}

}  // namespace
}  // namespace liaison::protocol
