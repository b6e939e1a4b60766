#include "cli/control_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "common/default_paths.h"

namespace liaison::cli {
namespace {

// Sets or clears $LIAISON_RUNTIME_DIR for one test and puts back what was there.
class RuntimeDirEnvironment {
 public:
  explicit RuntimeDirEnvironment(std::optional<std::string> value) {
    if (const char* before = std::getenv(kName)) {
      before_ = before;
    }
    if (value) {
      ::setenv(kName, value->c_str(), 1);
    } else {
      ::unsetenv(kName);
    }
  }
  ~RuntimeDirEnvironment() {
    if (before_) {
      ::setenv(kName, before_->c_str(), 1);
    } else {
      ::unsetenv(kName);
    }
  }

 private:
  static constexpr const char* kName = "LIAISON_RUNTIME_DIR";
  std::optional<std::string> before_;
};

TEST(RuntimeDirTest, TheDefaultIsThePlatformsRuntimeDirectory) {
  RuntimeDirEnvironment unset(std::nullopt);
#if defined(__APPLE__)
  EXPECT_EQ(runtime_dir_from(""), "/var/run/liaison");
#else
  // Linux: where liaison.service's RuntimeDirectory=liaison makes it, as it always was.
  EXPECT_EQ(runtime_dir_from(""), "/run/liaison");
#endif
  EXPECT_EQ(runtime_dir_from(""), kDefaultRuntimeDir);
}

TEST(RuntimeDirTest, TheEnvironmentOverridesTheDefaultAndTheFlagOverridesBoth) {
  {
    RuntimeDirEnvironment empty{std::string()};
    EXPECT_EQ(runtime_dir_from(""), kDefaultRuntimeDir) << "an empty variable is not a directory";
  }
  RuntimeDirEnvironment set(std::string("/tmp/liaison-env"));
  EXPECT_EQ(runtime_dir_from(""), "/tmp/liaison-env");
  EXPECT_EQ(runtime_dir_from("/tmp/liaison-flag"), "/tmp/liaison-flag");
}

}  // namespace
}  // namespace liaison::cli
