#include "keys/tpm/testing/swtpm_process.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "common/unique_fd.h"

namespace liaison::keys::tpm {
namespace {

using namespace std::chrono_literals;

constexpr auto kReadyDeadline = 5s;
constexpr auto kStopGrace = 2s;
constexpr int kPortAttempts = 20;

UniqueFd loopback_socket() { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); }

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool bind_to(const UniqueFd& fd, uint16_t port) {
  sockaddr_in address = loopback_address(port);
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

// The kernel's range for the client side of connections (connect() without bind()).
std::pair<int, int> ephemeral_port_range() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  int high = 60999;
  in >> low >> high;
  return {low, high};
}

// A port P with P + 1 free too, as far as the kernel can tell right now, picked at random below
// the ephemeral range: the swtpm TCTI opens a TCP connection per command, leaving thousands of
// client ports in TIME_WAIT, and those block a listening bind (swtpm's SO_REUSEADDR does not help:
// the client sockets did not set it). Another process may still take P or P + 1 before swtpm
// binds them: start() then tries other ports.
std::expected<uint16_t, std::string> free_port_pair() {
  auto [ephemeral_low, ephemeral_high] = ephemeral_port_range();
  int low = 10000;
  int high = ephemeral_low - 2;
  if (high - low < 1000) {
    low = ephemeral_high + 1;
    high = 65534;
  }
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    auto port = static_cast<uint16_t>(pick(random));
    UniqueFd first = loopback_socket();
    UniqueFd second = loopback_socket();
    if (first && second && bind_to(first, port) && bind_to(second, port + 1)) {
      return port;
    }
  }
  return std::unexpected(fmt::format("no two adjacent free loopback ports in {}-{}", low, high));
}

bool accepts_connections(uint16_t port) {
  UniqueFd fd = loopback_socket();
  sockaddr_in address = loopback_address(port);
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::expected<std::filesystem::path, std::string> make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "liaison-swtpm-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return std::unexpected("mkdtemp for swtpm state");
  }
  return std::filesystem::path(pattern);
}

}  // namespace

std::expected<std::unique_ptr<SwtpmProcess>, std::string> SwtpmProcess::start(
    SwtpmOptions options) {
  bool owns_state_dir = options.state_dir.empty();
  if (owns_state_dir) {
    auto dir = make_temp_dir();
    if (!dir) {
      return std::unexpected(dir.error());
    }
    options.state_dir = *dir;
  }
  auto swtpm = std::make_unique<SwtpmProcess>(StartToken{}, std::move(options), owns_state_dir);
  if (swtpm->options_.provision_ek_certificates) {
    if (auto provisioned = swtpm->provision(); !provisioned) {
      return std::unexpected(provisioned.error());
    }
  }
  std::string last_error;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    auto port = free_port_pair();
    if (!port) {
      return std::unexpected(port.error());
    }
    swtpm->port_ = *port;
    auto launched = swtpm->launch();
    if (launched) {
      return swtpm;
    }
    last_error = launched.error();  // most likely a port taken meanwhile: try others
  }
  return std::unexpected(last_error);
}

SwtpmProcess::SwtpmProcess(StartToken, SwtpmOptions options, bool owns_state_dir)
    : options_(std::move(options)), owns_state_dir_(owns_state_dir) {}

SwtpmProcess::~SwtpmProcess() {
  stop();
  if (owns_state_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(options_.state_dir, ignored);
  }
}

std::string SwtpmProcess::tcti() const {
  return fmt::format("swtpm:host=127.0.0.1,port={}", port_);
}

std::expected<void, std::string> SwtpmProcess::provision() {
  const std::filesystem::path& state = options_.state_dir;
  const std::filesystem::path ca = state / "ca";
  std::error_code error;
  std::filesystem::create_directories(ca, error);
  if (error) {
    return std::unexpected(fmt::format("cannot make {}: {}", ca.string(), error.message()));
  }
  std::ofstream(state / "localca.conf") << fmt::format(
      "statedir = {0}\nsigningkey = {0}/signkey.pem\n"
      "issuercert = {0}/issuercert.pem\ncertserial = {0}/certserial\n",
      ca.string());
  std::ofstream(state / "swtpm_setup.conf") << fmt::format(
      "create_certs_tool = /usr/bin/swtpm_localca\n"
      "create_certs_tool_config = {}\n"
      "create_certs_tool_options = /etc/swtpm-localca.options\n"
      "active_pcr_banks = sha256\n",
      (state / "localca.conf").string());
  const std::string command = fmt::format(
      "swtpm_setup --tpm2 --tpmstate '{0}' --create-ek-cert --create-platform-cert "
      "--config '{0}/swtpm_setup.conf' --overwrite --logfile '{0}/swtpm_setup.log'{1}",
      state.string(), options_.ek_allows_signing ? " --allow-signing" : "");
  const int status = std::system(command.c_str());  // NOLINT(cert-env33-c): a test helper
  if (status != 0) {
    return std::unexpected(fmt::format("swtpm_setup failed (status {}): {}", status,
                                       read_file(state / "swtpm_setup.log")));
  }
  return {};
}

std::expected<void, std::string> SwtpmProcess::launch() {
  std::string flags = options_.startup_clear ? "not-need-init,startup-clear" : "not-need-init";
  std::vector<std::string> arguments = {
      "swtpm",
      "socket",
      "--tpm2",
      "--server",
      fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port_),
      "--ctrl",
      fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port_ + 1),
      "--tpmstate",
      fmt::format("dir={}", options_.state_dir.string()),
      "--flags",
      flags,
      "--log",
      fmt::format("file={}", (options_.state_dir / "swtpm.log").string()),
  };
  std::vector<char*> argv;
  argv.reserve(arguments.size() + 1);
  for (auto& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);

  pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child < 0) {
    return std::unexpected("fork for swtpm");
  }
  if (child == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);  // the parent died before prctl took effect
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = child;
  return wait_until_ready();
}

std::expected<void, std::string> SwtpmProcess::wait_until_ready() {
  auto deadline = std::chrono::steady_clock::now() + kReadyDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return std::unexpected(fmt::format("swtpm on port {} exited at start (status {}): {}", port_,
                                         status, read_file(options_.state_dir / "swtpm.log")));
    }
    if (accepts_connections(port_) && accepts_connections(port_ + 1)) {
      return {};
    }
    std::this_thread::sleep_for(2ms);
  }
  kill();
  return std::unexpected(fmt::format("swtpm on port {} did not accept within 5 s", port_));
}

void SwtpmProcess::kill() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void SwtpmProcess::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(2ms);
  }
  kill();
}

std::expected<void, std::string> SwtpmProcess::restart() {
  stop();
  // The ports were ours a moment ago; a restart right after a kill may briefly find them busy.
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto launched = launch();
    if (launched) {
      return {};
    }
    last_error = launched.error();
    std::this_thread::sleep_for(100ms);
  }
  return std::unexpected(last_error);
}

}  // namespace liaison::keys::tpm
