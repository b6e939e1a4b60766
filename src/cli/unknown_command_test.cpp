#include "cli/unknown_command.h"

#include <gtest/gtest.h>

#include <vector>

namespace liaison::cli {
namespace {

class UnknownCommandTest : public testing::Test {
 protected:
  UnknownCommandTest() {
    app_.name("liaison");
    app_.add_subcommand("notify", "");
    app_.add_subcommand("sessions", "");
    app_.add_subcommand("presence", "");
    CLI::App* key = app_.add_subcommand("key", "");
    key->add_subcommand("create", "");
    key->add_subcommand("sign", "");
  }

  std::optional<std::string> error_for(std::vector<const char*> args) {
    return unknown_command_error(app_, args);
  }

  CLI::App app_;
};

TEST_F(UnknownCommandTest, NamesTheWordAndSuggestsTheNearestCommand) {
  EXPECT_EQ(
      error_for({"presense", "--help"}),
      "unknown command \"presense\" (did you mean \"presence\"?); `liaison --help` lists them");
  EXPECT_EQ(
      error_for({"sesions"}),
      "unknown command \"sesions\" (did you mean \"sessions\"?); `liaison --help` lists them");
  EXPECT_EQ(error_for({"not"}),  // a beginning of a command is a close one too
            "unknown command \"not\" (did you mean \"notify\"?); `liaison --help` lists them");
}

TEST_F(UnknownCommandTest, ASubcommandsWordIsCheckedAgainstItsOwnCommands) {
  EXPECT_EQ(
      error_for({"key", "creat", "--user", "alice"}),
      "unknown command \"creat\" (did you mean \"create\"?); `liaison key --help` lists them");
}

TEST_F(UnknownCommandTest, AWordFarFromEveryCommandGetsNoSuggestion) {
  EXPECT_EQ(error_for({"frobnicate"}),
            "unknown command \"frobnicate\"; `liaison --help` lists them");
}

TEST_F(UnknownCommandTest, KnownCommandsOptionsAndArgumentsPass) {
  EXPECT_EQ(error_for({}), std::nullopt);
  EXPECT_EQ(error_for({"--help"}), std::nullopt);
  EXPECT_EQ(error_for({"notify", "--title", "x"}), std::nullopt);
  EXPECT_EQ(error_for({"key", "sign", "anything", "else"}), std::nullopt);
  EXPECT_EQ(error_for({"key", "--help"}), std::nullopt);
}

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(edit_distance("presense", "presence"), 1U);
  EXPECT_EQ(edit_distance("", "abc"), 3U);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3U);
  EXPECT_EQ(edit_distance("same", "same"), 0U);
}

}  // namespace
}  // namespace liaison::cli
