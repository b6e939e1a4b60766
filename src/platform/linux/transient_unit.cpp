#include "platform/linux/transient_unit.h"

#include <fmt/format.h>

#include <system_error>

namespace liaison::platform {
namespace {

// A NULL-terminated array of pointers into `strings`, as sd_bus_message_append_strv takes it.
std::vector<char*> as_strv(const std::vector<std::string>& strings) {
  std::vector<char*> strv;
  strv.reserve(strings.size() + 1);
  for (const std::string& entry : strings) {
    strv.push_back(const_cast<char*>(entry.c_str()));  // sd-bus only reads them
  }
  strv.push_back(nullptr);
  return strv;
}

// ExecStart, a(sasb): one command (path, argv, ignore-failure).
int append_exec_start(sd_bus_message* m, const std::vector<std::string>& command) {
  std::vector<char*> argv = as_strv(command);
  int r = sd_bus_message_open_container(m, 'r', "sv");
  if (r >= 0) {
    r = sd_bus_message_append(m, "s", "ExecStart");
  }
  if (r >= 0) {
    r = sd_bus_message_open_container(m, 'v', "a(sasb)");
  }
  if (r >= 0) {
    r = sd_bus_message_open_container(m, 'a', "(sasb)");
  }
  if (r >= 0) {
    r = sd_bus_message_open_container(m, 'r', "sasb");
  }
  if (r >= 0) {
    r = sd_bus_message_append(m, "s", command.front().c_str());
  }
  if (r >= 0) {
    r = sd_bus_message_append_strv(m, argv.data());
  }
  if (r >= 0) {
    r = sd_bus_message_append(m, "b", 0);
  }
  for (int i = 0; i < 4 && r >= 0; ++i) {
    r = sd_bus_message_close_container(m);
  }
  return r;
}

int append_environment(sd_bus_message* m, const std::vector<std::string>& environment) {
  std::vector<char*> entries = as_strv(environment);
  int r = sd_bus_message_open_container(m, 'r', "sv");
  if (r >= 0) {
    r = sd_bus_message_append(m, "s", "Environment");
  }
  if (r >= 0) {
    r = sd_bus_message_open_container(m, 'v', "as");
  }
  if (r >= 0) {
    r = sd_bus_message_append_strv(m, entries.data());
  }
  for (int i = 0; i < 2 && r >= 0; ++i) {
    r = sd_bus_message_close_container(m);
  }
  return r;
}

}  // namespace

std::expected<void, std::string> append_transient_service(sd_bus_message* m,
                                                          const TransientService& service) {
  if (service.command.empty() || !service.command.front().starts_with('/')) {
    return std::unexpected("a transient service needs an absolute command");
  }
  int r = sd_bus_message_append(m, "ss", service.name.c_str(), "replace");
  if (r >= 0) {
    r = sd_bus_message_open_container(m, 'a', "(sv)");
  }
  if (r >= 0) {
    r = sd_bus_message_append(m, "(sv)", "Description", "s", service.description.c_str());
  }
  // exec: the start job fails when the command cannot be executed, not only when it cannot fork.
  if (r >= 0) {
    r = sd_bus_message_append(m, "(sv)", "Type", "s", "exec");
  }
  // Gone from the manager once it ends, however it ends: the next start begins afresh.
  if (r >= 0) {
    r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
  }
  if (r >= 0) {
    r = sd_bus_message_append(m, "(sv)", "TimeoutStopUSec", "t",
                              static_cast<uint64_t>(service.stop_timeout.count()));
  }
  if (r >= 0) {
    r = append_exec_start(m, service.command);
  }
  if (r >= 0 && !service.environment.empty()) {
    r = append_environment(m, service.environment);
  }
  if (r >= 0) {
    r = sd_bus_message_close_container(m);
  }
  if (r >= 0) {
    r = sd_bus_message_append(m, "a(sa(sv))", 0);
  }
  if (r < 0) {
    return std::unexpected(
        fmt::format("StartTransientUnit: {}", std::generic_category().message(-r)));
  }
  return {};
}

}  // namespace liaison::platform
