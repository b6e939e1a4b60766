#include "platform/macos/scutil_console_user.h"

#include <gtest/gtest.h>

#include "platform/macos/macos_test_support.h"

namespace liaison::platform::macos {
namespace {

using testing::read_fixture;

ConsoleUserState parse_fixture(const std::string& name) {
  auto state = parse_console_user_state(read_fixture(name));
  EXPECT_TRUE(state.has_value()) << state.error();
  return state.value_or(ConsoleUserState{});
}

TEST(ScutilParse, ReadsNestedDictionariesAndArrays) {
  auto root = parse_scutil_dictionary(read_fixture("scutil_one_user.txt"));
  ASSERT_TRUE(root.has_value()) << root.error();
  const std::optional<ScutilNode>& node = *root;
  ASSERT_TRUE(node.has_value());
  const auto* sessions =
      node->find("SessionInfo");  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  ASSERT_NE(sessions, nullptr);
  EXPECT_EQ(sessions->kind, ScutilNode::Kind::kArray);
  ASSERT_EQ(sessions->children.size(), 1u);
  EXPECT_EQ(sessions->children[0].key, "0");
  EXPECT_EQ(sessions->children[0].value.find("kCGSessionLongUserNameKey")->scalar, "Erik Berglund");
}

TEST(ScutilParse, NoSuchKeyIsAnAbsentKeyNotAnError) {
  auto root = parse_scutil_dictionary("  No such key\n");
  ASSERT_TRUE(root.has_value());
  EXPECT_FALSE(root->has_value());
  auto state = parse_console_user_state("  No such key\n");
  ASSERT_TRUE(state.has_value());
  EXPECT_FALSE(user_on_console(*state));
  EXPECT_TRUE(gui_sessions(*state).empty());
}

TEST(ScutilParse, TruncatedOutputIsAnError) {
  // The swiftDialog#502 sample is cut off mid-dictionary in the issue it comes from.
  auto state = parse_console_user_state(read_fixture("scutil_before_first_login_partial.txt"));
  EXPECT_FALSE(state.has_value());
}

TEST(ScutilParse, RejectsTextThatIsNotADictionary) {
  EXPECT_FALSE(parse_console_user_state("").has_value());
  EXPECT_FALSE(parse_console_user_state("hello\n").has_value());
  EXPECT_FALSE(parse_console_user_state("<dictionary> {\n  garbage\n}\n").has_value());
  EXPECT_FALSE(parse_console_user_state("<dictionary> {\n}\n}\n").has_value());
}

TEST(ConsoleUser, OneUserIsOnConsole) {
  const auto state = parse_fixture("scutil_one_user.txt");
  EXPECT_EQ(state.name, "erikberglund");
  EXPECT_EQ(state.uid, 501u);
  EXPECT_EQ(user_on_console(state), 501u);
  const auto sessions = gui_sessions(state);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0], (daemon::Session{.id = "257",
                                          .uid = 501,
                                          .user = "erikberglund",
                                          .type = "aqua",
                                          .session_class = "user",
                                          .state = "active"}));
}

TEST(ConsoleUser, FastUserSwitchingGivesOneActiveAndOneOnlineSession) {
  const auto state = parse_fixture("scutil_two_users_fast_user_switching.txt");
  EXPECT_EQ(user_on_console(state), 501u);
  const auto sessions = gui_sessions(state);
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].id, "257");
  EXPECT_EQ(sessions[0].user, "jandoe");
  EXPECT_EQ(sessions[0].state, "active");
  EXPECT_EQ(sessions[1].id, "265");
  EXPECT_EQ(sessions[1].uid, 502u);
  EXPECT_EQ(sessions[1].user, "jrdoe");
  EXPECT_EQ(sessions[1].state, "online");
}

TEST(ConsoleUser, BeforeFirstLoginNobodyIsOnConsole) {
  // The verbatim sample ends inside the entry; close it as scutil would.
  auto text = read_fixture("scutil_before_first_login_partial.txt") + "    }\n  }\n}\n";
  auto state = parse_console_user_state(text);
  ASSERT_TRUE(state.has_value()) << state.error();
  EXPECT_FALSE(state->name);
  ASSERT_EQ(state->sessions.size(), 1u);
  EXPECT_TRUE(state->sessions[0].on_console);
  EXPECT_FALSE(user_on_console(*state));
  EXPECT_TRUE(gui_sessions(*state).empty());
}

TEST(ConsoleUser, LoginWindowUnderFastUserSwitchingMeansNobody) {
  // Only `Name : loginwindow` and `UID : 0` are known from real output (macos-facts.md gap):
  // SessionInfo keeps the switched-away users, one possibly still marked on console.
  auto state = parse_fixture("scutil_two_users_fast_user_switching.txt");
  state.name = "loginwindow";
  state.uid = 0;
  EXPECT_FALSE(user_on_console(state));
  const auto sessions = gui_sessions(state);
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions[0].state, "online");
  EXPECT_EQ(sessions[1].state, "online");
}

TEST(ConsoleUser, MismatchBetweenTopLevelUidAndOnConsoleEntryMeansNobody) {
  // macOS 12.6: after switching to B's first-ever login, A's entry stays on console while UID is B.
  auto state = parse_fixture("scutil_two_users_fast_user_switching.txt");
  state.name = "jrdoe";
  state.uid = 502;
  EXPECT_FALSE(user_on_console(state));
  for (const auto& session : gui_sessions(state)) {
    EXPECT_EQ(session.state, "online");
  }
}

TEST(ConsoleUser, SetupAssistantAndSystemAccountsGetNoSession) {
  auto state = parse_fixture("scutil_one_user.txt");
  state.name = "_mbsetupuser";
  EXPECT_FALSE(user_on_console(state));

  auto setup = parse_fixture("scutil_one_user.txt");
  setup.name = "_mbsetupuser";
  setup.uid = 248;
  setup.sessions[0].user = "_mbsetupuser";
  setup.sessions[0].uid = 248;
  EXPECT_FALSE(user_on_console(setup));
  EXPECT_TRUE(gui_sessions(setup).empty());

  auto below_first_human = parse_fixture("scutil_one_user.txt");
  below_first_human.uid = 500;
  below_first_human.sessions[0].uid = 500;
  EXPECT_FALSE(user_on_console(below_first_human));
  EXPECT_TRUE(gui_sessions(below_first_human).empty());
}

}  // namespace
}  // namespace liaison::platform::macos
