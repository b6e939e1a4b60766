#include "common/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cerrno>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <system_error>

#include "common/toml_ascii.h"

namespace liaison {
namespace {

using Status = std::expected<void, std::string>;

// Reads one table, refusing keys it does not know. Each read_* names the key on a type mismatch.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string_view name) : table_(table), name_(name) {}

  Status refuse_unknown(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : table_) {
      bool is_known = false;
      for (std::string_view candidate : known) {
        is_known = is_known || key.str() == candidate;
      }
      if (!is_known) {
        return std::unexpected(fmt::format("unknown key {}.{}", name_, key.str()));
      }
    }
    return {};
  }

  Status read(std::string_view key, bool& out) const {
    return read_as<bool>(key, "a boolean", out);
  }
  Status read(std::string_view key, std::string& out) const {
    return read_as<std::string>(key, "a string", out);
  }

  Status read_string(std::string_view key, std::initializer_list<std::string_view> allowed,
                     std::string& out) const {
    if (auto status = read(key, out); !status) {
      return status;
    }
    for (std::string_view value : allowed) {
      if (out == value) {
        return {};
      }
    }
    std::string choices;
    for (std::string_view value : allowed) {
      choices += fmt::format("{}\"{}\"", choices.empty() ? "" : ", ", value);
    }
    return std::unexpected(
        fmt::format("{}.{} = \"{}\" is not one of {}", name_, key, out, choices));
  }

  template <typename Unsigned>
  Status read_unsigned(std::string_view key, int64_t min, int64_t max, Unsigned& out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      return {};
    }
    auto value = node->value<int64_t>();
    if (!node->is_integer() || !value) {
      return std::unexpected(fmt::format("{}.{} must be an integer", name_, key));
    }
    if (*value < min || *value > max) {
      return std::unexpected(
          fmt::format("{}.{} = {} is out of range {}..{}", name_, key, *value, min, max));
    }
    out = static_cast<Unsigned>(*value);
    return {};
  }

 private:
  template <typename T>
  Status read_as(std::string_view key, std::string_view type_name, T& out) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      return {};
    }
    auto value = node->value_exact<T>();
    if (!value) {
      return std::unexpected(fmt::format("{}.{} must be {}", name_, key, type_name));
    }
    out = *value;
    return {};
  }

  const toml::table& table_;
  std::string_view name_;
};

Status read_agent(const TableReader& table, Config::Agent& agent) {
  if (auto s = table.refuse_unknown({"launch"}); !s) {
    return s;
  }
  return table.read_string("launch", {"exec", "asuser", "launch-agent"}, agent.launch);
}

Status read_sessions(const TableReader& table, Config::Sessions& sessions) {
  if (auto s = table.refuse_unknown({"include_remote", "include_tty", "min_uid"}); !s) {
    return s;
  }
  if (auto s = table.read("include_remote", sessions.include_remote); !s) {
    return s;
  }
  if (auto s = table.read("include_tty", sessions.include_tty); !s) {
    return s;
  }
  return table.read_unsigned("min_uid", 0, 0xFFFFFFFE, sessions.min_uid);
}

Status read_keys(const TableReader& table, Config::Keys& keys) {
  if (auto s =
          table.refuse_unknown({"backend", "tpm_tcti", "tpm_context", "keychain_access_group"});
      !s) {
    return s;
  }
  if (auto s =
          table.read_string("backend", {"auto", "tpm", "secure-enclave", "software"}, keys.backend);
      !s) {
    return s;
  }
  if (auto s = table.read("tpm_tcti", keys.tpm_tcti); !s) {
    return s;
  }
  if (auto s = table.read("keychain_access_group", keys.keychain_access_group); !s) {
    return s;
  }
  return table.read_string("tpm_context", {"daemon", "user-session"}, keys.tpm_context);
}

Status read_notify(const TableReader& table, Config::Notify& notify) {
  if (auto s = table.refuse_unknown({"app_name", "per_user_per_minute"}); !s) {
    return s;
  }
  if (auto s = table.read("app_name", notify.app_name); !s) {
    return s;
  }
  if (notify.app_name.empty()) {
    return std::unexpected("notify.app_name must not be empty");
  }
  return table.read_unsigned("per_user_per_minute", 1, 100000, notify.per_user_per_minute);
}

Status read_log(const TableReader& table, Config::Log& log) {
  if (auto s = table.refuse_unknown({"level"}); !s) {
    return s;
  }
  return table.read_string("level", {"debug", "info", "warning", "error"}, log.level);
}

Status read_sections(const toml::table& root, Config& config) {
  for (const auto& [key, value] : root) {
    const toml::table* section = value.as_table();
    const std::string_view name = key.str();
    if (section == nullptr) {
      return std::unexpected(fmt::format("{} must be a table ([{}])", name, name));
    }
    TableReader reader(*section, name);
    Status status;
    if (name == "agent") {
      status = read_agent(reader, config.agent);
    } else if (name == "sessions") {
      status = read_sessions(reader, config.sessions);
    } else if (name == "keys") {
      status = read_keys(reader, config.keys);
    } else if (name == "notify") {
      status = read_notify(reader, config.notify);
    } else if (name == "log") {
      status = read_log(reader, config.log);
    } else {
      status = std::unexpected(fmt::format("unknown section [{}]", name));
    }
    if (!status) {
      return status;
    }
  }
  return {};
}

}  // namespace

std::expected<Config, std::string> parse_config(std::string_view text, std::string_view source) {
  // toml++ is given ASCII only (toml_ascii.h says why); columns in its errors count the escapes.
  auto ascii = ascii_toml(text);
  if (!ascii) {
    return std::unexpected(fmt::format("{}:{}:{}: {}", source, ascii.error().line,
                                       ascii.error().column, ascii.error().message));
  }
  toml::table root;
  try {
    root = toml::parse(*ascii, source);
  } catch (const toml::parse_error& e) {
    return std::unexpected(fmt::format("{}:{}:{}: {}", source, e.source().begin.line,
                                       e.source().begin.column, e.description()));
  }
  Config config;
  if (auto status = read_sections(root, config); !status) {
    return std::unexpected(fmt::format("{}: {}", source, status.error()));
  }
  return config;
}

std::expected<Config, std::string> load_config(const std::string& path, bool path_was_given) {
  std::ifstream file(path);
  if (!file) {
    const int error = errno;
    if (error == ENOENT && !path_was_given) {
      return Config{};
    }
    return std::unexpected(
        fmt::format("cannot read {}: {}", path, std::generic_category().message(error)));
  }
  std::stringstream text;
  text << file.rdbuf();
  return parse_config(text.str(), path);
}

}  // namespace liaison
