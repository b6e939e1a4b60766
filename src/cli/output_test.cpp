#include "cli/output.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "cli/control_client.h"

namespace liaison::cli {
namespace {

using protocol::Json;

TEST(FormatTable, AlignsColumnsToTheWidestCell) {
  EXPECT_EQ(format_table({{"A", "BB", "C"}, {"long", "x", "y"}}), "A     BB  C\nlong  x   y\n");
}

TEST(FormatSessions, ShowsOneRowPerSessionWithItsAgent) {
  Json sessions = Json::parse(R"([{"session":"3","uid":1001,"user":"alice","type":"x11",
    "class":"user","seat":"seat0","active":true,"remote":false,
    "agent":{"state":"ready","pid":42,"strategy":"exec","since":"2026-11-29T12:00:00Z"}}])");
  const std::string table = format_sessions(sessions);
  EXPECT_NE(table.find("SESSION"), std::string::npos);
  EXPECT_NE(table.find("alice"), std::string::npos);
  EXPECT_NE(table.find("ready"), std::string::npos);
  EXPECT_NE(table.find("seat0"), std::string::npos);
  EXPECT_EQ(format_sessions(Json::array()), "no eligible sessions\n");
}

TEST(FormatNotifyResults, NamesEachFailureAndEachAnswer) {
  Json results = Json::parse(R"({"results":[
    {"session":"3","uid":1001,"user":"alice","delivered":true,"notification_id":7,
     "action":"restart","closed":"dismissed"},
    {"session":null,"uid":1003,"user":"carol","delivered":false,
     "error":{"code":"no_session","message":"carol has no eligible session"}}]})");
  EXPECT_EQ(format_notify_results(results),
            "delivered to alice (session 3) as notification 7; clicked: restart\n"
            "failed for carol: carol has no eligible session\n");
}

Json doctor_report() {
  return Json::parse(R"({"ok":false,
    "daemon":{"version":"0.1.0","pid":96,"strategy":"exec","findings":[
      {"check":"daemon","status":"ok","detail":"liaison 0.1.0 pid 96"},
      {"check":"tpm","status":"warn","detail":"no TPM","hint":"set [keys] backend"}]},
    "sessions":[{"session":"953","uid":1003,"user":"carol","type":"x11","eligible":true,
      "agent":{"state":"ready","pid":219,"strategy":"exec","since":"2026-11-29T15:33:30Z"},
      "findings":[
        {"check":"agent","status":"ok","detail":"ready"},
        {"check":"notification-server","status":"fail","detail":"no server",
         "hint":"start a notification server"},
        {"check":"setuid-only-child","status":"info","detail":"No medium found"}]},
      {"session":"955","uid":1002,"user":"bob","type":"tty","eligible":false,"agent":null,
       "findings":[{"check":"eligible","status":"info","detail":"type tty"}]}]})");
}

TEST(FormatDoctor, MarksEachFindingAlignsTheChecksAndPutsTheFixUnderEachProblem) {
  EXPECT_EQ(format_doctor(doctor_report(), /*colour=*/false),
            "daemon  liaison 0.1.0 pid 96  launch strategy exec\n"
            "  ✓ daemon  liaison 0.1.0 pid 96\n"
            "  ! tpm     no TPM\n"
            "    fix: set [keys] backend\n"
            "\n"
            "session 953  carol (uid 1003)  x11  agent ready (exec)\n"
            "  ✓ agent                ready\n"
            "  ✗ notification-server  no server\n"
            "    fix: start a notification server\n"
            "  · setuid-only-child    No medium found\n"
            "\n"
            "session 955  bob (uid 1002)  tty  not eligible\n"
            "  · eligible  type tty\n"
            "\n"
            "1 check failed, 1 warning\n");
}

TEST(FormatDoctor, ColoursOnlyWhenAskedTo) {
  const std::string plain = format_doctor(doctor_report(), false);
  const std::string coloured_text = format_doctor(doctor_report(), true);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_NE(coloured_text.find("\x1b[31m✗\x1b[0m notification-server"), std::string::npos)
      << coloured_text;
  EXPECT_NE(coloured_text.find("\x1b[32m✓\x1b[0m agent"), std::string::npos);
  EXPECT_NE(coloured_text.find("\x1b[31m1 check failed, 1 warning\x1b[0m"), std::string::npos);
}

TEST(FormatDoctor, AnUnreachableDaemonHasNoVersionLine) {
  Json report = Json::parse(R"({"ok":false,"daemon":{"version":null,"pid":null,
    "strategy":null,"findings":[{"check":"daemon","status":"fail","detail":"unreachable",
    "hint":"systemctl start liaison"}]},"sessions":[]})");
  EXPECT_EQ(format_doctor(report, false),
            "daemon\n"
            "  ✗ daemon  unreachable\n"
            "    fix: systemctl start liaison\n"
            "\n"
            "1 check failed\n");
}

TEST(StdoutWantsColour, NeverOffATerminal) {
  // ctest runs tests with stdout on a pipe or a file.
  if (::isatty(STDOUT_FILENO) != 0) {
    GTEST_SKIP() << "stdout is a terminal here";
  }
  EXPECT_FALSE(stdout_wants_colour());
}

TEST(ExitStatus, FollowsTheContract) {
  using protocol::Error;
  namespace codes = protocol::codes;
  EXPECT_EQ(exit_status_for(Error::application(codes::kNoSession, "")), kExitNoSession);
  EXPECT_EQ(exit_status_for(Error::application(codes::kNotPermitted, "")), kExitUnreachable);
  EXPECT_EQ(exit_status_for(Error::invalid_params("")), kExitUsage);
  EXPECT_EQ(exit_status_for(Error::application(codes::kRateLimited, "")), kExitFailed);
}

}  // namespace
}  // namespace liaison::cli
