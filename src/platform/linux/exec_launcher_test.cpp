#include "platform/linux/exec_launcher.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "platform/linux/session_environment.h"

namespace liaison::platform {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

// A user that exists only in this test's private mount namespace, where /etc/passwd and
// /etc/group are bind-mounted copies: nothing on the host changes.
constexpr uid_t kTestUid = 64123;
constexpr gid_t kTestGid = 64123;
constexpr gid_t kExtraGid = 64124;  // lists the test user as a member
constexpr gid_t kOtherGid = 64125;  // does not
constexpr char kTestUser[] = "liaison-exec-test";
constexpr char kToken[] = "0123456789abcdef-one-time-token";

std::string read_file(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream file(path);
  file << content;
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd poll_fd{.fd = fd, .events = POLLIN, .revents = 0};
  return poll(&poll_fd, 1, timeout_ms) == 1;
}

class ExecLauncherTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      return;
    }
    setup_error_ = prepare();
  }

  static void TearDownTestSuite() {
    if (!directory_.empty()) {
      std::error_code ignored;
      fs::remove_all(directory_, ignored);
    }
  }

  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: the launcher drops to another user (make test runs as root)";
    }
    ASSERT_EQ(setup_error_, "");
    output_ = directory_ / "out" / testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  // The temp tree, the fake accounts and the private mount namespace; an error text or "".
  static std::string prepare() {
    char pattern[] = "/tmp/liaison-exec-test-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      return "mkdtemp failed";
    }
    directory_ = pattern;
    fs::permissions(directory_, fs::perms(0755));
    home_ = directory_ / "home";
    fs::create_directory(home_);
    fs::create_directory(directory_ / "out");
    if (chown(home_.c_str(), kTestUid, kTestGid) != 0 ||
        chown((directory_ / "out").c_str(), kTestUid, kTestGid) != 0) {
      return "chown failed";
    }
    child_ = directory_ / "child";
    fs::copy_file(EXEC_LAUNCHER_TEST_CHILD, child_);
    fs::permissions(child_, fs::perms(0755));

    write_file(directory_ / "passwd", read_file("/etc/passwd") + fmt_user_line() + "\n");
    write_file(directory_ / "group",
               read_file("/etc/group") + std::string(kTestUser) + ":x:" + std::to_string(kTestGid) +
                   ":\n" + "liaison-exec-extra:x:" + std::to_string(kExtraGid) + ":nobody," +
                   kTestUser + "\n" + "liaison-exec-other:x:" + std::to_string(kOtherGid) +
                   ":nobody\n");
    if (unshare(CLONE_NEWNS) != 0) {
      return "unshare(CLONE_NEWNS) failed";
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return "make-rprivate failed";
    }
    if (mount((directory_ / "passwd").c_str(), "/etc/passwd", nullptr, MS_BIND, nullptr) != 0 ||
        mount((directory_ / "group").c_str(), "/etc/group", nullptr, MS_BIND, nullptr) != 0) {
      return "bind mount of /etc/passwd or /etc/group failed";
    }
    return "";
  }

  static std::string fmt_user_line() {
    return std::string(kTestUser) + ":x:" + std::to_string(kTestUid) + ":" +
           std::to_string(kTestGid) + "::" + home_.string() + ":/bin/sh";
  }

  static daemon::Session test_session() {
    daemon::Session session;
    session.id = "c42";
    session.uid = kTestUid;
    session.user = kTestUser;
    session.type = "x11";
    session.session_class = "user";
    session.state = "active";
    return session;
  }

  static std::vector<std::string> fixed_environment() {
    return {"HOME=" + home_.string(), "PATH=/usr/bin:/bin", "DISPLAY=:5"};
  }

  ExecLauncher launcher_with(std::vector<std::string> extra_arguments,
                             EnvironmentProvider provider = nullptr) {
    std::vector<std::string> command = {child_.string(), output_.string()};
    command.insert(command.end(), extra_arguments.begin(), extra_arguments.end());
    if (!provider) {
      provider = [](const daemon::Session&) { return fixed_environment(); };
    }
    return ExecLauncher(command, "/run/liaison/agent.sock", provider);
  }

  nlohmann::json report() const { return nlohmann::json::parse(read_file(output_)); }

  // Waits until the child wrote its report (children that stay alive).
  bool wait_for_report() const {
    for (int attempt = 0; attempt < 500; ++attempt) {
      if (fs::exists(output_)) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  static inline std::string setup_error_;
  static inline fs::path directory_;
  static inline fs::path home_;
  static inline fs::path child_;
  fs::path output_;
};

// Waits (through the pidfd) for a launched child that fails before execve, reaps it, and returns
// what the launch says went wrong.
std::string start_failure_after_exit(ExecLauncher& launcher, daemon::LaunchedAgent& launched) {
  if (!wait_readable(launched.exit_fd.get(), 10'000)) {
    return "(the child is still running)";
  }
  auto status = launcher.reap(launched);
  EXPECT_TRUE(status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 127)
      << "a failed step exits with 127";
  return launched.start_failure ? launched.start_failure() : "(no start_failure)";
}

std::vector<std::string> with_launch_variables(std::vector<std::string> environment) {
  environment.push_back("LIAISON_SESSION=c42");
  environment.push_back("LIAISON_AGENT_SOCKET=/run/liaison/agent.sock");
  environment.push_back("LIAISON_TOKEN_FD=3");
  return environment;
}

TEST_F(ExecLauncherTest, DropsToTheSessionUserWithACleanProcessState) {
  // Things a daemon may have that must not reach the agent: an inheritable fd, ignored and
  // handled signals, a blocked signal.
  int leaked_fd = open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked_fd, 0);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous_pipe {};
  sigaction(SIGPIPE, &ignore, &previous_pipe);
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, nullptr);

  ExecLauncher launcher = launcher_with({"exit:0"});
  auto launched = launcher.launch(test_session(), kToken);

  sigprocmask(SIG_UNBLOCK, &usr2, nullptr);
  sigaction(SIGPIPE, &previous_pipe, nullptr);
  close(leaked_fd);
  ASSERT_TRUE(launched) << launched.error();
  ASSERT_TRUE(launched->exit_fd.valid());
  ASSERT_TRUE(wait_readable(launched->exit_fd.get(), 5000));
  auto status = reap(launched->exit_fd);
  ASSERT_TRUE(status.has_value());
  const int wait_status = *status;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);

  nlohmann::json child = report();
  EXPECT_EQ(child["pid"].get<pid_t>(), launched->pid);
  EXPECT_EQ(child["uid"], nlohmann::json({kTestUid, kTestUid, kTestUid}));
  EXPECT_EQ(child["gid"], nlohmann::json({kTestGid, kTestGid, kTestGid}));
  auto groups = child["groups"].get<std::vector<gid_t>>();
  std::sort(groups.begin(), groups.end());
  EXPECT_EQ(groups, (std::vector<gid_t>{kTestGid, kExtraGid}));  // getgrouplist, not kOtherGid
  EXPECT_FALSE(child["regain_root"].get<bool>());
  EXPECT_EQ(child["sid"], child["pid"]);  // a session of its own
  EXPECT_EQ(child["umask"].get<int>(), 077);
  EXPECT_EQ(child["fds"].get<std::vector<int>>(), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(child["stdin"].get<std::string>(), "/dev/null");
  EXPECT_EQ(child["cwd"].get<std::string>(), home_.string());
  EXPECT_EQ(child["signals"]["blocked"], nlohmann::json::array());
  EXPECT_EQ(child["signals"]["non_default"], nlohmann::json::array());
  EXPECT_EQ(child["token"].get<std::string>(), kToken);
  auto environment = child["environment"].get<std::vector<std::string>>();
  EXPECT_EQ(environment, with_launch_variables(fixed_environment()));
  auto argv = child["argv"].get<std::vector<std::string>>();
  EXPECT_EQ(argv, (std::vector<std::string>{child_.string(), output_.string(), "exit:0"}));
  for (const std::string& text : environment) {
    EXPECT_THAT(text, testing::Not(HasSubstr(kToken)));
  }
  for (const std::string& text : argv) {
    EXPECT_THAT(text, testing::Not(HasSubstr(kToken)));
  }
}

