#include "protocol/json_rpc.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <functional>
#include <string>

namespace liaison::protocol {
namespace {

ParseFailure parse_failure(std::string_view line) {
  auto message = parse_message(line);
  EXPECT_FALSE(message.has_value()) << "expected a failure for: " << line;
  return message ? ParseFailure{} : message.error();
}

TEST(ParseMessage, ReadsARequestWithNamedParams) {
  auto message =
      parse_message(R"({"jsonrpc":"2.0","id":7,"method":"notify","params":{"title":"x"}})");
  ASSERT_TRUE(message.has_value());
  const auto& request = std::get<Request>(*message);
  EXPECT_EQ(request.id, Json(7));
  EXPECT_EQ(request.method, "notify");
  EXPECT_EQ(request.params.at("title"), "x");
  EXPECT_FALSE(request.is_notification());
}

TEST(ParseMessage, ANotificationHasNoIdAndDefaultsParamsToAnEmptyObject) {
  auto message = parse_message(R"({"jsonrpc":"2.0","method":"notification.closed"})");
  ASSERT_TRUE(message.has_value());
  const auto& request = std::get<Request>(*message);
  EXPECT_TRUE(request.is_notification());
  EXPECT_TRUE(request.params.is_object());
  EXPECT_TRUE(request.params.empty());
}

TEST(ParseMessage, ReadsResultsAndErrors) {
  auto ok = parse_message(R"({"jsonrpc":"2.0","id":"a","result":{"n":1}})");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(std::get<Response>(*ok).outcome->at("n"), 1);

  auto failed = parse_message(
      R"({"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"m","data":{"code":"no_session"}}})");
  ASSERT_TRUE(failed.has_value());
  const auto& response = std::get<Response>(*failed);
  ASSERT_FALSE(response.outcome.has_value());
  EXPECT_EQ(response.outcome.error(), Error::application(codes::kNoSession, "m"));
}

TEST(ParseMessage, AnErrorWithANullIdIsAResponse) {
  auto message = parse_message(
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"no","data":{"code":"not_permitted"}}})");
  ASSERT_TRUE(message.has_value());
  const auto& response = std::get<Response>(*message);
  EXPECT_TRUE(response.id.is_null());
  EXPECT_EQ(response.outcome.error().data_code, codes::kNotPermitted);
}

// Issue 11, attack 3a: nlohmann's value() throws on a field of another type; from_json must not.
TEST(ParseMessage, AnErrorWithFieldsOfOtherTypesIsReadNotThrown) {
  for (std::string_view line :
       {R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":{"code":5}}})",
        R"({"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m","data":{"code":[1]}}})",
        R"({"jsonrpc":"2.0","id":2,"error":{"code":99999999999,"message":"m"}})"}) {
    auto message = parse_message(line);
    ASSERT_TRUE(message.has_value()) << line;
    const auto& response = std::get<Response>(*message);
    ASSERT_FALSE(response.outcome.has_value());
    EXPECT_EQ(response.outcome.error().message, "m");
    EXPECT_EQ(response.outcome.error().data_code, "") << line;
  }
}

TEST(ErrorFromJson, KeepsOnlyBoundedTextOfThePeer) {
  const Error error = Error::from_json({{"code", 1},
                                        {"message", std::string(100'000, 'm')},
                                        {"data", {{"code", std::string(500, 'c')}}}});
  EXPECT_LE(error.message.size(), kMaxErrorBytes + 32);
  EXPECT_LE(error.data_code.size(), 100u);
  EXPECT_EQ(Error::from_json(Json::array()).code, kInternalError);
}

TEST(BoundedForError, CutsOnACharacterBoundaryAndSaysHowLongItWas) {
  EXPECT_EQ(bounded_for_error("short", 10), "short");
  // "é" is two bytes: a cut at 2 would split the second one.
  EXPECT_EQ(bounded_for_error("aéé", 2), "a... (5 bytes)");
}

TEST(Serialize, AnErrorMessageIsBoundedOnTheWire) {
  const std::string line =
      serialize(Response{1, std::unexpected(Error::internal(std::string(50'000, 'x')))});
  EXPECT_LT(line.size(), kMaxErrorBytes + 200);
}

TEST(ParseMessage, MalformedJsonIsAParseErrorWithANullId) {
  auto failure = parse_failure("not json");
  EXPECT_EQ(failure.error.code, kParseError);
  EXPECT_TRUE(failure.id.is_null());
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0","id":1,)").error.code, kParseError);
}

TEST(ParseMessage, ANonObjectIsAnInvalidRequest) {
  for (std::string_view line : {"[1,2]", "42", R"("text")", "null", "[]"}) {
    EXPECT_EQ(parse_failure(line).error.code, kInvalidRequest) << line;
  }
}

TEST(ParseMessage, WrongTypesAreInvalidRequestsAnsweredUnderTheirIdWhenKnown) {
  auto no_version = parse_failure(R"({"id":5,"method":"version"})");
  EXPECT_EQ(no_version.error.code, kInvalidRequest);
  EXPECT_EQ(no_version.id, Json(5));

  EXPECT_EQ(parse_failure(R"({"jsonrpc":"1.0","id":5,"method":"x"})").error.code, kInvalidRequest);
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0","id":5,"method":42})").id, Json(5));
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0","id":5,"method":""})").error.code, kInvalidRequest);
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0","id":{"a":1},"method":"x"})").error.code,
            kInvalidRequest);
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0","id":1.5,"method":"x"})").error.code,
            kInvalidRequest);
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0"})").error.code, kInvalidRequest);
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0","id":1})").error.code, kInvalidRequest);
  EXPECT_EQ(parse_failure(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{}})").error.code,
            kInvalidRequest);
}

