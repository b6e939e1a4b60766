#include "cli/control_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/default_paths.h"

namespace liaison::cli {
namespace {

using protocol::Json;
using namespace std::chrono_literals;

// A daemon that goes away mid-write must give EPIPE, not kill the CLI with SIGPIPE: Linux says so
// per send (MSG_NOSIGNAL), macOS, which lacks SOCK_CLOEXEC and may lack MSG_NOSIGNAL, per socket
// (SO_NOSIGPIPE, set in unix_stream_socket).
#if defined(MSG_NOSIGNAL)
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;
#endif

// A close-on-exec unix stream socket.
UniqueFd unix_stream_socket() {
#if defined(SOCK_CLOEXEC)
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
#else
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
  if (fd && ::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) return UniqueFd();
#endif
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
  const int on = 1;
  if (fd && ::setsockopt(fd.get(), SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on)) != 0) {
    return UniqueFd();
  }
#endif
  return fd;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t written = ::send(fd, data.data(), data.size(), kSendFlags);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

}  // namespace

int exit_status_for(const protocol::Error& error) {
  if (error.data_code == protocol::codes::kNoSession) {
    return kExitNoSession;
  }
  if (error.data_code == protocol::codes::kNotPermitted) {
    return kExitUnreachable;
  }
  if (error.code == protocol::kInvalidParams || error.code == protocol::kMethodNotFound) {
    return kExitUsage;
  }
  return kExitFailed;
}

std::string runtime_dir_from(const std::string& flag) {
  if (!flag.empty()) {
    return flag;
  }
  if (const char* env = std::getenv("LIAISON_RUNTIME_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return kDefaultRuntimeDir;
}

std::expected<ControlClient, CallFailure> ControlClient::connect(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return std::unexpected(
        CallFailure{kExitUsage, fmt::format("socket path too long: {}", socket_path)});
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd = unix_stream_socket();
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    if (error == EACCES || error == EPERM) {
      return std::unexpected(CallFailure{
          kExitUnreachable,
          fmt::format("not permitted to use {}: only root and members of group liaison may",
                      socket_path),
          error});
    }
    return std::unexpected(CallFailure{
        kExitUnreachable,
        fmt::format("the liaison daemon is unreachable at {}: {} (is liaison.service running?)",
                    socket_path, std::strerror(error)),
        error});
  }
  return ControlClient(std::move(fd), socket_path);
}

std::expected<std::string, CallFailure> ControlClient::read_line(
    std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (auto newline = buffer_.find('\n'); newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::unexpected(CallFailure{kExitFailed, "the daemon did not answer in time"});
    }
    pollfd waiting{fd_.get(), POLLIN, 0};
    int ready = ::poll(&waiting, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready == 0) {
      continue;
    }
    char chunk[65536];
    ssize_t got = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return std::unexpected(
          CallFailure{kExitUnreachable, fmt::format("the daemon closed {}", path_)});
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

std::expected<Json, CallFailure> ControlClient::call(const std::string& method, const Json& params,
                                                     std::chrono::milliseconds timeout) {
  const int64_t id = next_id_++;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!write_all(fd_.get(), protocol::serialize(protocol::Request{Json(id), method, params}))) {
    // The daemon may have refused us before reading: its reason is waiting to be read.
    auto reason = read_line(std::min(deadline, std::chrono::steady_clock::now() + 1s));
    auto refusal =
        reason ? protocol::parse_message(*reason) : std::unexpected(protocol::ParseFailure{});
    if (refusal) {
      if (auto* response = std::get_if<protocol::Response>(&*refusal);
          response && !response->outcome) {
        return std::unexpected(CallFailure{exit_status_for(response->outcome.error()),
                                           response->outcome.error().message});
      }
    }
    return std::unexpected(CallFailure{kExitUnreachable, fmt::format("cannot write to {}", path_)});
  }
  for (;;) {
    auto line = read_line(deadline);
    if (!line) {
      return std::unexpected(line.error());
    }
    auto message = protocol::parse_message(*line);
    if (!message) {
      return std::unexpected(CallFailure{kExitFailed, "the daemon sent something unreadable"});
    }
    auto* response = std::get_if<protocol::Response>(&*message);
    // A null id answers "the connection itself": the daemon refused us before reading anything.
    if (response == nullptr || !(response->id == Json(id) || response->id.is_null())) {
      continue;
    }
    if (!response->outcome) {
      const protocol::Error& error = response->outcome.error();
      return std::unexpected(CallFailure{exit_status_for(error), error.message});
    }
    return *response->outcome;
  }
}

}  // namespace liaison::cli

namespace liaison::cli {

void print_error(const std::string& message) { fmt::print(stderr, "liaison: {}\n", message); }

std::expected<Json, int> call_daemon(const std::string& runtime_dir, const std::string& method,
                                     const Json& params, std::chrono::milliseconds timeout) {
  auto client = ControlClient::connect(runtime_dir_from(runtime_dir) + "/control.sock");
  if (!client) {
    print_error(client.error().message);
    return std::unexpected(client.error().exit_status);
  }
  auto result = client->call(method, params, timeout);
  if (!result) {
    print_error(result.error().message);
    return std::unexpected(result.error().exit_status);
  }
  return *result;
}

}  // namespace liaison::cli
