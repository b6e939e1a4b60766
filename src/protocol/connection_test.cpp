#include "protocol/connection.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/write.hpp>
#include <functional>

namespace liaison::protocol {
namespace {

using namespace std::chrono_literals;

// A connection under test on one end of a socketpair; the test plays a raw peer on the other.
class ConnectionTest : public testing::Test {
 protected:
  void SetUp() override { asio::local::connect_pair(ours_, peer_); }

  std::shared_ptr<Connection> start(Connection::Limits limits = {},
                                    Connection::RequestHandler handler = nullptr) {
    auto connection = Connection::create(std::move(ours_), limits);
    connection->set_close_handler([this] { closed_ = true; });
    connection->start(std::move(handler));
    return connection;
  }

  void peer_sends(std::string_view bytes) { asio::write(peer_, asio::buffer(bytes)); }

  // Runs the loop until `done` or a generous deadline; the deadline only stops a broken test.
  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      io_.run_for(10ms);
    }
  }

  // Everything the connection wrote to the peer so far, as parsed lines.
  std::vector<Json> peer_receives() {
    peer_.non_blocking(true);
    std::string buffer(1 << 16, '\0');
    std::error_code error;
    while (std::size_t bytes = peer_.read_some(asio::buffer(buffer), error)) {
      received_.append(buffer.data(), bytes);
    }
    std::vector<Json> lines;
    std::size_t start = 0;
    for (std::size_t newline; (newline = received_.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      lines.push_back(Json::parse(received_.substr(start, newline - start)));
    }
    received_.erase(0, start);
    return lines;
  }

  std::vector<Json> run_until_peer_receives(std::size_t count) {
    std::vector<Json> lines;
    run_until([&] {
      for (Json& line : peer_receives()) {
        lines.push_back(std::move(line));
      }
      return lines.size() >= count;
    });
    return lines;
  }

  static asio::awaitable<Result<Json>> echo(Request request) {
    co_return Json{{"method", request.method}, {"params", request.params}};
  }

  asio::io_context io_;
  Connection::Socket ours_{io_};
  Connection::Socket peer_{io_};
  std::string received_;
  bool closed_ = false;
};

TEST_F(ConnectionTest, AnswersARequestUnderItsId) {
  auto connection = start({}, echo);
  peer_sends(R"({"jsonrpc":"2.0","id":"x1","method":"version","params":{"a":1}})"
             "\n");
  auto lines = run_until_peer_receives(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["id"], "x1");
  EXPECT_EQ(lines[0]["result"]["method"], "version");
  EXPECT_EQ(lines[0]["result"]["params"]["a"], 1);
}

TEST_F(ConnectionTest, NotificationsReachTheHandlerAndGetNoResponse) {
  std::vector<std::string> seen;
  auto connection = start({}, [&](Request request) -> asio::awaitable<Result<Json>> {
    seen.push_back(request.method);
    co_return Json();
  });
  peer_sends(R"({"jsonrpc":"2.0","method":"notification.closed","params":{}})"
             "\n"
             R"({"jsonrpc":"2.0","id":2,"method":"ping"})"
             "\n");
  auto lines = run_until_peer_receives(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["id"], 2) << "only the request is answered";
  EXPECT_EQ(seen, (std::vector<std::string>{"notification.closed", "ping"}));
}

TEST_F(ConnectionTest, WithoutAHandlerEveryMethodIsUnknown) {
  auto connection = start();
  peer_sends(R"({"jsonrpc":"2.0","id":1,"method":"nope"})"
             "\n");
  auto lines = run_until_peer_receives(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["error"]["code"], kMethodNotFound);
}

TEST_F(ConnectionTest, MalformedLinesAreAnsweredAndTheConnectionKeepsServing) {
  auto connection = start({}, echo);
  peer_sends("not json\n[1,2]\n\n{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"version\"}\r\n");
  auto lines = run_until_peer_receives(3);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["error"]["code"], kParseError);
  EXPECT_EQ(lines[1]["error"]["code"], kInvalidRequest);
  EXPECT_EQ(lines[2]["id"], 3);
  EXPECT_TRUE(connection->is_open());
}

TEST_F(ConnectionTest, ALineLongerThanTheLimitGetsAnErrorThenTheConnectionCloses) {
  auto connection = start({.max_line_bytes = 1000}, echo);
  peer_sends(std::string(1500, 'x'));
  auto lines = run_until_peer_receives(1);
  run_until([&] { return closed_; });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["error"]["code"], kInvalidRequest);
  EXPECT_NE(lines[0]["error"]["message"].get<std::string>().find("1000 bytes"), std::string::npos);
  EXPECT_TRUE(closed_);
}

TEST_F(ConnectionTest, HalfALineThenSilenceTimesOut) {
  auto connection = start({.partial_line_timeout = 50ms}, echo);
  peer_sends(R"({"jsonrpc":"2.0","id":1,"meth)");
  auto lines = run_until_peer_receives(1);
  run_until([&] { return closed_; });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0]["error"]["message"].get<std::string>().find("incomplete"), std::string::npos);
  EXPECT_TRUE(closed_);
}

