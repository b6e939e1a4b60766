#include "common/toml_ascii.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace liaison {
namespace {

std::string rewritten(std::string_view text) {
  auto ascii = ascii_toml(text);
  EXPECT_TRUE(ascii.has_value()) << ascii.error().message;
  return ascii ? *ascii : "";
}

std::string error_of(std::string_view text) {
  auto ascii = ascii_toml(text);
  EXPECT_FALSE(ascii.has_value()) << "rewritten as: " << *ascii;
  return ascii ? ""
               : fmt::format("{}:{}: {}", ascii.error().line, ascii.error().column,
                             ascii.error().message);
}

TEST(AsciiToml, AsciiTextIsLeftAsItIs) {
  const std::string text = "[a] # x\nb = \"c\\\"d\" # '\ne = '''f\n\"g'''\n";
  EXPECT_EQ(rewritten(text), text);
}

TEST(AsciiToml, BasicStringsGetEscapesAndCommentsQuestionMarks) {
  EXPECT_EQ(rewritten("a = \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\" # \xc3\xa9!\n"),
            "a = \"\\u00E9\\u20AC\\U0001F511\" # ?!\n");
  EXPECT_EQ(rewritten("a = \"\"\"x\\\n   \xd1\x9a\"\"\"\n"), "a = \"\"\"x\\\n   \\u045A\"\"\"\n");
  EXPECT_EQ(rewritten("a = \"\\\\\xd1\x9a\"\n"), "a = \"\\\\\\u045A\"\n");  // "\\" then the char
}

TEST(AsciiToml, RefusesWhatTomlDoesNotAllowSayingWhere) {
  EXPECT_EQ(error_of("a = 1\nb\xd1\x9a = 2\n"),
            "2:2: a non-ASCII character outside a string or a comment");
  EXPECT_EQ(error_of("a = \"\\\xd1\x9a\"\n"),
            "1:7: a non-ASCII character after a backslash (no TOML escape)");
  EXPECT_EQ(error_of("a = '''\n\xd1\x9a'''\n"),
            "2:1: a non-ASCII character in a literal ('...') string: write the value in \"...\"");
  EXPECT_EQ(error_of("a = \"\xff\"\n"), "1:6: a byte that is not UTF-8");
  EXPECT_EQ(error_of("a = \"\xed\xa0\x80\"\n"), "1:6: a byte that is not UTF-8");  // a surrogate
  EXPECT_EQ(error_of("a = \"\xc0\xaf\"\n"), "1:6: a byte that is not UTF-8");      // overlong
  EXPECT_EQ(error_of("a = \"\xe2\x82\"\n"), "1:6: a byte that is not UTF-8");      // cut short
}

TEST(AsciiToml, AOneLineStringEndsAtTheLineSoWhatFollowsIsOutsideIt) {
  EXPECT_EQ(error_of("a = \"open\n\xd1\x9a\n"),
            "2:1: a non-ASCII character outside a string or a comment");
}

}  // namespace
}  // namespace liaison
