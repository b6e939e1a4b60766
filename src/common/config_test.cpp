#include "common/config.h"

#include <gtest/gtest.h>

namespace liaison {
namespace {

std::string error_of(std::string_view text) {
  auto config = parse_config(text, "test.toml");
  EXPECT_FALSE(config.has_value()) << "expected an error for:\n" << text;
  return config ? "" : config.error();
}

TEST(Config, AnEmptyFileMeansTheDefaults) {
  auto config = parse_config("", "test.toml");
  ASSERT_TRUE(config.has_value()) << config.error();
  EXPECT_EQ(config->agent.launch, "exec");
  EXPECT_FALSE(config->sessions.include_remote);
  EXPECT_FALSE(config->sessions.include_tty);
  EXPECT_EQ(config->sessions.min_uid, 1000u);
  EXPECT_EQ(config->keys.backend, "auto");
  EXPECT_EQ(config->keys.tpm_tcti, "device:/dev/tpmrm0");
  EXPECT_EQ(config->keys.tpm_context, "daemon");
  EXPECT_EQ(config->keys.keychain_access_group, "");
  EXPECT_EQ(config->notify.app_name, "liaison");
  EXPECT_EQ(config->notify.per_user_per_minute, 30u);
}

TEST(Config, ReadsEveryKey) {
  auto config = parse_config(R"(
[agent]
launch = "asuser"
[sessions]
include_remote = true
include_tty = true
min_uid = 500
[keys]
backend = "tpm"
tpm_tcti = "swtpm:host=127.0.0.1,port=2321"
tpm_context = "user-session"
keychain_access_group = "ABCDE12345.dev.liaison"
[notify]
app_name = "Acme"
per_user_per_minute = 5
[log]
level = "debug"
)",
                             "test.toml");
  ASSERT_TRUE(config.has_value()) << config.error();
  EXPECT_EQ(config->agent.launch, "asuser");
  EXPECT_TRUE(config->sessions.include_remote);
  EXPECT_TRUE(config->sessions.include_tty);
  EXPECT_EQ(config->sessions.min_uid, 500u);
  EXPECT_EQ(config->keys.backend, "tpm");
  EXPECT_EQ(config->keys.tpm_tcti, "swtpm:host=127.0.0.1,port=2321");
  EXPECT_EQ(config->keys.tpm_context, "user-session");
  EXPECT_EQ(config->keys.keychain_access_group, "ABCDE12345.dev.liaison");
  EXPECT_EQ(config->notify.app_name, "Acme");
  EXPECT_EQ(config->notify.per_user_per_minute, 5u);
  EXPECT_EQ(config->log.level, "debug");
}

TEST(Config, KeychainAccessGroupIsAStringAndItsMisspellingsAreErrors) {
  EXPECT_EQ(error_of("[keys]\nkeychain_access_group = 5\n"),
            "test.toml: keys.keychain_access_group must be a string");
  EXPECT_EQ(error_of("[keys]\nkeychain_acces_group = \"X\"\n"),
            "test.toml: unknown key keys.keychain_acces_group");
  EXPECT_EQ(error_of("[agent]\nkeychain_access_group = \"X\"\n"),
            "test.toml: unknown key agent.keychain_access_group");
}

TEST(Config, UnknownKeysAndSectionsAreErrorsNamingThem) {
  EXPECT_EQ(error_of("[agent]\nlaunh = \"exec\"\n"), "test.toml: unknown key agent.launh");
  EXPECT_EQ(error_of("[agnet]\n"), "test.toml: unknown section [agnet]");
  EXPECT_EQ(error_of("launch = \"exec\"\n"), "test.toml: launch must be a table ([launch])");
}

// tests/fuzz/config_fuzzer found toml++ 3.3.0 reaching __builtin_unreachable() on non-ASCII text
// where whitespace may stand; toml++ is now given ASCII only (toml_ascii.h).
TEST(Config, NonAsciiTextIsReadWhereTomlAllowsItAndRefusedElsewhereWithoutUndefinedBehaviour) {
  EXPECT_EQ(error_of(" a\xd1\x9a,"),
            "test.toml:1:3: a non-ASCII character outside a string or a comment");
  EXPECT_EQ(error_of("[notify]\napp_name = '\xd1\x9a'\n"),
            "test.toml:2:13: a non-ASCII character in a literal ('...') string: write the value "
            "in \"...\"");
  // The inputs the fuzzer found: each an error, none undefined behaviour.
  error_of("\"\"\"\\\\\\\\\\\xef\xbb\xbf\\\\\\\"\"\"\n");
  error_of(std::string_view("uid = 2\\\\\0\0\\\0\x1f\\pm:+nf\"tpm^tcti\0\x7fG\xc7\xb7`p", 38));
  auto named = parse_config(
      "# \xd1\x9a, a comment\n[notify] # \xd1\x9a\n"
      "app_name = \"\"\"Soci\xc3\xa9t\xc3\xa9 \\\n  \xd1\x9a \\\\\xf0\x9f\x94\x91\"\"\"\n",
      "test.toml");
  ASSERT_TRUE(named.has_value()) << named.error();
  EXPECT_EQ(named->notify.app_name, "Soci\xc3\xa9t\xc3\xa9 \xd1\x9a \\\xf0\x9f\x94\x91");
}

TEST(Config, WrongTypesAndValuesNameTheKey) {
  EXPECT_EQ(error_of("[sessions]\ninclude_tty = \"yes\"\n"),
            "test.toml: sessions.include_tty must be a boolean");
  EXPECT_EQ(error_of("[sessions]\nmin_uid = -1\n"),
            "test.toml: sessions.min_uid = -1 is out of range 0..4294967294");
  EXPECT_EQ(error_of("[sessions]\nmin_uid = 1.5\n"),
            "test.toml: sessions.min_uid must be an integer");
  EXPECT_EQ(
      error_of("[agent]\nlaunch = \"setuid\"\n"),
      "test.toml: agent.launch = \"setuid\" is not one of \"exec\", \"asuser\", \"launch-agent\"");
  EXPECT_EQ(error_of("[notify]\nper_user_per_minute = 0\n"),
            "test.toml: notify.per_user_per_minute = 0 is out of range 1..100000");
  EXPECT_EQ(error_of("[notify]\napp_name = \"\"\n"),
            "test.toml: notify.app_name must not be empty");
}

TEST(Config, SyntaxErrorsSayWhere) {
  std::string error = error_of("[agent\n");
  EXPECT_EQ(error.rfind("test.toml:1:", 0), 0u) << error;
}

TEST(Config, AMissingDefaultFileIsFineButAMissingNamedFileIsNot) {
  EXPECT_TRUE(load_config("/nonexistent/liaison.toml", false).has_value());
  auto named = load_config("/nonexistent/liaison.toml", true);
  ASSERT_FALSE(named.has_value());
  EXPECT_NE(named.error().find("No such file"), std::string::npos) << named.error();
}

}  // namespace
}  // namespace liaison

