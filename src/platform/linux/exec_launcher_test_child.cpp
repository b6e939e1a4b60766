// Started by exec_launcher_test through ExecLauncher: writes what the process finds itself with
// (ids, groups, session, umask, fds, signals, environment, argv, the token on fd 3) as JSON to
// argv[1], then exits with the code in argv[2] ("exit:N"), or waits for a signal ("wait").
#include <dirent.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

extern char** environ;

namespace {

std::vector<int> open_fds() {
  std::vector<int> fds;
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) {
    return fds;
  }
  while (dirent* entry = readdir(directory)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    int fd = std::atoi(entry->d_name);
    if (fd != dirfd(directory)) {
      fds.push_back(fd);
    }
  }
  closedir(directory);
  return fds;
}

std::string read_token() {
  std::string token;
  char buffer[256];
  ssize_t count;
  while ((count = read(3, buffer, sizeof(buffer))) > 0) {
    token.append(buffer, count);
  }
  if (count < 0) {
    return "<read error>";
  }
  return token;
}

nlohmann::json signal_state() {
  sigset_t blocked;
  sigprocmask(SIG_BLOCK, nullptr, &blocked);
  nlohmann::json blocked_signals = nlohmann::json::array();
  nlohmann::json non_default = nlohmann::json::array();
  for (int signal_number = 1; signal_number < 32; ++signal_number) {
    if (sigismember(&blocked, signal_number) == 1) {
      blocked_signals.push_back(signal_number);
    }
    struct sigaction action {};
    if (sigaction(signal_number, nullptr, &action) == 0 && action.sa_handler != SIG_DFL) {
      non_default.push_back(signal_number);
    }
  }
  return {{"blocked", blocked_signals}, {"non_default", non_default}};
}

int run(int argc, char** argv) {
  if (argc < 3) {
    return 2;
  }
  // fds first, before this program opens anything of its own.
  nlohmann::json report;
  report["fds"] = open_fds();
  char stdin_target[4096] = {};
  report["stdin"] =
      readlink("/proc/self/fd/0", stdin_target, sizeof(stdin_target) - 1) > 0 ? stdin_target : "";
  char stderr_target[4096] = {};
  report["stderr"] = readlink("/proc/self/fd/2", stderr_target, sizeof(stderr_target) - 1) > 0
                         ? stderr_target
                         : "";
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  report["uid"] = {ruid, euid, suid};
  report["gid"] = {rgid, egid, sgid};
  std::vector<gid_t> groups(getgroups(0, nullptr));
  groups.resize(getgroups(static_cast<int>(groups.size()), groups.data()));
  report["groups"] = groups;
  report["pid"] = getpid();
  report["sid"] = getsid(0);
  mode_t mask = umask(0);
  umask(mask);
  report["umask"] = mask;
  char cwd[4096];
  report["cwd"] = getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : "";
  report["signals"] = signal_state();
  report["token"] = read_token();
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  report["environment"] = environment;
  report["argv"] = std::vector<std::string>(argv, argv + argc);
  report["regain_root"] = setresuid(0, 0, 0) == 0;

  std::string output = argv[1];
  {
    std::ofstream file(output + ".tmp");
    file << report.dump();
  }
  std::rename((output + ".tmp").c_str(), output.c_str());

  std::string mode = argv[2];
  if (mode == "wait") {
    for (;;) {
      pause();
    }
  }
  if (mode.starts_with("exit:")) {
    return std::atoi(mode.c_str() + 5);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // An exception must not abort the child unexplained: the test reads its exit status.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exec_launcher_test_child: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "exec_launcher_test_child: unexpected error\n");
  }
  return 1;
}
