#include "platform/linux/session_environment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace liaison::platform {
namespace {

namespace fs = std::filesystem;
using testing::Contains;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Not;

// ---------------------------------------------------------------------------------------------
// build_agent_environment: pure.

EnvironmentInputs alice_inputs() {
  EnvironmentInputs inputs;
  inputs.account = {
      .name = "alice", .uid = 1001, .gid = 1001, .home = "/srv/users/alice", .shell = "/bin/zsh"};
  inputs.session.id = "7";
  inputs.session.uid = 1001;
  inputs.session.type = "wayland";
  inputs.session.seat = "seat0";
  return inputs;
}

std::optional<std::string> value_of(const std::vector<std::string>& environment,
                                    const std::string& key) {
  for (const std::string& entry : environment) {
    if (entry.starts_with(key + "=")) {
      return entry.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

TEST(BuildAgentEnvironment, BaseVariablesComeFromPasswdAndTheSession) {
  EXPECT_THAT(build_agent_environment(alice_inputs()),
              ElementsAre("DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1001/bus",
                          "HOME=/srv/users/alice",  // from passwd: never /home/<user>
                          "LOGNAME=alice", "PATH=/usr/local/bin:/usr/bin:/bin", "SHELL=/bin/zsh",
                          "USER=alice", "XDG_RUNTIME_DIR=/run/user/1001", "XDG_SEAT=seat0",
                          "XDG_SESSION_ID=7", "XDG_SESSION_TYPE=wayland"));
}

TEST(BuildAgentEnvironment, FallbacksForOddPasswdEntries) {
  EnvironmentInputs inputs = alice_inputs();
  inputs.account.shell = "";  // passwd(5): empty means /bin/sh
  inputs.account.home = "relative/home";
  auto environment = build_agent_environment(inputs);
  EXPECT_EQ(value_of(environment, "SHELL"), "/bin/sh");
  EXPECT_EQ(value_of(environment, "HOME"), "/");
}

TEST(BuildAgentEnvironment, NoSeatNoXdgSeat) {
  EnvironmentInputs inputs = alice_inputs();
  inputs.session.seat = "";
  EXPECT_EQ(value_of(build_agent_environment(inputs), "XDG_SEAT"), std::nullopt);
}

TEST(BuildAgentEnvironment, BusAddressIsSetEvenWhenEverySourceHasADisplay) {
  EnvironmentInputs inputs = alice_inputs();
  inputs.session.display = ":0";
  inputs.manager_environment = {"DISPLAY=:0"};
  auto environment = build_agent_environment(inputs);
  EXPECT_EQ(value_of(environment, "DISPLAY"), ":0");
  EXPECT_EQ(value_of(environment, "DBUS_SESSION_BUS_ADDRESS"), "unix:path=/run/user/1001/bus");
}

TEST(BuildAgentEnvironment, DisplayPrefersLogindThenManagerThenProcesses) {
  EnvironmentInputs inputs = alice_inputs();
  inputs.session.display = ":1";
  inputs.manager_environment = {"DISPLAY=:2"};
  inputs.process_environments = {{"DISPLAY=:3"}};
  EXPECT_EQ(value_of(build_agent_environment(inputs), "DISPLAY"), ":1");
  inputs.session.display = "";
  EXPECT_EQ(value_of(build_agent_environment(inputs), "DISPLAY"), ":2");
  inputs.manager_environment = {};
  EXPECT_EQ(value_of(build_agent_environment(inputs), "DISPLAY"), ":3");
  inputs.process_environments = {};
  EXPECT_EQ(value_of(build_agent_environment(inputs), "DISPLAY"), std::nullopt);
}

TEST(BuildAgentEnvironment, EachVariableComesFromItsOwnFirstSource) {
  EnvironmentInputs inputs = alice_inputs();
  inputs.manager_environment = {"WAYLAND_DISPLAY=wayland-1", "XDG_CURRENT_DESKTOP=sway"};
  inputs.process_environments = {
      {"PWD=/"},  // the leader knows nothing
      {"XAUTHORITY=/run/user/1001/.Xauthority", "WAYLAND_DISPLAY=wayland-9",
       "XDG_DATA_DIRS=/usr/local/share:/usr/share"},
      {"XAUTHORITY=/tmp/later", "DISPLAY=:4"},
  };
  auto environment = build_agent_environment(inputs);
  EXPECT_EQ(value_of(environment, "WAYLAND_DISPLAY"), "wayland-1");
  EXPECT_EQ(value_of(environment, "XDG_CURRENT_DESKTOP"), "sway");
  EXPECT_EQ(value_of(environment, "XAUTHORITY"), "/run/user/1001/.Xauthority");
  EXPECT_EQ(value_of(environment, "XDG_DATA_DIRS"), "/usr/local/share:/usr/share");
  EXPECT_EQ(value_of(environment, "DISPLAY"), ":4");
}

TEST(BuildAgentEnvironment, FirstOccurrenceInAListWins) {
  EnvironmentInputs inputs = alice_inputs();
  inputs.manager_environment = {"DISPLAY=:5", "DISPLAY=:6", "LANG=de_DE.UTF-8", "LANG=C"};
  auto environment = build_agent_environment(inputs);
  EXPECT_EQ(value_of(environment, "DISPLAY"), ":5");
  EXPECT_EQ(value_of(environment, "LANG"), "de_DE.UTF-8");
}

struct ValidationCase {
  std::string key;
  std::string value;
  bool accepted;
};

class SessionVariableValidation : public testing::TestWithParam<ValidationCase> {};

// An invalid value in the manager is skipped and the next source's valid one used instead.
TEST_P(SessionVariableValidation, InvalidValuesFallThroughToTheNextSource) {
  const ValidationCase& test_case = GetParam();
  EnvironmentInputs inputs = alice_inputs();
  inputs.manager_environment = {test_case.key + "=" + test_case.value};
  const std::string fallback = test_case.key == "DISPLAY"               ? ":9"
                               : test_case.key == "WAYLAND_DISPLAY"     ? "wayland-9"
                               : test_case.key == "XDG_CURRENT_DESKTOP" ? "fallback"
                               : test_case.key == "XDG_DATA_DIRS"       ? "/fallback"
                                                                        : "/fallback/path";
  inputs.process_environments = {{test_case.key + "=" + fallback}};
  EXPECT_EQ(value_of(build_agent_environment(inputs), test_case.key),
            test_case.accepted ? test_case.value : fallback);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SessionVariableValidation,
    testing::Values(
        ValidationCase{"DISPLAY", ":0", true}, ValidationCase{"DISPLAY", ":10.0", true},
        ValidationCase{"DISPLAY", "localhost:10.0", true},
        ValidationCase{"DISPLAY", "unix:0", true},
        ValidationCase{"DISPLAY", "/private/tmp/com.apple.launchd.x/org.xquartz:0", true},
        ValidationCase{"DISPLAY", "", false}, ValidationCase{"DISPLAY", ":", false},
        ValidationCase{"DISPLAY", "0", false}, ValidationCase{"DISPLAY", ":x", false},
        ValidationCase{"DISPLAY", ":0.", false},
        ValidationCase{"DISPLAY", ":0\nLD_PRELOAD=/tmp/x.so", false},
        ValidationCase{"DISPLAY", "evil;rm -rf:0", false},
        ValidationCase{"DISPLAY", "$(id):0", false},
        ValidationCase{"WAYLAND_DISPLAY", "wayland-0", true},
        ValidationCase{"WAYLAND_DISPLAY", "/run/user/1001/wayland-1", true},
        ValidationCase{"WAYLAND_DISPLAY", "..", false},
        ValidationCase{"WAYLAND_DISPLAY", "../wayland-0", false},
        ValidationCase{"WAYLAND_DISPLAY", "/run/user/1001/../0/wayland-0", false},
        ValidationCase{"WAYLAND_DISPLAY", "wayland 0", false},
        ValidationCase{"XAUTHORITY", "/run/user/1001/gdm/Xauthority", true},
        ValidationCase{"XAUTHORITY", "relative/.Xauthority", false},
        ValidationCase{"XAUTHORITY", "/tmp/x\ty", false},
        ValidationCase{"XDG_CURRENT_DESKTOP", "ubuntu:GNOME", true},
        ValidationCase{"XDG_CURRENT_DESKTOP", "KDE", true},
        ValidationCase{"XDG_CURRENT_DESKTOP", "GNOME Classic", false},
        ValidationCase{"XDG_DATA_DIRS", "/usr/share/gnome:/usr/local/share/:/usr/share/", true},
        ValidationCase{"XDG_DATA_DIRS", "/usr/local/share::/usr/share", true},
        ValidationCase{"XDG_DATA_DIRS", "share:/usr/share", false},
        ValidationCase{"XDG_DATA_DIRS", ":", false}),
    [](const testing::TestParamInfo<ValidationCase>& info) {
      return "Case" + std::to_string(info.index);
    });

TEST(BuildAgentEnvironment, LocaleComesOnlyFromTheManager) {
  EnvironmentInputs inputs = alice_inputs();
  inputs.manager_environment = {
      "LANG=en_US.UTF-8", "LC_TIME=de_DE@euro", "LC_PAPER=bad value", "lc_all=C", "LCX=1", "LC_=C"};
  inputs.process_environments = {{"LC_ALL=C", "LANGUAGE=fr"}};
  auto environment = build_agent_environment(inputs);
  EXPECT_EQ(value_of(environment, "LANG"), "en_US.UTF-8");
  EXPECT_EQ(value_of(environment, "LC_TIME"), "de_DE@euro");
  EXPECT_EQ(value_of(environment, "LC_PAPER"), std::nullopt);
  EXPECT_EQ(value_of(environment, "LC_ALL"), std::nullopt);
  EXPECT_EQ(value_of(environment, "LANGUAGE"), std::nullopt);
  EXPECT_EQ(value_of(environment, "lc_all"), std::nullopt);
  EXPECT_EQ(value_of(environment, "LCX"), std::nullopt);
}

TEST(BuildAgentEnvironment, NothingElseLeaksIn) {
  setenv("LIAISON_TEST_DAEMON_ONLY", "must-not-leak", 1);
  EnvironmentInputs inputs = alice_inputs();
  inputs.manager_environment = {"PATH=/home/alice/bin:/usr/bin",
                                "HOME=/evil",
                                "DBUS_SESSION_BUS_ADDRESS=unix:path=/tmp/evil",
                                "SSH_AUTH_SOCK=/run/user/1001/ssh",
                                "LD_PRELOAD=/tmp/x.so",
                                "XDG_RUNTIME_DIR=/tmp",
                                "NOT_AN_ENTRY",
                                "=nokey"};
  inputs.process_environments = {{"LD_LIBRARY_PATH=/tmp", "USER=mallory", "GTK_MODULES=x"}};
  auto environment = build_agent_environment(inputs);
  unsetenv("LIAISON_TEST_DAEMON_ONLY");
  std::vector<std::string> keys;
  keys.reserve(environment.size());
  for (const std::string& entry : environment) {
    keys.push_back(entry.substr(0, entry.find('=')));
  }
  EXPECT_THAT(keys,
              ElementsAre("DBUS_SESSION_BUS_ADDRESS", "HOME", "LOGNAME", "PATH", "SHELL", "USER",
                          "XDG_RUNTIME_DIR", "XDG_SEAT", "XDG_SESSION_ID", "XDG_SESSION_TYPE"));
  EXPECT_EQ(value_of(environment, "PATH"), kAgentPath);
  EXPECT_EQ(value_of(environment, "HOME"), "/srv/users/alice");
  EXPECT_EQ(value_of(environment, "USER"), "alice");
  EXPECT_EQ(value_of(environment, "XDG_RUNTIME_DIR"), "/run/user/1001");
}

// ---------------------------------------------------------------------------------------------
// cgroup_procs_candidates: pure.

TEST(CgroupProcsCandidates, HybridHierarchyGivesUnifiedThenNamedSystemd) {
  const char* hybrid =
      "12:pids:/user.slice/user-1001.slice/session-3.scope\n"
      "4:memory:/user.slice/user-1001.slice/session-3.scope\n"
      "1:name=systemd:/user.slice/user-1001.slice/session-3.scope\n"
      "0::/user.slice/user-1001.slice/session-3.scope\n";
  EXPECT_THAT(
      cgroup_procs_candidates(hybrid),
      ElementsAre(
          "/sys/fs/cgroup/user.slice/user-1001.slice/session-3.scope/cgroup.procs",
          "/sys/fs/cgroup/unified/user.slice/user-1001.slice/session-3.scope/cgroup.procs",
          "/sys/fs/cgroup/systemd/user.slice/user-1001.slice/session-3.scope/cgroup.procs"));
}

TEST(CgroupProcsCandidates, UnifiedHierarchy) {
  EXPECT_THAT(cgroup_procs_candidates("0::/user.slice/user-1001.slice/session-c2.scope\n"),
              ElementsAre("/sys/fs/cgroup/user.slice/user-1001.slice/session-c2.scope/cgroup.procs",
                          "/sys/fs/cgroup/unified/user.slice/user-1001.slice/session-c2.scope/"
                          "cgroup.procs"));
}

TEST(CgroupProcsCandidates, RootAndMalformedPathsAreNeverCandidates) {
  EXPECT_THAT(cgroup_procs_candidates("0::/\n1:name=systemd:/\n"), IsEmpty());
  EXPECT_THAT(cgroup_procs_candidates("0::/../../etc\n"), IsEmpty());
  EXPECT_THAT(cgroup_procs_candidates("0::relative\n"), IsEmpty());
  EXPECT_THAT(cgroup_procs_candidates("garbage"), IsEmpty());
  EXPECT_THAT(cgroup_procs_candidates(""), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// read_manager_environment against a fake manager: a private sd-bus server answering the
// Environment property, as systemd does on $XDG_RUNTIME_DIR/systemd/private.

class FakeManager {
 public:
  FakeManager(fs::path socket_path, std::vector<std::string> environment, bool answer = true)
      : socket_path_(std::move(socket_path)), environment_(std::move(environment)) {
    listener_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path_.c_str());
    EXPECT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    listen(listener_.get(), 4);
    if (answer) {
      server_ = std::thread([this] { serve(); });
    }
  }

  ~FakeManager() {
    stop_ = true;
    if (server_.joinable()) {
      server_.join();
    }
    fs::remove(socket_path_);
  }

  // Closes the listener: the socket file stays, as after a crashed manager.
  void crash() { listener_.reset(); }

 private:
  static int get_environment(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                             void* userdata, sd_bus_error*) {
    auto* environment = static_cast<std::vector<std::string>*>(userdata);
    int result = sd_bus_message_open_container(reply, 'a', "s");
    for (const std::string& entry : *environment) {
      if (result >= 0) {
        result = sd_bus_message_append_basic(reply, 's', entry.c_str());
      }
    }
    if (result >= 0) {
      result = sd_bus_message_close_container(reply);
    }
    return result;
  }

  void serve() {
    pollfd poll_fd{.fd = listener_.get(), .events = POLLIN, .revents = 0};
    while (!stop_ && poll(&poll_fd, 1, 50) == 0) {
    }
    if (stop_) {
      return;
    }
    int connection = accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (connection < 0) {
      return;
    }
    static const sd_bus_vtable kVtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Environment", "as", get_environment, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END};
    sd_bus* bus = nullptr;
    sd_id128_t id;
    sd_id128_randomize(&id);
    sd_bus_new(&bus);
    sd_bus_set_fd(bus, connection, connection);
    sd_bus_set_server(bus, 1, id);
    sd_bus_add_object_vtable(bus, nullptr, "/org/freedesktop/systemd1",
                             "org.freedesktop.systemd1.Manager", kVtable, &environment_);
    sd_bus_start(bus);
    while (!stop_) {
      int result = sd_bus_process(bus, nullptr);
      if (result < 0) {
        break;
      }
      if (result == 0) {
        sd_bus_wait(bus, 50'000);
      }
    }
    sd_bus_flush_close_unref(bus);
  }

  fs::path socket_path_;
  std::vector<std::string> environment_;
  UniqueFd listener_;
  std::thread server_;
  std::atomic<bool> stop_{false};
};

class ManagerEnvironmentTest : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/liaison-manager-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    socket_path_ = directory_ / "private";
  }
  void TearDown() override { fs::remove_all(directory_); }

  fs::path directory_;
  fs::path socket_path_;
};

TEST_F(ManagerEnvironmentTest, ReadsTheEnvironmentProperty) {
  FakeManager manager(socket_path_, {"DISPLAY=:0", "LANG=C.UTF-8", "WAYLAND_DISPLAY=wayland-1"});
  auto environment =
      read_manager_environment(socket_path_, getuid(), std::chrono::milliseconds(1000));
  ASSERT_TRUE(environment) << environment.error();
  EXPECT_THAT(*environment, ElementsAre("DISPLAY=:0", "LANG=C.UTF-8", "WAYLAND_DISPLAY=wayland-1"));
}

TEST_F(ManagerEnvironmentTest, NoManagerIsAnEmptyEnvironment) {
  auto environment =
      read_manager_environment(socket_path_, getuid(), std::chrono::milliseconds(1000));
  ASSERT_TRUE(environment) << environment.error();
  EXPECT_THAT(*environment, IsEmpty());
}

TEST_F(ManagerEnvironmentTest, StaleSocketIsAnEmptyEnvironment) {
  FakeManager manager(socket_path_, {}, /*answer=*/false);
  manager.crash();
  auto environment =
      read_manager_environment(socket_path_, getuid(), std::chrono::milliseconds(1000));
  ASSERT_TRUE(environment) << environment.error();
  EXPECT_THAT(*environment, IsEmpty());
}

TEST_F(ManagerEnvironmentTest, SilentManagerTimesOutQuickly) {
  FakeManager manager(socket_path_, {}, /*answer=*/false);  // listens, never accepts
  auto started = std::chrono::steady_clock::now();
  auto environment =
      read_manager_environment(socket_path_, getuid(), std::chrono::milliseconds(200));
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(environment);
  EXPECT_THAT(environment.error(), HasSubstr("no answer within 200 ms"));
  EXPECT_GE(elapsed, std::chrono::milliseconds(190));
  EXPECT_LT(elapsed, std::chrono::milliseconds(800));
}

TEST_F(ManagerEnvironmentTest, AnotherUsersListenerIsRefused) {
  FakeManager manager(socket_path_, {"DISPLAY=:0"});
  uid_t someone_else = getuid() + 4242;
  auto environment =
      read_manager_environment(socket_path_, someone_else, std::chrono::milliseconds(1000));
  ASSERT_FALSE(environment);
  EXPECT_THAT(environment.error(),
              HasSubstr(fmt::format("listener is uid {}, not {}", getuid(), someone_else)));
}

// ---------------------------------------------------------------------------------------------
// The session's processes.

// A `sleep` with exactly `environment`, as `uid`/`gid` (when root), optionally placed into the
// cgroups whose cgroup.procs files are given (before it drops privileges).
class SleepingProcess {
 public:
  SleepingProcess(std::vector<std::string> environment, uid_t uid, gid_t gid,
                  const std::vector<std::string>& cgroup_procs = {})
      : environment_(std::move(environment)) {
    std::vector<char*> envp;
    envp.reserve(environment_.size() + 1);
    for (std::string& entry : environment_) {
      envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    char sleep_path[] = "/bin/sleep";
    char seconds[] = "60";
    char* argv[] = {sleep_path, seconds, nullptr};
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      for (const std::string& procs : cgroup_procs) {
        int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) {
          _exit(10);
        }
        close(fd);
      }
      if (uid != getuid()) {
        if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(uid, uid, uid) != 0) {
          _exit(11);
        }
      }
      execve(sleep_path, argv, envp.data());
      _exit(12);
    }
    close(ready[1]);
    // The read end sees EOF once execve closed the child's copy: /proc/<pid>/environ is then
    // sleep's, not the forked copy of ours.
    char byte;
    while (read(ready[0], &byte, 1) > 0) {
    }
    close(ready[0]);
  }

  ~SleepingProcess() {
    if (pid_ <= 0) {
      return;
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> environment_;
  pid_t pid_ = -1;
};

TEST(ReadProcessEnvironment, ReadsAProcessOfTheUser) {
  SleepingProcess process({"DISPLAY=:42", "WAYLAND_DISPLAY=wayland-3", "EMPTY="}, getuid(),
                          getgid());
  ASSERT_GT(process.pid(), 0);
  auto environment = read_process_environment(process.pid(), getuid(), 64 * std::size_t{1024});
  ASSERT_TRUE(environment);
  EXPECT_THAT(*environment,  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
              ElementsAre("DISPLAY=:42", "WAYLAND_DISPLAY=wayland-3", "EMPTY="));
}

TEST(ReadProcessEnvironment, CapsTheSizeAndDropsTheCutOffEntry) {
  SleepingProcess process({"A=1", "B=" + std::string(100, 'b')}, getuid(), getgid());
  auto environment = read_process_environment(process.pid(), getuid(), 20);
  ASSERT_TRUE(environment);
  EXPECT_THAT(*environment,  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
              ElementsAre("A=1"));
}

TEST(ReadProcessEnvironment, OtherUsersAndGoneProcessesGiveNothing) {
  SleepingProcess process({"DISPLAY=:42"}, getuid(), getgid());
  EXPECT_EQ(read_process_environment(process.pid(), getuid() + 4242, 64 * std::size_t{1024}),
            std::nullopt);
  EXPECT_EQ(read_process_environment(999999999, getuid(), 64 * std::size_t{1024}), std::nullopt);
}

// The whole gathering on this host's hybrid cgroups: a fake session scope made of a real cgroup
// holding a process of the session user (nobody) and a root process, which is ignored.
class GatherTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to make cgroups and switch users";
    }
    std::string name = fmt::format("liaison-gather-test-{}", getpid());
    for (const char* root :
         {"/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup"}) {
      if (!fs::exists(fs::path(root) / "cgroup.procs")) {
        continue;
      }
      fs::path cgroup = fs::path(root) / name;
      if (mkdir(cgroup.c_str(), 0755) != 0) {
        continue;
      }
      cgroups_.push_back(cgroup);
      // On a pure cgroup v2 system /sys/fs/cgroup is the unified root; one hierarchy is enough.
      if (std::string(root) == "/sys/fs/cgroup") {
        break;
      }
    }
    if (cgroups_.empty()) {
      GTEST_SKIP() << "no writable cgroup hierarchy";
    }
  }

  void TearDown() override {
    for (const fs::path& cgroup : cgroups_) {
      rmdir(cgroup.c_str());
    }
  }

  std::vector<std::string> procs_files() const {
    std::vector<std::string> files;
    files.reserve(cgroups_.size());
    for (const fs::path& cgroup : cgroups_) {
      files.push_back(cgroup / "cgroup.procs");
    }
    return files;
  }

  std::vector<fs::path> cgroups_;
};

TEST_F(GatherTest, CollectsTheSessionUsersProcessesFromTheLeadersCgroup) {
  auto nobody = passwd_by_name("nobody");
  ASSERT_TRUE(nobody) << nobody.error();
  {
    SleepingProcess leader({"DISPLAY=:42", "XAUTHORITY=/tmp/nobody.xauth"}, nobody->uid,
                           nobody->gid, procs_files());
    SleepingProcess root_process({"DISPLAY=:666"}, 0, 0, procs_files());
    ASSERT_GT(leader.pid(), 0);
    daemon::Session session;
    session.id = "t1";
    session.uid = nobody->uid;
    session.type = "x11";
    session.leader = leader.pid();
    GatherOptions options;
    options.manager_socket_path = "/nonexistent/systemd/private";
    auto inputs = gather_environment_inputs(session, options);
    ASSERT_TRUE(inputs) << inputs.error();
    EXPECT_EQ(inputs->account, *nobody);
    EXPECT_THAT(inputs->manager_environment, IsEmpty());
    ASSERT_EQ(inputs->process_environments.size(), 1u);
    EXPECT_THAT(inputs->process_environments[0],
                ElementsAre("DISPLAY=:42", "XAUTHORITY=/tmp/nobody.xauth"));
    auto environment = build_agent_environment(*inputs);
    EXPECT_THAT(environment, Contains("DISPLAY=:42"));
    EXPECT_THAT(environment, Contains("XAUTHORITY=/tmp/nobody.xauth"));
    EXPECT_THAT(environment, Contains("HOME=" + nobody->home));
  }
}

TEST(Gather, UnknownUserIsAnError) {
  daemon::Session session;
  session.id = "t2";
  session.uid = 64999;
  auto inputs = gather_environment_inputs(session);
  ASSERT_FALSE(inputs);
  EXPECT_EQ(inputs.error(), "no passwd entry for uid 64999");
}

}  // namespace
}  // namespace liaison::platform