// Issue 11, attack 6: an exec agent wrote to the daemon's own journal stream on fd 2, so a
// hijacked agent's lines were recorded as the daemon's. With an output provider (the daemon's
// makes a journal stream of the agent's own) the agent's stdout and stderr are that, and its
// JOURNAL_STREAM names it.
TEST_F(ExecLauncherTest, AnOutputProviderGivesTheAgentAStreamOfItsOwn) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  struct stat stream {};
  ASSERT_EQ(fstat(write_end.get(), &stream), 0);
  std::vector<std::string> command = {child_.string(), output_.string(), "exit:0"};
  ExecLauncher launcher(
      command, "/run/liaison/agent.sock",
      [](const daemon::Session&) {
        return std::expected<std::vector<std::string>, std::string>(
            std::vector<std::string>{"PATH=/usr/bin:/bin", "JOURNAL_STREAM=1:2"});
      },
      [&](const daemon::Session&) -> std::expected<UniqueFd, std::string> {
        return UniqueFd(fcntl(write_end.get(), F_DUPFD_CLOEXEC, 0));
      });
  auto launched = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(launched) << launched.error();
  ASSERT_TRUE(wait_readable(launched->exit_fd.get(), 5000));
  launcher.reap(*launched);
  nlohmann::json child = report();
  EXPECT_EQ(child["stderr"], "pipe:[" + std::to_string(stream.st_ino) + "]");
  auto environment = child["environment"].get<std::vector<std::string>>();
  const std::string journal_stream =
      "JOURNAL_STREAM=" + std::to_string(stream.st_dev) + ":" + std::to_string(stream.st_ino);
  EXPECT_EQ(std::count(environment.begin(), environment.end(), journal_stream), 1);
  EXPECT_EQ(std::count(environment.begin(), environment.end(), "JOURNAL_STREAM=1:2"), 0)
      << "the provider's JOURNAL_STREAM (the daemon's) is not passed on";
}