TEST(ParseMessage, PositionalParamsAreInvalidParams) {
  auto failure = parse_failure(R"({"jsonrpc":"2.0","id":9,"method":"notify","params":["t"]})");
  EXPECT_EQ(failure.error.code, kInvalidParams);
  EXPECT_EQ(failure.id, Json(9));
}

TEST(ParseMessage, ALineOverTheLimitIsRefusedWithoutParsingIt) {
  std::string line(kMaxLineBytes + 1, ' ');
  auto failure = parse_failure(line);
  EXPECT_EQ(failure.error.code, kInvalidRequest);
  EXPECT_NE(failure.error.message.find("bytes"), std::string::npos);
}

TEST(Serialize, WritesOneCompactLineThatParsesBack) {
  std::string line = serialize(Request{Id(1), "notify", {{"title", "a\nb"}}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "an embedded newline would break the framing";
  auto back = parse_message(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::get<Request>(*back).params.at("title"), "a\nb");
}

TEST(Serialize, ErrorsCarryTheStableDataCode) {
  std::string line =
      serialize(Response{Id(2), std::unexpected(Error::application(codes::kRateLimited, "slow"))});
  Json parsed = Json::parse(line);
  EXPECT_EQ(parsed["error"]["code"], kApplicationError);
  EXPECT_EQ(parsed["error"]["data"]["code"], "rate_limited");
  EXPECT_EQ(parsed["error"]["message"], "slow");
}

TEST(Serialize, PlainJsonRpcErrorsHaveNoData) {
  Json parsed = Json::parse(serialize(Response{nullptr, std::unexpected(Error::parse_error("x"))}));
  EXPECT_FALSE(parsed["error"].contains("data"));
  EXPECT_TRUE(parsed["id"].is_null());
}

TEST(Serialize, InvalidUtf8IsReplacedNotThrown) {
  std::string line = serialize(Request{Id(1), "notify", {{"title", std::string("\xff\xfe")}}});
  EXPECT_TRUE(Json::accept(line));
}

// `levels` arrays, one inside the next: a value `levels` deep.
std::string nested_arrays(std::size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

// `levels` objects, one inside the next, each under the key "a".
std::string nested_objects(std::size_t levels) {
  std::string text;
  for (std::size_t i = 0; i + 1 < levels; ++i) text += R"({"a":)";
  return text + "{}" + std::string(levels - 1, '}');
}

// A request whose whole line nests `levels` deep: the message is level 1, params level 2.
std::string request_nested(std::size_t levels) {
  return R"({"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"a":)" +
         nested_arrays(levels - 2) + "}}";
}

// Issue 24, attack 1: one line of half a million '[' in agent.hello's params, sent before any
// trust check, once crashed the daemon: the tree parsed, then copying the params recursed once
// per level and took the whole stack.
TEST(ParseMessage, ALineNestedTooDeepIsRefusedBeforeAnyTreeIsCopied) {
  auto failure = parse_failure(request_nested(500'000));
  EXPECT_EQ(failure.error.code, kInvalidRequest);
  EXPECT_NE(failure.error.message.find("64 levels"), std::string::npos) << failure.error.message;
  EXPECT_TRUE(failure.id.is_null());
}

TEST(ParseMessage, SixtyFourLevelsAreReadAndSixtyFiveAreNot) {
  auto deepest = parse_message(request_nested(kMaxNestingDepth));
  ASSERT_TRUE(deepest.has_value()) << deepest.error().error.message;
  EXPECT_EQ(parse_failure(request_nested(kMaxNestingDepth + 1)).error.code, kInvalidRequest);
}

// The same bound for every part a peer fills: a response's result, an error's data, the id, and
// objects as well as arrays.
TEST(ParseMessage, EveryPartOfAMessageIsBoundedInDepth) {
  const std::string deep = nested_arrays(200'000);
  const std::string deep_objects = nested_objects(100'000);  // 5 bytes a level
  for (const std::string& line :
       {R"({"jsonrpc":"2.0","id":1,"result":)" + deep + "}",
        R"({"jsonrpc":"2.0","id":1,"result":)" + deep_objects + "}",
        R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":)" + deep + "}}",
        R"({"jsonrpc":"2.0","id":)" + deep + R"(,"method":"version"})",
        R"({"jsonrpc":"2.0","id":1,"method":"notify","params":)" + deep_objects + "}"}) {
    auto failure = parse_failure(line);
    EXPECT_EQ(failure.error.code, kInvalidRequest) << line.substr(0, 80);
    EXPECT_NE(failure.error.message.find("levels"), std::string::npos) << failure.error.message;
  }
}

TEST(ParseJson, CountsLevelsOfObjectsAndArraysAlike) {
  EXPECT_TRUE(parse_json("1", 0).has_value());
  EXPECT_TRUE(parse_json("[]", 1).has_value());
  EXPECT_FALSE(parse_json("[]", 0).has_value());
  EXPECT_TRUE(parse_json(R"({"a":[1,{"b":2}]})", 3).has_value());
  EXPECT_FALSE(parse_json(R"({"a":[1,{"b":2}]})", 2).has_value());
  EXPECT_TRUE(parse_json(nested_objects(64)).has_value());
  EXPECT_FALSE(parse_json(nested_objects(65)).has_value());
  EXPECT_EQ(parse_json("[1,").error().code, kParseError);
}

// Runs `body` on a thread with a stack of `stack_bytes`: a body that recursed once per level of a
// deep tree would overflow it and crash the test.
void run_on_small_stack(std::size_t stack_bytes, std::function<void()> body) {
  pthread_attr_t attributes;
  ASSERT_EQ(pthread_attr_init(&attributes), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attributes, stack_bytes), 0);
  pthread_t thread;
  auto run = [](void* argument) -> void* {
    (*static_cast<std::function<void()>*>(argument))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attributes, run, &body), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attributes);
}

// The parser refuses deep trees, but a tree may still be destroyed half-built (the parse stopped
// at level 65) or come from elsewhere: nlohmann must destroy, and parse, without recursing.
// A million levels on a 256 KiB stack leave under a byte a level: any recursion would crash.
TEST(ParseJson, ParsingAndDestroyingADeepTreeDoNotRecurse) {
  const std::string deep = nested_arrays(1'000'000);
  bool parsed = false;
  run_on_small_stack(256 * 1024, [&] {
    Json tree = Json::parse(deep);  // unbounded on purpose: the test needs the deep tree
    parsed = tree.is_array();
  });  // destroyed here, on the small stack
  EXPECT_TRUE(parsed);
  run_on_small_stack(256 * 1024, [&] { EXPECT_FALSE(parse_json(deep).has_value()); });
}

// A request id is echoed in the reply: a megabyte id once came back as a megabyte.
TEST(ParseMessage, IdsAreIntegersOrStringsOfAtMost64Bytes) {
  const std::string id_64(kMaxIdBytes, 'i');
  auto accepted = parse_message(R"({"jsonrpc":"2.0","id":")" + id_64 + R"(","method":"version"})");
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(std::get<Request>(*accepted).id, Json(id_64));
  for (const std::string& id : {std::string(kMaxIdBytes + 1, 'i'), std::string(1 << 20, 'i')}) {
    auto failure = parse_failure(R"({"jsonrpc":"2.0","id":")" + id + R"(","method":"version"})");
    EXPECT_EQ(failure.error.code, kInvalidRequest);
    EXPECT_TRUE(failure.id.is_null()) << "a refused id is not echoed";
    EXPECT_LT(serialize(Response{failure.id, std::unexpected(failure.error)}).size(), 300u);
  }
}

}  // namespace
}  // namespace liaison::protocol
