#include "platform/linux/polkit_agent_registry.h"

#include <fmt/format.h>
#include <systemd/sd-journal.h>

#include <cstring>
#include <memory>

#include "platform/linux/sd_bus_ptr.h"
#include "protocol/json_rpc.h"

namespace liaison::platform {
namespace {

using protocol::Finding;

constexpr const char* kCheck = "authentication-agent";
// polkitd logs little besides agents coming and going; this bounds a journal walk anyway.
constexpr int kMaxEntriesRead = 100'000;
constexpr std::size_t kMaxProgramBytes = 120;

struct JournalClose {
  void operator()(sd_journal* journal) const { sd_journal_close(journal); }
};
using JournalPtr = std::unique_ptr<sd_journal, JournalClose>;

// The pid of the polkitd that owns org.freedesktop.PolicyKit1 now; an error when none does.
std::expected<uint32_t, std::string> polkitd_pid() {
  sd_bus* raw = nullptr;
  if (int r = sd_bus_open_system(&raw); r < 0) {
    return std::unexpected(fmt::format("no system bus: {}", std::strerror(-r)));
  }
  SdBusPtr bus(raw);
  sd_bus_set_method_call_timeout(bus.get(), 2'000'000);
  SdBusError error;
  sd_bus_message* reply = nullptr;
  const int r = sd_bus_call_method(bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                   error.get(), &reply, "s", "org.freedesktop.PolicyKit1");
  SdBusMessagePtr owned(reply);
  uint32_t pid = 0;
  if (r < 0 || sd_bus_message_read(owned.get(), "u", &pid) < 0) {
    return std::unexpected(error.describe(r));
  }
  return pid;
}

// The newest registration line about each of `session_ids` from polkitd `pid` (nullopt: none).
using Registrations = std::map<std::string, std::optional<AgentRegistration>>;
std::expected<Registrations, std::string> newest_registrations(
    uint32_t pid, const std::vector<std::string>& session_ids) {
  Registrations found;
  for (const std::string& id : session_ids) {
    found.emplace(id, std::nullopt);
  }
  sd_journal* raw = nullptr;
  if (int r = sd_journal_open(&raw, SD_JOURNAL_SYSTEM | SD_JOURNAL_LOCAL_ONLY); r < 0) {
    return std::unexpected(fmt::format("cannot open the journal: {}", std::strerror(-r)));
  }
  JournalPtr journal(raw);
  // The walk goes from the newest line back to this polkitd's first one ("Started polkitd"), so
  // a process of an earlier boot with the same pid is never read. (No _BOOT_ID match: the
  // service's sandbox, ProcSubset=pid, hides /proc/sys/kernel/random/boot_id.)
  const std::string pid_match = fmt::format("_PID={}", pid);
  sd_journal_add_match(journal.get(), pid_match.c_str(), 0);
  sd_journal_add_match(journal.get(), "_COMM=polkitd", 0);
  sd_journal_seek_tail(journal.get());
  std::size_t undecided = found.size();
  for (int read = 0;
       undecided > 0 && read < kMaxEntriesRead && sd_journal_previous(journal.get()) > 0; ++read) {
    const void* data = nullptr;
    std::size_t length = 0;
    if (sd_journal_get_data(journal.get(), "MESSAGE", &data, &length) < 0) {
      continue;
    }
    std::string_view message(static_cast<const char*>(data), length);
    message.remove_prefix(std::strlen("MESSAGE="));
    if (message.starts_with("Started polkitd")) {
      break;
    }
    for (auto& [id, registration] : found) {
      if (registration) {
        continue;  // a newer line decided it
      }
      if (auto line = parse_agent_registration(message, id)) {
        registration = std::move(line);
        --undecided;
        break;
      }
    }
  }
  return found;
}

}  // namespace

std::optional<AgentRegistration> parse_agent_registration(std::string_view message,
                                                          std::string_view session_id) {
  constexpr std::string_view kRegistered = "Registered Authentication Agent for ";
  constexpr std::string_view kUnregistered = "Unregistered Authentication Agent for ";
  AgentRegistration registration;
  if (message.starts_with(kRegistered)) {
    registration.registered = true;
    message.remove_prefix(kRegistered.size());
  } else if (message.starts_with(kUnregistered)) {
    message.remove_prefix(kUnregistered.size());
  } else {
    return std::nullopt;
  }
  const std::string subject = fmt::format("unix-session:{} (system bus name ", session_id);
  if (!message.starts_with(subject)) {
    return std::nullopt;
  }
  message.remove_prefix(subject.size());
  const std::size_t name_end = message.find_first_of(" ,");
  registration.bus_name = std::string(message.substr(0, name_end));
  // "[program]" follows the name in a registration; the program is the user's text.
  if (name_end != std::string_view::npos && message.substr(name_end).starts_with(" [")) {
    const std::string_view rest = message.substr(name_end + 2);
    const std::size_t close = rest.rfind("], object path ");
    registration.program = protocol::bounded_for_error(
        rest.substr(0, close == std::string_view::npos ? 0 : close), kMaxProgramBytes);
  }
  return registration;
}

namespace {

Finding finding_of(const std::optional<AgentRegistration>& newest) {
  if (!newest.has_value() || !newest->registered) {
    return Finding::warn(
        kCheck,
        "no polkit authentication agent is registered for this session: liaison presence "
        "answers no_agent",
        "run the desktop's polkit agent in the session (GNOME Shell and KDE Plasma have one; "
        "lxpolkit, mate-polkit or polkit-gnome elsewhere)",
        {{"registered", false}});
  }
  return Finding::ok(
      kCheck,
      fmt::format("polkit authentication agent {} ({})",
                  newest->program.empty() ? "?" : newest->program, newest->bus_name),
      {{"registered", true}, {"bus_name", newest->bus_name}, {"program", newest->program}});
}

}  // namespace

std::map<std::string, Finding> authentication_agent_findings(
    const std::vector<std::string>& session_ids) {
  std::map<std::string, Finding> findings;
  auto said_of_all = [&](const Finding& finding) {
    for (const std::string& id : session_ids) {
      findings.emplace(id, finding);
    }
    return findings;
  };
  auto pid = polkitd_pid();
  if (!pid) {
    return said_of_all(
        Finding::info(kCheck, fmt::format("polkitd is not running ({}), so no authentication agent "
                                          "is registered: liaison presence answers no_agent, or "
                                          "unavailable where polkitd is not installed",
                                          pid.error())));
  }
  auto registrations = newest_registrations(*pid, session_ids);
  if (!registrations) {
    return said_of_all(
        Finding::info(kCheck, fmt::format("cannot tell: {}", registrations.error())));
  }
  for (const auto& [id, newest] : *registrations) {
    findings.emplace(id, finding_of(newest));
  }
  return findings;
}

}  // namespace liaison::platform
