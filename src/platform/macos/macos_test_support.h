// Helpers shared by macos_portable_test's files: reading the captured macOS output, and a test
// fixture that runs the launchctl stand-in (tests/macos/launchctl_standin.sh).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <sys/event.h>
#else
#include <sys/syscall.h>
#endif

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "platform/macos/command_runner.h"
#include "platform/macos/launchctl.h"

namespace liaison::platform::macos::testing {

// tests/macos, copied once per test process into a directory every user may enter, and removed
// at exit: tests that drop to another user run its scripts and read its fixtures as that user,
// and the checkout may live where only root can enter (any clone in root's 0700 home).
inline const std::string& reachable_test_data() {
  // A plain array, not the string: the exit handler may run after the string is destroyed.
  static char copy[] = "/tmp/liaison-test-data-XXXXXX";
  static const std::string directory = [] {
    if (mkdtemp(copy) == nullptr) {
      return std::string(LIAISON_MACOS_TESTS);  // the checkout itself: root's tests still run
    }
    std::filesystem::permissions(copy, std::filesystem::perms(0755));
    std::error_code error;
    std::filesystem::copy(LIAISON_MACOS_TESTS, copy, std::filesystem::copy_options::recursive,
                          error);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(copy, ignored);
    });
    return std::string(copy);
  }();
  return directory;
}

// A script of tests/macos ("report_identity.sh"), in the reachable copy.
inline std::string test_script(const std::string& name) {
  return reachable_test_data() + "/" + name;
}

inline std::string fixture_path(const std::string& name) {
  return reachable_test_data() + "/fixtures/" + name;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string read_fixture(const std::string& name) { return read_file(fixture_path(name)); }

// Runs the stand-in in place of /bin/launchctl: it records its arguments and answers with a
// fixture and an exit code.
class LaunchctlStandInTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/liaison-launchctl-argv-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    argv_log_ = path;
    setenv("STANDIN_ARGV_LOG", argv_log_.c_str(), 1);
    answer("", "", 0);
  }
  void TearDown() override {
    unlink(argv_log_.c_str());
    for (const char* name :
         {"STANDIN_ARGV_LOG", "STANDIN_STDOUT", "STANDIN_STDERR", "STANDIN_EXIT_CODE"}) {
      unsetenv(name);
    }
    for (const auto& prefix : overrides_) {
      for (const char* suffix : {"_STDOUT", "_STDERR", "_EXIT_CODE"}) {
        unsetenv((prefix + suffix).c_str());
      }
    }
  }
  void answer(const std::string& stdout_fixture, const std::string& stderr_fixture, int exit_code) {
    setenv("STANDIN_STDOUT", stdout_fixture.empty() ? "" : fixture_path(stdout_fixture).c_str(), 1);
    setenv("STANDIN_STDERR", stderr_fixture.empty() ? "" : fixture_path(stderr_fixture).c_str(), 1);
    setenv("STANDIN_EXIT_CODE", std::to_string(exit_code).c_str(), 1);
  }
  // The same, for one subcommand only ("print", "bootstrap"), overriding answer().
  void answer_for(const std::string& subcommand, const std::string& stdout_fixture,
                  const std::string& stderr_fixture, int exit_code) {
    std::string prefix = "STANDIN_";
    for (const char character : subcommand) {
      prefix += static_cast<char>(std::toupper(character));
    }
    overrides_.push_back(prefix);
    setenv((prefix + "_STDOUT").c_str(),
           stdout_fixture.empty() ? "" : fixture_path(stdout_fixture).c_str(), 1);
    setenv((prefix + "_STDERR").c_str(),
           stderr_fixture.empty() ? "" : fixture_path(stderr_fixture).c_str(), 1);
    setenv((prefix + "_EXIT_CODE").c_str(), std::to_string(exit_code).c_str(), 1);
  }
  std::string recorded() const { return read_file(argv_log_); }

  SpawnCommandRunner runner_;
  Launchctl launchctl_{runner_, test_script("launchctl_standin.sh")};
  std::string argv_log_;
  std::vector<std::string> overrides_;
};

// A handle that turns readable when `pid` exits, for SetuidExecLauncher in tests: a kqueue
// (EVFILT_PROC, NOTE_EXIT) on macOS as the daemon's own process_exit_fd, a pidfd on Linux.
inline std::expected<UniqueFd, std::string> watch_process_exit(pid_t pid) {
#if defined(__APPLE__)
  UniqueFd queue(::kqueue());
  struct kevent change;
  EV_SET(&change, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, nullptr);
  if (!queue || ::kevent(queue.get(), &change, 1, nullptr, 0, nullptr) != 0) {
    return std::unexpected(std::string("kqueue: ") + std::strerror(errno));
  }
  return queue;
#else
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    return std::unexpected(std::string("pidfd_open: ") + std::strerror(errno));
  }
  return pidfd;
#endif
}

}  // namespace liaison::platform::macos::testing
