#include "common/log.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace liaison::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

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

std::string_view level_name(Level level) {
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

// systemd sets JOURNAL_STREAM when stderr is a journal stream; matching its device and inode
// tells us our stderr is still that stream and not redirected since.
bool stderr_is_journal() {
  static const bool is_journal = [] {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    unsigned long long device = 0;
    unsigned long long inode = 0;
    if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0) return false;
    return st.st_dev == device && st.st_ino == inode;
  }();
  return is_journal;
}

void write_journal(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::vector<std::string> entries;
  entries.reserve(fields.size() + 2);
  entries.push_back(fmt::format("MESSAGE={}", message));
  entries.push_back(fmt::format("PRIORITY={}", syslog_priority(level)));
  for (const Field& field : fields) entries.push_back(fmt::format("{}={}", field.key, field.value));
  std::vector<iovec> iov;
  iov.reserve(entries.size());
  for (std::string& entry : entries) iov.push_back({entry.data(), entry.size()});
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

void write_stderr(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string line = fmt::format("liaison[{}]: {}: {}", getpid(), level_name(level), message);
  for (const Field& field : fields) line += fmt::format(" {}={}", field.key, field.value);
  line += '\n';
  // One write(2) so lines from several processes sharing stderr do not interleave.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void set_level(Level level) { g_level = level; }

bool parse_level(std::string_view name, Level& level) {
  for (Level candidate : {Level::kDebug, Level::kInfo, Level::kWarning, Level::kError}) {
    if (name == level_name(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  if (stderr_is_journal()) {
    write_journal(level, message, fields);
  } else {
    write_stderr(level, message, fields);
  }
}

}  // namespace liaison::log
