// Runs a program and collects what it said, so launchctl calls can be pointed at a stand-in in
// tests. One small interface; the real runner uses posix_spawn, which Linux and macOS both have.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace liaison::platform::macos {

struct CommandResult {
  int exit_code = 0;  // 128 + signal number when the program was killed by a signal
  std::string standard_output;
  std::string standard_error;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // argv[0] is the program's path. An error only when the program could not be run at all.
  virtual std::expected<CommandResult, std::string> run(const std::vector<std::string>& argv) = 0;
};

// posix_spawn with the caller's environment; both pipes are drained together so a chatty program
// cannot block on a full pipe.
class SpawnCommandRunner final : public CommandRunner {
 public:
  std::expected<CommandResult, std::string> run(const std::vector<std::string>& argv) override;
};

}  // namespace liaison::platform::macos
