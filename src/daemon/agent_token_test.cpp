#include "daemon/agent_token.h"

#include <gtest/gtest.h>

#include <set>

namespace liaison::daemon {
namespace {

TEST(AgentToken, IsSixtyFourHexDigitsAndNeverRepeats) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string token = make_agent_token();
    ASSERT_EQ(token.size(), 64u);
    ASSERT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
    ASSERT_TRUE(seen.insert(token).second) << "a token repeated";
  }
}

TEST(AgentToken, MatchesOnlyTheExactToken) {
  const std::string token = make_agent_token();
  EXPECT_TRUE(tokens_match(token, token));
  std::string last_differs = token;
  last_differs.back() = last_differs.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(tokens_match(token, last_differs));
  EXPECT_FALSE(tokens_match(token, token.substr(0, 63)));
  EXPECT_FALSE(tokens_match(token, token + "0"));
  EXPECT_FALSE(tokens_match(token, ""));
}

TEST(AgentToken, AnEmptyExpectedTokenMatchesNothing) {
  // A slot whose token was consumed holds an empty string: nothing may match it, not even "".
  EXPECT_FALSE(tokens_match("", ""));
}

TEST(AgentToken, DigestIsTheHexSha256AndDiffersFromTheToken) {
  EXPECT_EQ(token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string token = make_agent_token();
  EXPECT_NE(token_digest(token), token);
  EXPECT_TRUE(tokens_match(token_digest(token), token_digest(token)));
}

}  // namespace
}  // namespace liaison::daemon
