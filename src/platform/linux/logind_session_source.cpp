#include "platform/linux/logind_session_source.h"

#include <fmt/format.h>
#include <sys/inotify.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include "common/log.h"
#include "platform/linux/logind_records.h"
#include "platform/linux/passwd.h"

namespace liaison::platform {
namespace {

struct FreeDeleter {
  void operator()(void* pointer) const {
    std::free(pointer);  // NOLINT(cppcoreguidelines-no-malloc)
  }
};
using MallocedString = std::unique_ptr<char, FreeDeleter>;

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

// sd-login reports a session whose record file is gone as ENXIO (ENOENT in some paths).
bool session_vanished(int negative_errno) {
  return negative_errno == -ENXIO || negative_errno == -ENOENT;
}

// Owns the string array sd_get_sessions() returns.
class SessionIds {
 public:
  ~SessionIds() {
    if (ids_ == nullptr) {
      return;
    }
    for (char** id = ids_; *id != nullptr; ++id) {
      std::free(*id);  // NOLINT(cppcoreguidelines-no-malloc)
    }
    std::free(ids_);  // NOLINT(cppcoreguidelines-no-malloc)
  }
  char*** out() { return &ids_; }
  std::vector<std::string> to_vector() const {
    std::vector<std::string> ids;
    if (ids_ == nullptr) {
      return ids;
    }
    for (char** id = ids_; *id != nullptr; ++id) {
      ids.emplace_back(*id);
    }
    return ids;
  }

 private:
  char** ids_ = nullptr;
};

using StringGetter = int (*)(const char*, char**);

// A string field that may be absent (ENODATA): absent reads as "". Other errors are returned as a
// negative errno.
std::expected<std::string, int> read_optional_field(StringGetter getter, const std::string& id) {
  char* raw = nullptr;
  int result = getter(id.c_str(), &raw);
  MallocedString value(raw);
  if (result == -ENODATA) {
    return std::string();
  }
  if (result < 0) {
    return std::unexpected(result);
  }
  return std::string(value ? value.get() : "");
}

// sd_session_get_leader() only arrived in libsystemd 254; until then the leader pid is read from
// the same record file sd-login parses for every other field. 0 when absent.
pid_t read_session_leader(const std::string& id) {
  std::ifstream record(fmt::format("{}/{}", kLogindSessionRecords, id));
  std::string line;
  while (std::getline(record, line)) {
    if (!line.starts_with("LEADER=")) {
      continue;
    }
    char* end = nullptr;
    long leader = std::strtol(line.c_str() + 7, &end, 10);
    if (end != nullptr && *end == '\0' && leader > 0) {
      return static_cast<pid_t>(leader);
    }
    return 0;
  }
  return 0;
}

std::string user_name_of(uid_t uid) {
  auto entry = passwd_by_uid(uid);
  if (entry) {
    return entry->name;
  }
  log::warning(fmt::format("session user has no name: {}", entry.error()));
  return {};
}

}  // namespace

std::expected<std::unique_ptr<LogindSessionSource>, std::string> LogindSessionSource::create() {
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify) {
    return std::unexpected(fmt::format("inotify_init1: {}", errno_text(errno)));
  }
  // logind writes a record to a temporary (".#3abc") and renames it over the record: one
  // IN_MOVED_TO naming the session per change; a logout removes it (IN_DELETE). IN_CLOSE_WRITE
  // and IN_MOVED_FROM cover a writer that does it differently.
  constexpr uint32_t kEvents =
      IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ONLYDIR;
  if (::inotify_add_watch(inotify.get(), kLogindSessionRecords, kEvents) < 0) {
    const int error = errno;
    std::string hint = error == ENOENT ? fmt::format(" ({} is missing: is systemd-logind running?)",
                                                     kLogindSessionRecords)
                                       : "";
    return std::unexpected(
        fmt::format("cannot watch {}: {}{}", kLogindSessionRecords, errno_text(error), hint));
  }
  return std::make_unique<LogindSessionSource>(Passkey(), std::move(inotify));
}

void LogindSessionSource::acknowledge_change() {
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    const ssize_t got = ::read(inotify_.get(), buffer, sizeof(buffer));
    if (got <= 0) {
      break;
    }
    for (ssize_t offset = 0; offset < got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        read_everything_ = true;  // events were lost: which records changed is unknown
      } else if (event->len > 0 && is_logind_session_id(event->name)) {
        changed_.insert(event->name);  // temporaries (".#3abc") are not session ids
      }
    }
  }
}

std::expected<std::vector<daemon::Session>, std::string> LogindSessionSource::list_sessions() {
  if (read_everything_) {
    if (auto read = read_all(); !read) {
      return std::unexpected(read.error());
    }
  } else {
    for (const std::string& id : changed_) {
      read_one(id);
    }
  }
  changed_.clear();
  std::vector<daemon::Session> sessions;
  sessions.reserve(known_.size());
  for (const auto& [id, session] : known_) {
    sessions.push_back(session);
  }
  return sessions;
}

std::expected<void, std::string> LogindSessionSource::read_all() {
  SessionIds ids;
  int result = sd_get_sessions(ids.out());
  if (result < 0) {
    return std::unexpected(fmt::format("sd_get_sessions: {}", errno_text(-result)));
  }
  known_.clear();
  for (const std::string& id : ids.to_vector()) {
    read_one(id);
  }
  read_everything_ = false;
  return {};
}

// Brings known_ up to date with one record: gone, unreadable (skipped with a warning, so one bad
// record never hides the others) or read.
void LogindSessionSource::read_one(const std::string& id) {
  ++records_read_;
  auto session = read_logind_session(id);
  if (!session) {
    log::warning(fmt::format("skipping logind session {}: {}", id, session.error()),
                 {{"LIAISON_SESSION", id}});
    known_.erase(id);
    return;
  }
  if (std::optional<daemon::Session>& found = *session; found.has_value()) {
    known_.insert_or_assign(id, std::move(*found));
  } else {
    known_.erase(id);  // logged out
  }
}

std::expected<std::optional<daemon::Session>, std::string> read_logind_session(
    const std::string& id) {
  if (!is_logind_session_id(id)) {
    return std::unexpected(fmt::format("invalid session id {:?}", id));
  }
  daemon::Session session;
  session.id = id;

  int result = sd_session_get_uid(id.c_str(), &session.uid);
  if (session_vanished(result)) {
    return std::nullopt;
  }
  if (result < 0) {
    return std::unexpected(fmt::format("uid: {}", errno_text(-result)));
  }

  struct Field {
    const char* name;
    StringGetter getter;
    std::string* value;
  };
  const Field fields[] = {
      {"state", sd_session_get_state, &session.state},
      {"type", sd_session_get_type, &session.type},
      {"class", sd_session_get_class, &session.session_class},
      {"seat", sd_session_get_seat, &session.seat},
      {"display", sd_session_get_display, &session.display},
  };
  for (const Field& field : fields) {
    auto value = read_optional_field(field.getter, id);
    if (!value && session_vanished(value.error())) {
      return std::nullopt;
    }
    if (!value) {
      return std::unexpected(fmt::format("{}: {}", field.name, errno_text(-value.error())));
    }
    *field.value = std::move(*value);
  }

  result = sd_session_is_remote(id.c_str());
  if (session_vanished(result)) {
    return std::nullopt;
  }
  if (result < 0 && result != -ENODATA) {
    return std::unexpected(fmt::format("remote: {}", errno_text(-result)));
  }
  session.remote = result > 0;

  session.leader = read_session_leader(id);
  session.user = user_name_of(session.uid);
  return session;
}

}  // namespace liaison::platform
