#include "common/log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

namespace liaison::log {
namespace {

TEST(Untrusted, KeepsPlainTextAsItIs) { EXPECT_EQ(untrusted("c2 seat0-x_1"), "c2 seat0-x_1"); }

// Issue 11, attack 6: a newline or an escape sequence in a peer's string must not start a forged
// line or repaint a terminal, and a megabyte must not reach the journal.
TEST(Untrusted, EscapesWhatCouldForgeALine) {
  EXPECT_EQ(untrusted("a\nliaison[1]: fake\x1b[2J\\"), "a\\x0aliaison[1]: fake\\x1b[2J\\x5c");
  EXPECT_EQ(untrusted("caf\xc3\xa9"), "caf\\xc3\\xa9");
}

// Issue 24: the text is quoted in the log message ("session \"{}\""); a quote inside it once
// ended that quote early, so a peer could append what looked like the daemon's own words.
TEST(Untrusted, EscapesTheQuoteThatWouldEndItsQuotation) {
  EXPECT_EQ(untrusted(R"(c2" (accepted for uid 0))"), R"(c2\x22 (accepted for uid 0))");
}

TEST(Untrusted, CutsLongTextAndSaysHowLongItWas) {
  const std::string huge(1'000'000, 's');
  const std::string safe = untrusted(huge, 100);
  EXPECT_EQ(safe, fmt::format("{}... (1000000 bytes)", std::string(100, 's')));
}

}  // namespace
}  // namespace liaison::log