TEST_F(ExecLauncherTest, ExitCodeArrivesThroughThePidfd) {
  ExecLauncher launcher = launcher_with({"exit:7"});
  auto launched = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(launched) << launched.error();
  ASSERT_TRUE(wait_readable(launched->exit_fd.get(), 5000));
  auto status = launcher.reap(*launched);
  ASSERT_TRUE(status.has_value());
  const int wait_status = *status;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  ASSERT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 7);
  EXPECT_EQ(reap(launched->exit_fd), 0);  // already reaped: nothing left to wait for
  ASSERT_TRUE(launched->start_failure);
  EXPECT_EQ(launched->start_failure(), "") << "it reached execve: no failed step";
}

// A FUSE file system over `path` whose server never answers: every access by another process
// blocks until the server goes, as a user's own FUSE mount over their home can make it. The
// server is a child process that holds /dev/fuse and never reads it; the test process holds no
// copy, so neither do the children the launcher forks, and stop() really ends the file system.
// allow_other, so the test user blocks instead of getting EACCES.
class FileSystemThatNeverAnswers {
 public:
  explicit FileSystemThatNeverAnswers(fs::path path) : path_(std::move(path)) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
      error_ = "pipe2 failed";
      return;
    }
    server_ = fork();
    if (server_ == 0) {
      int result = 0;
      const int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
      const std::string options =
          "fd=" + std::to_string(fuse) + ",rootmode=40000,user_id=0,group_id=0,allow_other";
      if (fuse < 0 || mount("liaison-test", path_.c_str(), "fuse.liaison-test",
                            MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
        result = errno;
      }
      [[maybe_unused]] ssize_t written = write(ready[1], &result, sizeof(result));
      for (;;) {
        pause();  // holds the fd, answers nothing
      }
    }
    close(ready[1]);
    int result = -1;
    if (read(ready[0], &result, sizeof(result)) != sizeof(result) || result != 0) {
      error_ = std::string("mounting a FUSE file system: ") + strerror(result > 0 ? result : EIO);
    }
    close(ready[0]);
  }

  ~FileSystemThatNeverAnswers() {
    stop();
    umount2(path_.c_str(), MNT_DETACH);
  }

  // The server goes away: the kernel aborts the connection, and every access fails at once.
  void stop() {
    if (server_ > 0) {
      kill(server_, SIGKILL);
      waitpid(server_, nullptr, 0);
      server_ = -1;
    }
  }

  const std::string& error() const { return error_; }

 private:
  fs::path path_;
  pid_t server_ = -1;
  std::string error_;
};

