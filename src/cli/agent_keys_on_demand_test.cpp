#include "cli/agent_keys_on_demand.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <string>
#include <vector>

#include "protocol/json_rpc.h"

namespace liaison::cli {
namespace {

using protocol::Json;

// What the stand-in module saw, shared with its plain function entry point.
struct ModuleRecord {
  int opened = 0;
  std::filesystem::path store;
  std::vector<std::string> methods;
  std::function<void()> tpm_used;
  int flushes = 0;
  int flushes_leaving_keys = 0;  // how many flushes say keys stay loaded
  std::vector<log::Level> log_levels;
};
ModuleRecord record;

class StandInKeys : public LoadableAgentKeys {
 public:
  protocol::Result<Json> handle(const std::string& method, Json params) override {
    record.methods.push_back(method);
    return Json{{"echo", params}};
  }
  protocol::Finding check_provider(std::string_view name, const std::string&) override {
    return protocol::Finding::ok(std::string(name), "stand-in");
  }
  bool flush_idle() override { return ++record.flushes <= record.flushes_leaving_keys; }
  void set_log_level(log::Level level) override { record.log_levels.push_back(level); }
};

std::unique_ptr<LoadableAgentKeys> open_stand_in(const std::filesystem::path& store,
                                                 std::function<void()> tpm_used) {
  ++record.opened;
  record.store = store;
  record.tpm_used = std::move(tpm_used);
  return std::make_unique<StandInKeys>();
}

constexpr AgentKeysModule kStandInModule{.version = "test", .open = &open_stand_in};

class AgentKeysOnDemandTest : public ::testing::Test {
 protected:
  void SetUp() override { record = {}; }

  // A loader that counts its calls and fails while `failure` is set.
  AgentKeysOnDemand::ModuleLoader loader() {
    return [this]() -> std::expected<const AgentKeysModule*, std::string> {
      ++loads_;
      if (!failure_.empty()) {
        return std::unexpected(failure_);
      }
      return &kStandInModule;
    };
  }

  asio::io_context io_;
  int loads_ = 0;
  std::string failure_;
};

TEST_F(AgentKeysOnDemandTest, LoadsNothingUntilTheFirstKeyRequest) {
  AgentKeysOnDemand keys(io_, "/home/alice/.local/share/liaison/keys", loader());
  EXPECT_EQ(loads_, 0);
  EXPECT_FALSE(keys.loaded());

  auto listed = keys.handle("key.list", Json{{"user", "alice"}});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->at("echo"), (Json{{"user", "alice"}}));
  EXPECT_TRUE(keys.loaded());
  EXPECT_EQ(record.store, "/home/alice/.local/share/liaison/keys");

  ASSERT_TRUE(keys.handle("key.sign", Json::object()));
  EXPECT_EQ(loads_, 1);
  EXPECT_EQ(record.opened, 1);
  EXPECT_EQ(record.methods, (std::vector<std::string>{"key.list", "key.sign"}));
}

TEST_F(AgentKeysOnDemandTest, AModuleThatWillNotLoadIsUnavailableAndTriedAgain) {
  AgentKeysOnDemand keys(io_, "/store", loader());
  failure_ = "cannot load /usr/lib/liaison/liaison-agent-keys.so: no such file";

  auto refused = keys.handle("key.create", Json::object());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().data_code, "unavailable");
  EXPECT_NE(refused.error().message.find("cannot load its key code: cannot load "
                                         "/usr/lib/liaison/liaison-agent-keys.so"),
            std::string::npos)
      << refused.error().message;

  const protocol::Finding finding = keys.check_provider("software", "");
  EXPECT_EQ(finding.check, "software-keys");
  EXPECT_EQ(finding.status, protocol::Finding::Status::kFail);
  EXPECT_EQ(finding.hint, "reinstall liaison");

  failure_.clear();  // reinstalled
  EXPECT_TRUE(keys.handle("key.create", Json::object()));
  EXPECT_EQ(loads_, 3);
  EXPECT_EQ(record.opened, 1);
}

TEST_F(AgentKeysOnDemandTest, HandsTheAgentsLogLevelToTheModuleBeforeEachCall) {
  AgentKeysOnDemand keys(io_, "/store", loader());
  log::set_level(log::Level::kDebug);  // the daemon's level, as agent.hello sets it
  ASSERT_TRUE(keys.handle("key.list", Json::object()));
  log::set_level(log::Level::kInfo);
  keys.check_provider("tpm", "");
  EXPECT_EQ(record.log_levels, (std::vector<log::Level>{log::Level::kDebug, log::Level::kInfo}));
}

TEST_F(AgentKeysOnDemandTest, TheTpmsIdleFlushRunsOnTheAgentsLoopWhileKeysStayLoaded) {
  AgentKeysOnDemand keys(io_, "/store", loader(), std::chrono::seconds(0));
  ASSERT_TRUE(keys.handle("key.sign", Json::object()));
  record.flushes_leaving_keys = 1;
  record.tpm_used();  // what the module's providers call after a TPM lookup

  io_.run();  // one flush that leaves a key loaded, a second that leaves none, then no timer

  EXPECT_EQ(record.flushes, 2);
}

}  // namespace
}  // namespace liaison::cli
