#include "keys/label.h"

#include <gtest/gtest.h>

#include <string>

namespace liaison::keys {
namespace {

TEST(CheckLabel, AcceptsTheAllowedAlphabet) {
  for (std::string_view label :
       {"a", "work", "ssh-signing_2026.v1", "A.B-C_D", "-x", "x.", "0", "x.."}) {
    EXPECT_TRUE(check_label(label)) << label;
  }
  EXPECT_TRUE(check_label(std::string(64, 'k')));
}

TEST(CheckLabel, RefusesEmptyAndTooLong) {
  auto empty = check_label("");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("empty"), std::string::npos);
  auto long_label = check_label(std::string(65, 'k'));
  ASSERT_FALSE(long_label);
  EXPECT_NE(long_label.error().find("65"), std::string::npos) << long_label.error();
  EXPECT_NE(long_label.error().find("64"), std::string::npos) << long_label.error();
}

TEST(CheckLabel, RefusesDotNamesThatWouldBeSpecialFiles) {
  for (std::string_view label : {".", "..", ".hidden", ".tmp-work.json"}) {
    auto result = check_label(label);
    ASSERT_FALSE(result) << label;
    EXPECT_NE(result.error().find("may not start with '.'"), std::string::npos) << result.error();
  }
}

TEST(CheckLabel, RefusesCharactersOutsideTheAlphabetAndSaysWhere) {
  auto slash = check_label("../etc/passwd");
  ASSERT_FALSE(slash);
  EXPECT_NE(slash.error().find("'/' at position 3"), std::string::npos) << slash.error();
  for (std::string_view label :
       std::initializer_list<std::string_view>{"a b", "a/b", "a\\b", "caf\xc3\xa9", "a:b", "a*",
                                               "tab\t", std::string_view("nul\0x", 5)}) {
    EXPECT_FALSE(check_label(label)) << label;
  }
}

TEST(CheckLabel, ShowsControlCharactersEscaped) {
  auto result = check_label("bad\n\x1b[31m");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().find('\n'), std::string::npos);
  EXPECT_EQ(result.error().find('\x1b'), std::string::npos);
  EXPECT_NE(result.error().find("\\x0a"), std::string::npos) << result.error();
}

}  // namespace
}  // namespace liaison::keys
