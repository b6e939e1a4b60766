// The command line's side of control.sock: one blocking JSON-RPC call at a time. The CLI is a thin
// client of the daemon's API, so whatever it does, `socat - UNIX-CONNECT:…` can do the same.
#pragma once

#include <chrono>
#include <expected>
#include <string>

#include "common/unique_fd.h"
#include "protocol/json_rpc.h"

namespace liaison::cli {

// Exit statuses every command shares (DESIGN.md).
enum ExitStatus : int {
  kExitOk = 0,
  kExitFailed = 1,
  kExitUsage = 2,
  kExitUnreachable = 3,
  kExitNoSession = 4,
};

struct CallFailure {
  int exit_status;
  std::string message;
  int error_number = 0;  // errno of a failed connect, for advice that depends on it
};

// The exit status a JSON-RPC error maps to.
int exit_status_for(const protocol::Error& error);

class ControlClient {
 public:
  // Connects to `socket_path`. Fails with exit status 3 when the daemon is not there or the
  // caller may not use its socket.
  static std::expected<ControlClient, CallFailure> connect(const std::string& socket_path);

  std::expected<protocol::Json, CallFailure> call(const std::string& method,
                                                  const protocol::Json& params,
                                                  std::chrono::milliseconds timeout);

 private:
  explicit ControlClient(UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}
  std::expected<std::string, CallFailure> read_line(std::chrono::steady_clock::time_point deadline);

  UniqueFd fd_;
  std::string path_;
  std::string buffer_;
  int64_t next_id_ = 1;
};

// The runtime directory (sockets): --runtime-dir, else $LIAISON_RUNTIME_DIR, else the
// platform's kDefaultRuntimeDir (common/default_paths.h: /run/liaison, on macOS /var/run/liaison).
std::string runtime_dir_from(const std::string& flag);

// "liaison: MESSAGE" on stderr: every command's one-line error.
void print_error(const std::string& message);

// Connects to the daemon under `runtime_dir` (see runtime_dir_from) and makes one call; on
// failure prints the one-line error and gives the exit status to leave with.
std::expected<protocol::Json, int> call_daemon(const std::string& runtime_dir,
                                               const std::string& method,
                                               const protocol::Json& params,
                                               std::chrono::milliseconds timeout);

}  // namespace liaison::cli
