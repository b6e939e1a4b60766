// The provider's answer to "retry" responses (TPM2_RC_RETRY, _YIELDED, _TESTING), which swtpm sends
// rarely (libtpms answered the first TPM2_Sign after a start with RETRY once): a proxy between the
// swtpm TCTI and swtpm answers the next TPM2_Sign commands with a warning instead of passing them
// on. ESAPI (3.2.1) itself resubmits such a command at once, five submissions in all; the provider
// retries what ESAPI gave up on, with a backoff.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <tss2_tpm2_types.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "common/unique_fd.h"
#include "keys/key_test_support.h"
#include "keys/tpm/testing/swtpm_process.h"
#include "keys/tpm/tpm_provider.h"

namespace liaison::keys::tpm {
namespace {

using testing::bytes_of;
using ::testing::HasSubstr;
using testing::signature_verifies;

constexpr std::size_t kHeaderSize = 10;  // tag (2), size (4), command code or response code (4)

uint32_t read_be32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         bytes[3];
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

UniqueFd connect_to(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return {};
  }
  return fd;
}

bool read_exactly(int fd, uint8_t* buffer, std::size_t size) {
  while (size > 0) {
    ssize_t got = ::read(fd, buffer, size);
    if (got <= 0) {
      return false;
    }
    buffer += got;
    size -= static_cast<std::size_t>(got);
  }
  return true;
}

bool write_all(int fd, const uint8_t* buffer, std::size_t size) {
  while (size > 0) {
    ssize_t put = ::write(fd, buffer, size);
    if (put <= 0) {
      return false;
    }
    buffer += put;
    size -= static_cast<std::size_t>(put);
  }
  return true;
}

// One TPM command or response: the header says how long it is.
std::optional<Bytes> read_message(int fd) {
  Bytes message(kHeaderSize);
  if (!read_exactly(fd, message.data(), kHeaderSize)) {
    return std::nullopt;
  }
  uint32_t size = read_be32(message.data() + 2);
  if (size < kHeaderSize || size > 8192) {
    return std::nullopt;
  }
  message.resize(size);
  if (!read_exactly(fd, message.data() + kHeaderSize, size - kHeaderSize)) {
    return std::nullopt;
  }
  return message;
}

// Listens on P and P + 1 like swtpm; control connections are relayed to swtpm untouched, TPM
// commands one by one, except that the next `warnings` TPM2_Sign commands get `warning` back.
class WarningProxy {
 public:
  explicit WarningProxy(uint16_t swtpm_port) : swtpm_port_(swtpm_port) {
    std::mt19937 random(std::random_device{}());
    for (int attempt = 0; attempt < 50 && !port_; ++attempt) {
      uint16_t port = std::uniform_int_distribution<int>(10000, 30000)(random);
      UniqueFd command = listen_on(port);
      UniqueFd control = listen_on(port + 1);
      if (!command || !control) {
        continue;
      }
      command_listener_ = std::move(command);
      control_listener_ = std::move(control);
      port_ = port;
    }
    if (!port_) {
      throw std::runtime_error("no ports for the proxy");
    }
    thread_ = std::jthread([this](const std::stop_token& stop) { serve(stop); });
  }

  std::string tcti() const { return fmt::format("swtpm:host=127.0.0.1,port={}", port_); }
  void answer_sign_with(TPM2_RC warning, int times) {
    warning_ = warning;
    warnings_left_ = times;
  }
  int signs_seen() const { return signs_seen_; }

 private:
  static UniqueFd listen_on(uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = loopback(port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd.get(), 16) != 0) {
      return {};
    }
    return fd;
  }