namespace liaison {
namespace {

// The file `make install` ships must parse, and must say exactly what the defaults are.
TEST(Config, TheShippedFileStatesTheDefaults) {
  auto shipped = load_config(LIAISON_SOURCE_DIR "/packaging/liaison.toml", true);
  ASSERT_TRUE(shipped.has_value()) << shipped.error();
  const Config defaults;
  EXPECT_EQ(shipped->agent.launch, defaults.agent.launch);
  EXPECT_EQ(shipped->sessions.include_remote, defaults.sessions.include_remote);
  EXPECT_EQ(shipped->sessions.include_tty, defaults.sessions.include_tty);
  EXPECT_EQ(shipped->sessions.min_uid, defaults.sessions.min_uid);
  EXPECT_EQ(shipped->keys.backend, defaults.keys.backend);
  EXPECT_EQ(shipped->keys.tpm_tcti, defaults.keys.tpm_tcti);
  EXPECT_EQ(shipped->keys.tpm_context, defaults.keys.tpm_context);
  EXPECT_EQ(shipped->keys.keychain_access_group, defaults.keys.keychain_access_group);
  EXPECT_EQ(shipped->notify.app_name, defaults.notify.app_name);
  EXPECT_EQ(shipped->notify.per_user_per_minute, defaults.notify.per_user_per_minute);
  EXPECT_EQ(shipped->log.level, defaults.log.level);
}

}  // namespace
}  // namespace liaison