// Issue 11 attack 2, confirmed by issue 24 on the running daemon: the child, already the user,
// chdir()s into a home that never answers. launch() waited up to 5 s for execve, then sent
// SIGKILL and waited for the child with no deadline: the daemon's only thread hung for good.
// Now launch() returns at once, and the child is reaped through its pidfd whenever it ends:
// when killed, or when the hostile mount goes away.
TEST_F(ExecLauncherTest, AHomeThatNeverAnswersDoesNotHoldTheLaunch) {
  if (access("/dev/fuse", F_OK) != 0) {
    GTEST_SKIP() << "no /dev/fuse on this machine: the FUSE home is performed in the e2e "
                    "container's test too, which fails without it";
  }
  FileSystemThatNeverAnswers hung_home(home_);
  ASSERT_EQ(hung_home.error(), "");
  ExecLauncher launcher = launcher_with({"exit:0"});

  auto killed = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(killed) << killed.error();
  EXPECT_FALSE(wait_readable(killed->exit_fd.get(), 200)) << "the child is held in the home";
  launcher.send_signal(*killed, SIGKILL);
  ASSERT_TRUE(wait_readable(killed->exit_fd.get(), 10'000));
  auto status = launcher.reap(*killed);
  EXPECT_TRUE(status.has_value() && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);

  auto freed = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(freed) << freed.error();
  EXPECT_FALSE(wait_readable(freed->exit_fd.get(), 200)) << "the child is held in the home";
  hung_home.stop();  // the home now fails at once, and the child goes on
  ASSERT_TRUE(wait_readable(freed->exit_fd.get(), 10'000));
  status = launcher.reap(*freed);
  EXPECT_TRUE(status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_EQ(report()["cwd"], "/") << "a home that cannot be entered leaves the agent in /";
}

TEST_F(ExecLauncherTest, RunningAgentIsNotReapedAndDiesOfItsSignal) {
  ExecLauncher launcher = launcher_with({"wait"});
  auto launched = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(launched) << launched.error();
  ASSERT_TRUE(wait_for_report());
  EXPECT_FALSE(wait_readable(launched->exit_fd.get(), 0));
  EXPECT_EQ(launcher.reap(*launched), std::nullopt);
  launcher.send_signal(*launched, SIGTERM);
  ASSERT_TRUE(wait_readable(launched->exit_fd.get(), 5000));
  auto status = launcher.reap(*launched);
  ASSERT_TRUE(status.has_value());
  const int wait_status = *status;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  ASSERT_TRUE(WIFSIGNALED(wait_status));
  EXPECT_EQ(WTERMSIG(wait_status), SIGTERM);
}

TEST_F(ExecLauncherTest, RealProviderGivesExactlyTheBuiltEnvironment) {
  setenv("LIAISON_TEST_DAEMON_ONLY", "must-not-leak", 1);
  ExecLauncher launcher = launcher_with({"exit:0"}, agent_environment_for);
  auto launched = launcher.launch(test_session(), kToken);
  unsetenv("LIAISON_TEST_DAEMON_ONLY");
  ASSERT_TRUE(launched) << launched.error();
  ASSERT_TRUE(wait_readable(launched->exit_fd.get(), 5000));
  ASSERT_TRUE(reap(launched->exit_fd).has_value());

  auto inputs = gather_environment_inputs(test_session());
  ASSERT_TRUE(inputs) << inputs.error();
  auto expected = with_launch_variables(build_agent_environment(*inputs));
  auto environment = report()["environment"].get<std::vector<std::string>>();
  EXPECT_EQ(environment, expected);
  EXPECT_THAT(environment, testing::Contains("HOME=" + home_.string()));
  EXPECT_THAT(environment, testing::Contains("USER=liaison-exec-test"));
  EXPECT_THAT(environment, testing::Contains("XDG_RUNTIME_DIR=/run/user/64123"));
  EXPECT_THAT(environment,
              testing::Contains("DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/64123/bus"));
  for (const std::string& entry : environment) {
    EXPECT_THAT(entry, testing::Not(HasSubstr("must-not-leak")));
  }
}

TEST_F(ExecLauncherTest, MissingBinaryIsAClearError) {
  ExecLauncher launcher({"/nonexistent/liaison-agent", "agent"}, "/run/liaison/agent.sock",
                        [](const daemon::Session&) { return fixed_environment(); });
  auto launched = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(launched) << launched.error();
  EXPECT_EQ(start_failure_after_exit(launcher, *launched),
            "execve(/nonexistent/liaison-agent): No such file or directory");
}

TEST_F(ExecLauncherTest, NonExecutableBinaryIsAClearError) {
  fs::path not_executable = directory_ / "not-executable";
  write_file(not_executable, "#!/bin/sh\n");
  fs::permissions(not_executable, fs::perms(0644));
  ExecLauncher launcher({not_executable.string()}, "/run/liaison/agent.sock",
                        [](const daemon::Session&) { return fixed_environment(); });
  auto launched = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(launched) << launched.error();
  EXPECT_EQ(start_failure_after_exit(launcher, *launched),
            "execve(" + not_executable.string() + "): Permission denied");
}

// Without CAP_SETUID (as in a daemon confined too tightly) the child fails at setresuid, and
// says so, instead of dying silently or, worse, running on as root.
TEST_F(ExecLauncherTest, FailedSetresuidIsReportedWithItsErrno) {
  int result_pipe[2];
  ASSERT_EQ(pipe(result_pipe), 0);
  pid_t helper = fork();
  ASSERT_GE(helper, 0);
  if (helper == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    syscall(SYS_capget, &header, data);
    data[0].effective &= ~(1U << CAP_SETUID);
    data[0].permitted &= ~(1U << CAP_SETUID);
    syscall(SYS_capset, &header, data);
    ExecLauncher launcher = launcher_with({"exit:0"});
    auto launched = launcher.launch(test_session(), kToken);
    std::string message =
        launched ? start_failure_after_exit(launcher, *launched) : "launch: " + launched.error();
    [[maybe_unused]] ssize_t written = write(result_pipe[1], message.data(), message.size());
    _exit(0);
  }
  close(result_pipe[1]);
  std::string message;
  char buffer[512];
  ssize_t count;
  while ((count = read(result_pipe[0], buffer, sizeof(buffer))) > 0) {
    message.append(buffer, count);
  }
  close(result_pipe[0]);
  waitpid(helper, nullptr, 0);
  EXPECT_EQ(message, "setresuid(64123): Operation not permitted");
}

TEST_F(ExecLauncherTest, RefusesWhatItCannotDoSafely) {
  ExecLauncher launcher = launcher_with({"exit:0"});
  daemon::Session root_session = test_session();
  root_session.uid = 0;
  EXPECT_EQ(launcher.launch(root_session, kToken).error(), "refusing to start an agent as root");

  daemon::Session unknown = test_session();
  unknown.uid = 64999;
  EXPECT_EQ(launcher.launch(unknown, kToken).error(), "no passwd entry for uid 64999");

  EXPECT_THAT(launcher.launch(test_session(), "").error(), HasSubstr("token must be"));
  EXPECT_THAT(launcher.launch(test_session(), std::string(5000, 'x')).error(),
              HasSubstr("token must be"));

  ExecLauncher relative({"liaison", "agent"}, "/run/liaison/agent.sock",
                        [](const daemon::Session&) { return fixed_environment(); });
  EXPECT_THAT(relative.launch(test_session(), kToken).error(), HasSubstr("absolute path"));

  ExecLauncher failing_provider(
      {child_.string()}, "/run/liaison/agent.sock",
      [](const daemon::Session&) -> std::expected<std::vector<std::string>, std::string> {
        return std::unexpected("no passwd entry for uid 64123");
      });
  EXPECT_EQ(failing_provider.launch(test_session(), kToken).error(),
            "agent environment: no passwd entry for uid 64123");

  ExecLauncher malformed({child_.string()}, "/run/liaison/agent.sock", [](const daemon::Session&) {
    return std::vector<std::string>{"NO_EQUALS_SIGN"};
  });
  EXPECT_THAT(malformed.launch(test_session(), kToken).error(),
              HasSubstr("malformed environment entry"));
}

TEST_F(ExecLauncherTest, ProviderCannotOverrideTheLaunchVariables) {
  ExecLauncher launcher = launcher_with({"exit:0"}, [](const daemon::Session&) {
    return std::vector<std::string>{"LIAISON_TOKEN_FD=9", "LIAISON_SESSION=other", "A=1"};
  });
  auto launched = launcher.launch(test_session(), kToken);
  ASSERT_TRUE(launched) << launched.error();
  ASSERT_TRUE(wait_readable(launched->exit_fd.get(), 5000));
  ASSERT_TRUE(reap(launched->exit_fd).has_value());
  EXPECT_EQ(report()["environment"].get<std::vector<std::string>>(),
            with_launch_variables({"A=1"}));
}

}  // namespace
}  // namespace liaison::platform