  void serve(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      std::array<pollfd, 2> listeners = {pollfd{command_listener_.get(), POLLIN, 0},
                                         pollfd{control_listener_.get(), POLLIN, 0}};
      if (::poll(listeners.data(), listeners.size(), 20) <= 0) {
        continue;
      }
      if (listeners[0].revents & POLLIN) {
        UniqueFd client(::accept4(command_listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (client) {
          relay_commands(client.get());
        }
      }
      if (listeners[1].revents & POLLIN) {
        UniqueFd client(::accept4(control_listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (client) {
          relay_bytes(client.get(), swtpm_port_ + 1);
        }
      }
    }
  }

  void relay_commands(int client) {
    UniqueFd swtpm;
    while (auto message = read_message(client)) {
      // The loop condition checked it; clang-tidy 16 loses that inside this loop (false positive).
      const auto& command = *message;  // NOLINT(bugprone-unchecked-optional-access)
      if (read_be32(command.data() + 6) == TPM2_CC_Sign) {
        ++signs_seen_;
        if (warnings_left_ > 0) {
          --warnings_left_;
          std::array<uint8_t, kHeaderSize> response = {0x80, 0x01, 0, 0, 0, kHeaderSize};
          uint32_t rc = warning_;
          for (int i = 0; i < 4; ++i) {
            response[6 + i] = static_cast<uint8_t>(rc >> (24 - 8 * i));
          }
          if (!write_all(client, response.data(), response.size())) {
            return;
          }
          continue;
        }
      }
      if (!swtpm) {
        swtpm = connect_to(swtpm_port_);
      }
      if (!swtpm || !write_all(swtpm.get(), command.data(), command.size())) {
        return;
      }
      auto response = read_message(swtpm.get());
      if (!response || !write_all(client, response->data(), response->size())) {
        return;
      }
    }
  }

  // The control channel's little protocol, passed through until either side closes.
  void relay_bytes(int client, uint16_t port) {
    UniqueFd upstream = connect_to(port);
    if (!upstream) {
      return;
    }
    std::array<pollfd, 2> ends = {pollfd{client, POLLIN, 0}, pollfd{upstream.get(), POLLIN, 0}};
    std::array<uint8_t, 4096> buffer;
    for (;;) {
      if (::poll(ends.data(), ends.size(), 2000) <= 0) {
        return;
      }
      for (int i = 0; i < 2; ++i) {
        if (!(ends[i].revents & (POLLIN | POLLHUP))) {
          continue;
        }
        ssize_t got = ::read(ends[i].fd, buffer.data(), buffer.size());
        if (got <= 0 || !write_all(ends[1 - i].fd, buffer.data(), static_cast<std::size_t>(got))) {
          return;
        }
      }
    }
  }

  uint16_t swtpm_port_;
  uint16_t port_ = 0;
  UniqueFd command_listener_;
  UniqueFd control_listener_;
  std::atomic<TPM2_RC> warning_ = TPM2_RC_RETRY;
  std::atomic<int> warnings_left_ = 0;
  std::atomic<int> signs_seen_ = 0;
  std::jthread thread_;  // last: stopped and joined before the sockets close
};

class TpmRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto swtpm = SwtpmProcess::start();
    ASSERT_TRUE(swtpm) << swtpm.error();
    swtpm_ = std::move(*swtpm);
    proxy_ = std::make_unique<WarningProxy>(swtpm_->port());
    auto provider = TpmProvider::open(proxy_->tcti());
    ASSERT_TRUE(provider) << provider.error().message;
    provider_ = std::move(*provider);
    auto key = provider_->generate();
    ASSERT_TRUE(key) << key.error().message;
    key_ = std::move(*key);
  }

  KeyResult<Bytes> sign(std::string_view message) {
    return key_->sign_digest(sha256(bytes_of(message)));
  }

  std::unique_ptr<SwtpmProcess> swtpm_;
  std::unique_ptr<WarningProxy> proxy_;
  std::unique_ptr<TpmProvider> provider_;
  std::unique_ptr<UnexportableSigningKey> key_;
};

TEST_F(TpmRetryTest, AFewWarningsAreAbsorbedByEsapiItself) {
  for (TPM2_RC warning : {TPM2_RC_RETRY, TPM2_RC_YIELDED, TPM2_RC_TESTING}) {
    proxy_->answer_sign_with(warning, 2);
    int seen_before = proxy_->signs_seen();
    auto signature = sign("busy TPM");
    ASSERT_TRUE(signature) << fmt::format("0x{:x}: ", warning) << signature.error().message;
    EXPECT_TRUE(signature_verifies(key_->public_key_spki(), bytes_of("busy TPM"), *signature));
    EXPECT_GE(proxy_->signs_seen() - seen_before, 3);  // two warned, then one signed
  }
}

TEST_F(TpmRetryTest, RetriesWithABackoffWhatEsapiGaveUpOn) {
  ASSERT_TRUE(sign("warm: the key is loaded"));
  proxy_->answer_sign_with(TPM2_RC_TESTING, 7);  // more than ESAPI's five submissions
  int seen_before = proxy_->signs_seen();
  auto signature = sign("a TPM testing itself for a while");
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_EQ(proxy_->signs_seen() - seen_before, 8);
}

TEST_F(TpmRetryTest, GivesUpAfterAFewRetriesWithAClearError) {
  ASSERT_TRUE(sign("warm: the key is loaded"));
  proxy_->answer_sign_with(TPM2_RC_TESTING, 1000);
  int seen_before = proxy_->signs_seen();
  auto start = std::chrono::steady_clock::now();
  auto refused = sign("a TPM that stays busy");
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "unavailable");
  EXPECT_THAT(refused.error().message, HasSubstr("stayed busy"));
  EXPECT_EQ(proxy_->signs_seen() - seen_before, 6 * 5);  // six tries of five submissions
  EXPECT_GE(waited, std::chrono::milliseconds(150));     // 5 + 10 + 20 + 40 + 80 ms
  EXPECT_LT(waited, std::chrono::seconds(2));

  proxy_->answer_sign_with(TPM2_RC_TESTING, 0);
  EXPECT_TRUE(sign("done testing"));
}

}  // namespace
}  // namespace liaison::keys::tpm
