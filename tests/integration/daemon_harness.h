// What the integration fixtures share: a daemon's runtime dir of its own under /tmp, the fakes at
// the platform edge (sessions, peer identity), and calls on the daemon's sockets made the way a
// client makes them, driven by the test's one io_context.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/config.h"
#include "daemon/daemon.h"
#include "daemon/fake_peer_identity.h"
#include "daemon/fake_session_source.h"
#include "daemon/users.h"
#include "protocol/connection.h"

namespace liaison {

class DaemonHarness : public testing::Test {
 protected:
  static constexpr uid_t kAlice = 1001;
  static constexpr uid_t kBob = 1002;
  static constexpr uid_t kCarol = 1003;

  // The accounts the tests' users have, whatever this machine's user database says (alice and
  // bob have no passwd entry here); anything else goes to the real database.
  static std::optional<daemon::ResolvedUser> test_users(const std::string& name_or_uid) {
    for (const daemon::ResolvedUser& user :
         {daemon::ResolvedUser{kAlice, "alice", true}, daemon::ResolvedUser{kBob, "bob", true},
          daemon::ResolvedUser{kCarol, "carol", true}, daemon::ResolvedUser{0, "root", true}}) {
      if (name_or_uid == user.name || name_or_uid == std::to_string(user.uid)) {
        return user;
      }
    }
    return daemon::resolve_user(name_or_uid);
  }

  // `name` tells the runtime dirs of the test binaries apart.
  explicit DaemonHarness(std::string_view name) {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("liaison-{}-{}-{}", name, ::getpid(), counter_++);
    std::filesystem::create_directories(dir_);
    paths_.runtime_dir = dir_.string();
  }
  ~DaemonHarness() override { std::filesystem::remove_all(dir_); }

  static daemon::Session session(std::string id, uid_t uid, std::string user,
                                 std::string type = "x11") {
    return {.id = std::move(id),
            .uid = uid,
            .user = std::move(user),
            .type = std::move(type),
            .session_class = "user",
            .state = "active",
            .seat = "seat0"};
  }

  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 1000 && !done(); ++i) {
      io_.run_for(std::chrono::milliseconds(5));
    }
  }

  // Connects to `socket_path` and makes one call on the new connection, as a client would.
  std::pair<protocol::Result<protocol::Json>, std::shared_ptr<protocol::Connection>> call_on(
      const std::string& socket_path, const std::string& method, const protocol::Json& params,
      std::chrono::milliseconds timeout) {
    asio::local::stream_protocol::socket socket(io_);
    socket.connect(asio::local::stream_protocol::endpoint(socket_path));
    auto connection = protocol::Connection::create(std::move(socket));
    connection->start(nullptr);
    std::optional<protocol::Result<protocol::Json>> outcome;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          outcome = co_await connection->call(method, params, timeout);
        },
        asio::detached);
    run_until([&] { return outcome.has_value(); });
    return {outcome.value_or(std::unexpected(protocol::Error::internal("no answer"))), connection};
  }

  // A call on control.sock left running: its answer lands in `outcome` while the test goes on.
  struct PendingCall {
    std::shared_ptr<protocol::Connection> connection;
    std::shared_ptr<std::optional<protocol::Result<protocol::Json>>> outcome =
        std::make_shared<std::optional<protocol::Result<protocol::Json>>>();
  };
  PendingCall start_control_call(const std::string& method, protocol::Json params) {
    asio::local::stream_protocol::socket socket(io_);
    socket.connect(asio::local::stream_protocol::endpoint(paths_.control_socket()));
    PendingCall call{protocol::Connection::create(std::move(socket))};
    call.connection->start(nullptr);
    asio::co_spawn(
        io_,
        [connection = call.connection, outcome = call.outcome, method,
         params = std::move(params)]() -> asio::awaitable<void> {
          *outcome = co_await connection->call(method, params, std::chrono::seconds(20));
        },
        asio::detached);
    return call;
  }

  // One call on control.sock, the way `liaison` makes it.
  protocol::Result<protocol::Json> control(const std::string& method, protocol::Json params) {
    auto [outcome, connection] =
        call_on(paths_.control_socket(), method, params, std::chrono::seconds(20));
    connection->close();
    return outcome;
  }

  static inline int counter_ = 0;
  asio::io_context io_;
  std::filesystem::path dir_;
  daemon::DaemonPaths paths_;
  Config config_;
  daemon::FakeSessionSource sessions_;
  daemon::FakePeerIdentity peers_{kAlice};
};

}  // namespace liaison
