#include "agent/markup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/fake_notifier.h"
#include "agent/notifier.h"

namespace liaison::agent {
namespace {

TEST(EscapeMarkupTest, LeavesPlainTextUnchanged) {
  EXPECT_EQ(escape_markup(""), "");
  EXPECT_EQ(escape_markup("Restart to finish the update"), "Restart to finish the update");
}

TEST(EscapeMarkupTest, EscapesEachSpecialCharacter) {
  EXPECT_EQ(escape_markup("&"), "&amp;");
  EXPECT_EQ(escape_markup("<"), "&lt;");
  EXPECT_EQ(escape_markup(">"), "&gt;");
  EXPECT_EQ(escape_markup("\""), "&quot;");
  EXPECT_EQ(escape_markup("'"), "&apos;");
}

TEST(EscapeMarkupTest, ShowsTagsLiterally) {
  EXPECT_EQ(escape_markup("<b>bold</b> & <a href=\"x\">link</a>"),
            "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&quot;x&quot;&gt;link&lt;/a&gt;");
}

TEST(EscapeMarkupTest, EscapesAmpersandsOfExistingEntitiesAgain) {
  // The admin typed "&amp;": the user must see "&amp;", not "&".
  EXPECT_EQ(escape_markup("&amp;"), "&amp;amp;");
}

TEST(EscapeMarkupTest, PassesUtf8AndControlBytesThrough) {
  EXPECT_EQ(escape_markup("Grüße — 日本 <ok>"), "Grüße — 日本 &lt;ok&gt;");
  EXPECT_EQ(escape_markup("line one\nline two"), "line one\nline two");
}

}  // namespace
}  // namespace liaison::agent

// close_reason_name and the fake live beside markup in liaison_agent_notify; their tests run here.
// close_reason_name's names are part of `liaison notify --json`.
namespace liaison::agent {
namespace {

TEST(CloseReasonNameTest, NamesMatchTheJsonContract) {
  EXPECT_EQ(close_reason_name(CloseReason::kExpired), "expired");
  EXPECT_EQ(close_reason_name(CloseReason::kDismissed), "dismissed");
  EXPECT_EQ(close_reason_name(CloseReason::kClosed), "closed");
  EXPECT_EQ(close_reason_name(CloseReason::kUndefined), "undefined");
}

}  // namespace
}  // namespace liaison::agent

namespace liaison::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(FakeNotifierTest, RecordsShowsAndKeepsTheIdOfADedupIdOnScreen) {
  FakeNotifier notifier;
  Notification notification;
  notification.dedup_id = "disk";

  uint32_t first = notifier.show(notification).value();
  uint32_t again = notifier.show(notification).value();
  uint32_t other = notifier.show(Notification{}).value();

  EXPECT_EQ(again, first);
  EXPECT_NE(other, first);
  ASSERT_EQ(notifier.shown().size(), 3u);
  EXPECT_EQ(notifier.last_shown().id, other);
  notifier.close(first, CloseReason::kDismissed);
  EXPECT_FALSE(notifier.is_on_screen(first));
  EXPECT_NE(notifier.show(notification).value(), first);
}

TEST(FakeNotifierTest, FiresEventsAndFailsOnRequest) {
  std::vector<std::pair<uint32_t, std::string>> actions;
  std::vector<std::pair<uint32_t, CloseReason>> closes;
  FakeNotifier notifier(NotifierEvents{
      .on_action = [&](uint32_t id,
                       const std::string& action) { actions.emplace_back(id, action); },
      .on_closed = [&](uint32_t id, CloseReason reason) { closes.emplace_back(id, reason); }});

  uint32_t id = notifier.show(Notification{}).value();
  notifier.click(id);
  notifier.click(id, "restart");
  notifier.close(id, CloseReason::kExpired);
  notifier.fail_next_show("no notification server");

  EXPECT_THAT(actions, ElementsAre(Pair(id, "default"), Pair(id, "restart")));
  EXPECT_THAT(closes, ElementsAre(Pair(id, CloseReason::kExpired)));
  EXPECT_EQ(notifier.show(Notification{}).error(), "no notification server");
  EXPECT_TRUE(notifier.show(Notification{}).has_value());
}

}  // namespace
}  // namespace liaison::agent
