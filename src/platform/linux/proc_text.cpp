#include "platform/linux/proc_text.h"

#include <algorithm>
#include <charconv>
#include <system_error>

namespace liaison::platform {

std::optional<uint64_t> start_time_from_stat(std::string_view stat) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = stat.substr(close + 1);
  // After ')' come field 3 (state) onwards; starttime is field 22, the 20th of those.
  for (int field = 3; field <= 22; ++field) {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      return std::nullopt;
    }
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find(' '), rest.size());
    if (field == 22) {
      uint64_t value = 0;
      auto [parsed, error] = std::from_chars(rest.data(), rest.data() + end, value);
      if (error != std::errc() || parsed != rest.data() + end) {
        return std::nullopt;
      }
      return value;
    }
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

namespace {

// Skips blanks, then reads one decimal uid off the front of `text`.
std::optional<uid_t> take_uid(std::string_view& text) {
  const size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    return std::nullopt;
  }
  text.remove_prefix(start);
  uid_t uid = 0;
  auto [parsed, error] = std::from_chars(text.data(), text.data() + text.size(), uid);
  if (error != std::errc()) {
    return std::nullopt;
  }
  text.remove_prefix(static_cast<size_t>(parsed - text.data()));
  return uid;
}

// What follows "Uid:" in /proc/<pid>/status (real, effective, saved, fs uid); empty if absent.
std::string_view uid_fields(std::string_view status) {
  const size_t line = status.find("\nUid:");
  return line == std::string_view::npos ? std::string_view() : status.substr(line + 5);
}

}  // namespace

std::optional<uid_t> real_uid_from_status(std::string_view status) {
  std::string_view rest = uid_fields(status);
  return take_uid(rest);
}

bool runs_as(std::string_view status, uid_t uid) {
  std::string_view rest = uid_fields(status);
  std::optional<uid_t> real = take_uid(rest);
  std::optional<uid_t> effective = take_uid(rest);
  return real == uid && effective == uid;
}

std::vector<std::string> split_environ(std::string_view data, bool truncated) {
  std::vector<std::string> entries;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\0', start);
    if (end == std::string_view::npos) {
      if (truncated) {
        break;  // cut off by our size cap
      }
      end = data.size();
    }
    if (end > start) {
      entries.emplace_back(data.substr(start, end - start));
    }
    start = end + 1;
  }
  return entries;
}

std::vector<pid_t> parse_pids(std::string_view text) {
  std::vector<pid_t> pids;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    pid_t pid = 0;
    auto [parsed, error] = std::from_chars(line.data(), line.data() + line.size(), pid);
    // from_chars refuses what does not fit a pid_t (strtol's LONG_MAX would wrap to -1).
    if (error == std::errc() && parsed == line.data() + line.size() && pid > 0) {
      pids.push_back(pid);
    }
  }
  return pids;
}

}  // namespace liaison::platform
