#include "daemon/session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace liaison::daemon {
namespace {

Session graphical_session() {
  Session session;
  session.id = "3";
  session.uid = 1001;
  session.user = "alice";
  session.type = "x11";
  session.session_class = "user";
  session.state = "active";
  session.seat = "seat0";
  session.display = ":0";
  session.leader = 1234;
  return session;
}

struct EligibilityCase {
  std::string name;
  // Applied to graphical_session() and to the default rules.
  void (*change_session)(Session&);
  void (*change_rules)(EligibilityRules&);
  std::string expected_reason;  // empty: eligible
};

void no_change_session(Session&) {}
void no_change_rules(EligibilityRules&) {}

class EligibilityTest : public testing::TestWithParam<EligibilityCase> {};

TEST_P(EligibilityTest, GivesTheExpectedReason) {
  const EligibilityCase& test_case = GetParam();
  Session session = graphical_session();
  EligibilityRules rules;
  test_case.change_session(session);
  test_case.change_rules(rules);
  EXPECT_EQ(ineligibility_reason(session, rules), test_case.expected_reason);
  EXPECT_EQ(is_eligible(session, rules), test_case.expected_reason.empty());
}

const std::vector<EligibilityCase> kCases = {
    {"ActiveX11", no_change_session, no_change_rules, ""},
    {"Wayland", [](Session& s) { s.type = "wayland"; }, no_change_rules, ""},
    {"Mir", [](Session& s) { s.type = "mir"; }, no_change_rules, ""},
    {"MacosAqua", [](Session& s) { s.type = "aqua"; }, no_change_rules, ""},
    {"OnlineIsEligible", [](Session& s) { s.state = "online"; }, no_change_rules, ""},
    {"NoSeatIsFine", [](Session& s) { s.seat.clear(); }, no_change_rules, ""},
    {"Greeter", [](Session& s) { s.session_class = "greeter"; }, no_change_rules, "class greeter"},
    {"LockScreen", [](Session& s) { s.session_class = "lock-screen"; }, no_change_rules,
     "class lock-screen"},
    {"Background", [](Session& s) { s.session_class = "background"; }, no_change_rules,
     "class background"},
    {"Manager", [](Session& s) { s.session_class = "manager"; }, no_change_rules, "class manager"},
    {"EmptyClass", [](Session& s) { s.session_class.clear(); }, no_change_rules, "class (none)"},
    {"Tty", [](Session& s) { s.type = "tty"; }, no_change_rules, "type tty (include_tty is off)"},
    {"Unspecified", [](Session& s) { s.type = "unspecified"; }, no_change_rules,
     "type unspecified (include_tty is off)"},
    {"TtyIncluded", [](Session& s) { s.type = "tty"; },
     [](EligibilityRules& r) { r.include_tty = true; }, ""},
    {"UnspecifiedIncluded", [](Session& s) { s.type = "unspecified"; },
     [](EligibilityRules& r) { r.include_tty = true; }, ""},
    {"UnknownTypeEvenWithTty", [](Session& s) { s.type = "web"; },
     [](EligibilityRules& r) { r.include_tty = true; }, "type web"},
    {"EmptyType", [](Session& s) { s.type.clear(); }, no_change_rules, "type (none)"},
    {"Closing", [](Session& s) { s.state = "closing"; }, no_change_rules, "state closing"},
    // logind 252 announces a session as "opening" first, then "active" moments later.
    {"Opening", [](Session& s) { s.state = "opening"; }, no_change_rules, "state opening"},
    {"EmptyState", [](Session& s) { s.state.clear(); }, no_change_rules, "state (none)"},
    {"Remote", [](Session& s) { s.remote = true; }, no_change_rules,
     "remote session (include_remote is off)"},
    {"RemoteIncluded", [](Session& s) { s.remote = true; },
     [](EligibilityRules& r) { r.include_remote = true; }, ""},
    {"SystemUid", [](Session& s) { s.uid = 999; }, no_change_rules, "uid 999 below min_uid 1000"},
    {"Root", [](Session& s) { s.uid = 0; }, no_change_rules, "uid 0 below min_uid 1000"},
    {"UidAtMinimum", [](Session& s) { s.uid = 1000; }, no_change_rules, ""},
    {"LoweredMinimum", [](Session& s) { s.uid = 500; },
     [](EligibilityRules& r) { r.min_uid = 500; }, ""},
    {"RaisedMinimum", no_change_session, [](EligibilityRules& r) { r.min_uid = 2000; },
     "uid 1001 below min_uid 2000"},
    // Several faults: the class is named first, as it is the most telling.
    {"ClassBeforeEverythingElse",
     [](Session& s) {
       s.session_class = "greeter";
       s.type = "tty";
       s.remote = true;
       s.uid = 100;
     },
     no_change_rules, "class greeter"},
    {"TypeBeforeState",
     [](Session& s) {
       s.type = "tty";
       s.state = "closing";
     },
     no_change_rules, "type tty (include_tty is off)"},
    {"StateBeforeRemote",
     [](Session& s) {
       s.state = "closing";
       s.remote = true;
     },
     no_change_rules, "state closing"},
    {"RemoteBeforeUid",
     [](Session& s) {
       s.remote = true;
       s.uid = 10;
     },
     no_change_rules, "remote session (include_remote is off)"},
    {"EverythingWidened",
     [](Session& s) {
       s.type = "tty";
       s.remote = true;
       s.state = "online";
       s.uid = 0;
     },
     [](EligibilityRules& r) {
       r.include_tty = true;
       r.include_remote = true;
       r.min_uid = 0;
     },
     ""},
};

INSTANTIATE_TEST_SUITE_P(Table, EligibilityTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<EligibilityCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace liaison::daemon