TEST_F(ConnectionTest, APeerThatNeverReadsIsDropped) {
  auto connection = start({.max_queued_bytes = 4096}, [](Request) -> asio::awaitable<Result<Json>> {
    co_return Json(std::string(1000, 'y'));
  });
  std::string burst;
  for (int i = 0; i < 2000; ++i) {
    burst += fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"x"}})"
                         "\n",
                         i);
  }
  // Written from a second coroutine so the connection gets to run while the burst goes out.
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(peer_, asio::buffer(burst), asio::use_awaitable);
      },
      asio::detached);
  run_until([&] { return closed_; });
  EXPECT_TRUE(closed_) << "a peer that never reads must not make us queue without bound";
}

// Issue 11, attack 3a: an error whose data.code is a number once threw out of the read loop,
// which then ended without running the close handler: the owner's counters never shrank.
TEST_F(ConnectionTest, AnErrorWithOddFieldTypesNeitherThrowsNorSkipsTheCloseHandler) {
  auto connection = start({}, echo);
  for (int i = 0; i < 16; ++i) {
    peer_sends(R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":{"code":5}}})"
               "\n");
  }
  peer_sends(R"({"jsonrpc":"2.0","id":7,"method":"version"})"
             "\n");
  auto lines = run_until_peer_receives(1);
  ASSERT_EQ(lines.size(), 1u) << "the connection must still serve after the odd errors";
  EXPECT_EQ(lines[0]["id"], 7);
  peer_.close();
  run_until([&] { return closed_; });
  EXPECT_TRUE(closed_) << "the close handler must run when the peer goes";
}

TEST_F(ConnectionTest, AnUntrustedPeerGetsOneErrorForAMalformedLineAndIsClosed) {
  auto connection = start({}, echo);
  connection->set_untrusted(true);
  peer_sends("not json\n{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"version\"}\n");
  run_until([&] { return closed_; });
  auto lines = peer_receives();
  ASSERT_EQ(lines.size(), 1u) << "one error, and nothing after it is answered";
  EXPECT_EQ(lines[0]["error"]["code"], kParseError);
  EXPECT_TRUE(closed_);
}

// Issue 24, attack 2: a refusal with close_after_reply() to a request without an id has no
// reply to write, so nothing ever closed the connection and its owner's bookkeeping (the close
// handler) never ran: sixteen such lines locked their user's agent out until a restart.
TEST_F(ConnectionTest, CloseAfterReplyToANotificationClosesAtOnce) {
  std::shared_ptr<Connection> connection;
  connection = start({}, [&](Request) -> asio::awaitable<Result<Json>> {
    connection->close_after_reply();
    co_return std::unexpected(Error::application(codes::kNotPermitted, "no"));
  });
  peer_sends(R"({"jsonrpc":"2.0","method":"agent.hello","params":{}})"
             "\n");
  run_until([&] { return closed_; });
  EXPECT_TRUE(closed_) << "the peer keeps its end open: only the connection itself can close";
  EXPECT_TRUE(peer_receives().empty()) << "a notification gets no reply, not even a refusal";
}

TEST_F(ConnectionTest, CloseAfterReplyClosesOnceTheReplyIsWritten) {
  std::shared_ptr<Connection> connection;
  connection = start({}, [&](Request) -> asio::awaitable<Result<Json>> {
    connection->close_after_reply();
    co_return std::unexpected(Error::application(codes::kNotPermitted, "no"));
  });
  peer_sends(R"({"jsonrpc":"2.0","id":4,"method":"agent.hello","params":{}})"
             "\n"
             R"({"jsonrpc":"2.0","id":5,"method":"agent.hello","params":{}})"
             "\n");
  auto lines = run_until_peer_receives(1);
  run_until([&] { return closed_; });
  ASSERT_EQ(lines.size(), 1u) << "the line after the refused one is not read";
  EXPECT_EQ(lines[0]["id"], 4);
  EXPECT_EQ(lines[0]["error"]["data"]["code"], "not_permitted");
  EXPECT_TRUE(closed_);
}

// The peer sends its line and goes away before the answer: the close handler still runs once.
TEST_F(ConnectionTest, CloseAfterReplyThenEndOfInputRunsTheCloseHandlerOnce) {
  int closes = 0;
  std::shared_ptr<Connection> connection;
  connection = start({}, [&](Request) -> asio::awaitable<Result<Json>> {
    connection->close_after_reply();
    co_return Json();
  });
  connection->set_close_handler([&] { ++closes; });
  peer_sends(R"({"jsonrpc":"2.0","method":"agent.hello"})"
             "\n");
  peer_.shutdown(Connection::Socket::shutdown_send);
  run_until([&] { return closes > 0; });
  io_.run_for(20ms);
  EXPECT_EQ(closes, 1);
}

