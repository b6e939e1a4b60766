#include "common/log.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <crt_externs.h>
#include <os/log.h>
#else
#include <systemd/sd-journal.h>
#endif

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace liaison::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

#if !defined(__APPLE__)
// The journal's PRIORITY; macOS's unified log has its own types (write_os_log).
int syslog_priority(Level level) {
  switch (level) {
    case Level::kDebug:
      return LOG_DEBUG;
    case Level::kInfo:
      return LOG_INFO;
    case Level::kWarning:
      return LOG_WARNING;
    case Level::kError:
      return LOG_ERR;
  }
  return LOG_INFO;
}
#endif

std::string_view name_of(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

#if !defined(__APPLE__)
// systemd sets JOURNAL_STREAM when stderr is a journal stream; matching its device and inode
// tells us our stderr is still that stream and not redirected since.
bool stderr_is_journal() {
  static const bool is_journal = [] {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) {
      return false;
    }
    unsigned long long device = 0;
    unsigned long long inode = 0;
    if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) {
      return false;
    }
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0) {
      return false;
    }
    return st.st_dev == device && st.st_ino == inode;
  }();
  return is_journal;
}

void write_journal(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::vector<std::string> entries;
  entries.reserve(fields.size() + 2);
  entries.push_back(fmt::format("MESSAGE={}", message));
  entries.push_back(fmt::format("PRIORITY={}", syslog_priority(level)));
  for (const Field& field : fields) {
    entries.push_back(fmt::format("{}={}", field.key, field.value));
  }
  std::vector<iovec> iov;
  iov.reserve(entries.size());
  for (std::string& entry : entries) {
    iov.push_back({entry.data(), entry.size()});
  }
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}
#endif

#if defined(__APPLE__)
// macOS: the unified log, subsystem dev.liaison, one category per process: "daemon", "agent",
// or "cli" for the commands, taken from the subcommand (argv[1]) so log.h needs no set-up call.
// `log stream --predicate 'subsystem == "dev.liaison" AND category == "agent"'`.
os_log_t os_log_handle() {
  static const os_log_t handle = [] {
    const char* category = "cli";
    if (*_NSGetArgc() > 1) {
      const std::string_view command = (*_NSGetArgv())[1];
      if (command == "daemon") category = "daemon";
      if (command == "agent") category = "agent";
    }
    return os_log_create("dev.liaison", category);
  }();
  return handle;
}

// info goes in at the default level, which the unified log keeps on disk (its info level is
// kept in memory only), as the journal keeps info. Fields become "key=value" text, public, so
// `log show` prints them instead of <private>: callers never pass tokens or key material (log.h).
void write_os_log(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string text(message);
  for (const Field& field : fields) text += fmt::format(" {}={}", field.key, field.value);
  os_log_type_t type = OS_LOG_TYPE_DEFAULT;
  if (level == Level::kDebug) type = OS_LOG_TYPE_DEBUG;
  if (level == Level::kWarning) text.insert(0, "warning: ");
  if (level == Level::kError) type = OS_LOG_TYPE_ERROR;
  os_log_with_type(os_log_handle(), type, "%{public}s", text.c_str());
}
#endif

void write_stderr(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string line = fmt::format("liaison[{}]: {}: {}", getpid(), name_of(level), message);
  for (const Field& field : fields) {
    line += fmt::format(" {}={}", field.key, field.value);
  }
  line += '\n';
  // One write(2) so lines from several processes sharing stderr do not interleave.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void set_level(Level level) { g_level = level; }

Level current_level() { return g_level; }

std::string_view level_name(Level level) { return name_of(level); }

bool parse_level(std::string_view name, Level& level) {
  for (Level candidate : {Level::kDebug, Level::kInfo, Level::kWarning, Level::kError}) {
    if (name == name_of(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_level.load()) {
    return;
  }
#if defined(__APPLE__)
  write_os_log(level, message, fields);
  // Also on a terminal (run by hand); launchd points a job's stderr at /dev/null.
  if (isatty(STDERR_FILENO)) write_stderr(level, message, fields);
#else
  if (stderr_is_journal()) {
    write_journal(level, message, fields);
  } else {
    write_stderr(level, message, fields);
  }
#endif
}

std::string untrusted(std::string_view text, std::size_t max_bytes) {
  const std::string_view kept = text.substr(0, max_bytes);
  std::string safe;
  safe.reserve(kept.size());
  for (const char c : kept) {
    const auto byte = static_cast<unsigned char>(c);
    // A quote too: the text is quoted in the message, and must not end the quote itself.
    if (byte < 0x20 || byte >= 0x7f || c == '\\' || c == '"') {
      safe += fmt::format("\\x{:02x}", byte);
    } else {
      safe += c;
    }
  }
  if (kept.size() < text.size()) {
    safe += fmt::format("... ({} bytes)", text.size());
  }
  return safe;
}

}  // namespace liaison::log