// The whole attack line of issue 24 over a real socket: one error, then closed, no crash.
TEST_F(ConnectionTest, AnUntrustedPeersDeepLineGetsOneErrorAndIsClosed) {
  auto connection = start({}, echo);
  connection->set_untrusted(true);
  const std::size_t levels = 500'000;
  const std::string line = R"({"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"a":)" +
                           std::string(levels, '[') + std::string(levels, ']') + "}}\n";
  // A megabyte fills the socket's buffer: written while the loop reads it.
  asio::async_write(peer_, asio::buffer(line), [](std::error_code, std::size_t) {});
  run_until([&] { return closed_; });
  auto lines = peer_receives();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["error"]["code"], kInvalidRequest);
  EXPECT_TRUE(closed_);
}

TEST_F(ConnectionTest, AnUntrustedPeerThatSendsAResponseIsClosed) {
  auto connection = start({}, echo);
  connection->set_untrusted(true);
  peer_sends(R"({"jsonrpc":"2.0","id":1,"result":{}})"
             "\n");
  run_until([&] { return closed_; });
  EXPECT_TRUE(closed_);
}

// Attack 3b: errors once quoted the peer's bad token or method whole, a 1 MiB line getting a
// 1-2 MiB answer.
TEST_F(ConnectionTest, ErrorsQuoteOnlyABoundedPartOfWhatThePeerSent) {
  auto connection = start();
  const std::string huge(std::size_t{400} * 1024, 'q');
  const std::string lines_sent = fmt::format(R"({{"jsonrpc":"2.0","id":1,"method":"{}"}})"
                                             "\n"
                                             R"(["{}\u12)"
                                             "\n",
                                             huge, huge);
  // More than a socket buffer: written from a coroutine so the connection reads meanwhile.
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(peer_, asio::buffer(lines_sent), asio::use_awaitable);
      },
      asio::detached);
  auto lines = run_until_peer_receives(2);
  ASSERT_EQ(lines.size(), 2u);
  for (const Json& line : lines) {
    const auto message = line["error"]["message"].get<std::string>();
    EXPECT_LE(message.size(), 400u) << message.substr(0, 400);
  }
  EXPECT_EQ(lines[0]["error"]["code"], kMethodNotFound);
  EXPECT_EQ(lines[1]["error"]["code"], kParseError);
}

TEST_F(ConnectionTest, APeerThatStopsReadingIsDroppedAfterTheWriteDeadline) {
  // Big replies fill the socket buffer; the peer reads nothing. Our reason for closing cannot
  // get out either: the write deadline ends it regardless.
  auto connection =
      start({.max_queued_bytes = std::size_t{64} * 1024 * 1024, .write_timeout = 100ms},
            [](Request) -> asio::awaitable<Result<Json>> {
              co_return Json(std::string(std::size_t{1024} * 1024, 'y'));
            });
  for (int i = 0; i < 8; ++i) {
    peer_sends(fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"x"}})"
                           "\n",
                           i));
  }
  io_.run_for(50ms);
  connection->fail_and_close(Error::invalid_request("go away"));
  run_until([&] { return closed_; });
  EXPECT_TRUE(closed_) << "fail_and_close must not wait for a reader that never reads";
}

TEST_F(ConnectionTest, CallsGetTheirResponsesMatchedById) {
  auto connection = start();
  std::optional<Result<Json>> first, second;
  // Built outside the coroutines: g++ 12 miscompiles braced JSON initialisers next to co_await.
  const Json one = {{"n", 1}};
  const Json two = {{"n", 2}};
  asio::co_spawn(
      io_, [&]() -> asio::awaitable<void> { first = co_await connection->call("notify", one, 5s); },
      asio::detached);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> { second = co_await connection->call("notify", two, 5s); },
      asio::detached);
  auto requests = run_until_peer_receives(2);
  ASSERT_EQ(requests.size(), 2u);
  // Answer in reverse order: matching is by id, not by arrival.
  for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
    peer_sends(
        Json{{"jsonrpc", "2.0"}, {"id", (*it)["id"]}, {"result", (*it)["params"]["n"]}}.dump() +
        "\n");
  }
  run_until([&] { return first && second; });
  ASSERT_TRUE(first && second);
  EXPECT_EQ(**first, 1);   // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_EQ(**second, 2);  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
}

TEST_F(ConnectionTest, ACallWithNoAnswerTimesOut) {
  auto connection = start();
  std::optional<Result<Json>> outcome;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        outcome = co_await connection->call("notify", Json::object(), 30ms);
      },
      asio::detached);
  run_until([&] { return outcome.has_value(); });
  ASSERT_TRUE(outcome && !outcome->has_value());
  const auto& result = *outcome;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_EQ(result.error().data_code, codes::kTimeout);
}

TEST_F(ConnectionTest, ClosingFailsPendingCallsAsUnavailable) {
  auto connection = start();
  std::optional<Result<Json>> outcome;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        outcome = co_await connection->call("notify", Json::object(), 5s);
      },
      asio::detached);
  run_until_peer_receives(1);
  peer_.close();
  run_until([&] { return outcome.has_value(); });
  ASSERT_TRUE(outcome && !outcome->has_value());
  const auto& result = *outcome;  // NOLINT(bugprone-unchecked-optional-access): ASSERT above
  EXPECT_EQ(result.error().data_code, codes::kUnavailable);
  EXPECT_TRUE(closed_);
}

}  // namespace
}  // namespace liaison::protocol
