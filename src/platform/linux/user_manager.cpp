#include "platform/linux/user_manager.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace liaison::platform {
namespace {

constexpr char kService[] = "org.freedesktop.systemd1";
constexpr char kPath[] = "/org/freedesktop/systemd1";
constexpr char kManager[] = "org.freedesktop.systemd1.Manager";

std::string errno_text(int negative_or_positive) {
  return std::generic_category().message(negative_or_positive < 0 ? -negative_or_positive
                                                                  : negative_or_positive);
}

// D-Bus address values escape every byte outside [-0-9A-Za-z_/.*] as %XX.
std::string escape_address_value(std::string_view value) {
  std::string escaped;
  for (char c : value) {
    const bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == '-' || c == '_' || c == '/' || c == '.' || c == '*';
    escaped += plain ? std::string(1, c) : fmt::format("%{:02x}", static_cast<unsigned char>(c));
  }
  return escaped;
}

std::expected<uid_t, std::string> listener_uid(sd_bus* bus) {
  const int fd = sd_bus_get_fd(bus);
  if (fd < 0) {
    return std::unexpected(fmt::format("sd_bus_get_fd: {}", errno_text(fd)));
  }
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return std::unexpected(fmt::format("SO_PEERCRED: {}", errno_text(errno)));
  }
  return credentials.uid;
}

struct PendingReply {
  bool done = false;
  SdBusMessagePtr reply;
};

int on_reply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
  auto& pending = *static_cast<PendingReply*>(userdata);
  pending.done = true;
  pending.reply.reset(sd_bus_message_ref(reply));
  return 0;
}

}  // namespace

std::string agent_unit_of(std::string_view strategy) {
  if (strategy == "asuser") {
    return kAsUserAgentUnit;
  }
  if (strategy == "launch-agent") {
    return kLaunchAgentUnit;
  }
  return {};
}

std::string machine_of(uid_t uid) { return fmt::format("{}@.host", uid); }

std::string UserManager::socket_path_of(uid_t uid) {
  return fmt::format("/run/user/{}/systemd/private", uid);
}

std::expected<UserManager, std::string> UserManager::connect(uid_t uid,
                                                             std::chrono::milliseconds timeout) {
  return connect_at(socket_path_of(uid), uid, timeout);
}

std::expected<UserManager, std::string> UserManager::connect_at(const std::string& socket_path,
                                                                uid_t expected_uid,
                                                                std::chrono::milliseconds timeout) {
  auto fail = [&](const std::string& what) {
    return std::unexpected(
        fmt::format("the service manager of uid {} ({}): {}", expected_uid, socket_path, what));
  };
  sd_bus* raw = nullptr;
  int result = sd_bus_new(&raw);
  if (result < 0) {
    return fail(fmt::format("sd_bus_new: {}", errno_text(result)));
  }
  SdBusPtr bus(raw);
  const std::string address = "unix:path=" + escape_address_value(socket_path);
  result = sd_bus_set_address(bus.get(), address.c_str());
  if (result >= 0) {
    result = sd_bus_start(bus.get());
  }
  if (result == -ENOENT || result == -ECONNREFUSED) {
    return fail("not running");
  }
  if (result < 0) {
    return fail(fmt::format("connect: {}", errno_text(result)));
  }
  // Only the user's own manager may run the user's agent: a socket planted at this path by
  // someone else (it lives in the user's runtime dir) is refused.
  auto uid = listener_uid(bus.get());
  if (!uid) {
    return fail(uid.error());
  }
  if (*uid != expected_uid) {
    return fail(fmt::format("it listens as uid {}", *uid));
  }
  UserManager manager(std::move(bus), timeout);
  // JobRemoved goes to every direct connection unasked; record them from the start, so a job
  // that finishes before its StartUnit reply is read is not missed.
  sd_bus_slot* slot = nullptr;
  result = sd_bus_match_signal(
      manager.bus_.get(), &slot, nullptr, kPath, kManager, "JobRemoved",
      [](sd_bus_message* message, void* userdata, sd_bus_error*) {
        auto& finished = *static_cast<std::vector<std::pair<std::string, std::string>>*>(userdata);
        uint32_t id = 0;
        const char* job = nullptr;
        const char* unit = nullptr;
        const char* outcome = nullptr;
        if (sd_bus_message_read(message, "uoss", &id, &job, &unit, &outcome) >= 0) {
          finished.emplace_back(job, outcome);
        }
        return 0;
      },
      manager.finished_jobs_.get());
  if (result < 0) {
    return fail(fmt::format("match JobRemoved: {}", errno_text(result)));
  }
  manager.job_removed_.reset(slot);
  return manager;
}

std::expected<SdBusMessagePtr, std::string> UserManager::new_method(const char* member) {
  sd_bus_message* raw = nullptr;
  int result = sd_bus_message_new_method_call(bus_.get(), &raw, kService, kPath, kManager, member);
  if (result < 0) {
    return std::unexpected(fmt::format("{}: {}", member, errno_text(result)));
  }
  return SdBusMessagePtr(raw);
}

std::expected<SdBusMessagePtr, std::string> UserManager::call(SdBusMessagePtr message) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  const std::string member = sd_bus_message_get_member(message.get());
  PendingReply pending;
  sd_bus_slot* raw_slot = nullptr;
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout_).count();
  int result = sd_bus_call_async(bus_.get(), &raw_slot, message.get(), on_reply, &pending,
                                 static_cast<uint64_t>(usec));
  if (result < 0) {
    return std::unexpected(fmt::format("{}: {}", member, errno_text(result)));
  }
  SdBusSlotPtr slot(raw_slot);
  // sd_bus_call() would block up to 90 s while authenticating; this loop keeps our deadline.
  if (auto waited = process_until([&] { return pending.done; }, deadline); !waited) {
    return std::unexpected(fmt::format("{}: {}", member, waited.error()));
  }
  if (const sd_bus_error* error = sd_bus_message_get_error(pending.reply.get())) {
    last_error_name_ = error->name != nullptr ? error->name : "";
    return std::unexpected(fmt::format("{}: {}{}{}", member, last_error_name_,
                                       error->message != nullptr ? ": " : "",
                                       error->message != nullptr ? error->message : ""));
  }
  last_error_name_.clear();
  return std::move(pending.reply);
}

std::expected<void, std::string> UserManager::process_until(
    const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline) {
  while (!done()) {
    int result = sd_bus_process(bus_.get(), nullptr);
    if (result < 0) {
      return std::unexpected(fmt::format("connection lost: {}", errno_text(result)));
    }
    if (result > 0) {
      continue;
    }
    const auto remaining = deadline - std::chrono::steady_clock::now();
    if (remaining <= std::chrono::steady_clock::duration::zero()) {
      return std::unexpected(fmt::format("no answer within {} ms", timeout_.count()));
    }
    const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(remaining).count();
    result = sd_bus_wait(bus_.get(), static_cast<uint64_t>(usec));
    if (result < 0 && result != -EINTR) {
      return std::unexpected(fmt::format("sd_bus_wait: {}", errno_text(result)));
    }
  }
  return {};
}

std::expected<void, std::string> UserManager::wait_for_job(const std::string& job_path) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto finished = [&] {
    return std::find_if(finished_jobs_->begin(), finished_jobs_->end(),
                        [&](const auto& job) { return job.first == job_path; });
  };
  if (auto waited = process_until([&] { return finished() != finished_jobs_->end(); }, deadline);
      !waited) {
    return std::unexpected(fmt::format("job {}: {}", job_path, waited.error()));
  }
  const std::string result = finished()->second;
  finished_jobs_->erase(finished());
  if (result != "done") {
    return std::unexpected(fmt::format("the job ended \"{}\"", result));
  }
  return {};
}

std::expected<void, std::string> UserManager::run_job(SdBusMessagePtr message,
                                                      const std::string& what) {
  auto reply = call(std::move(message));
  if (!reply) {
    return std::unexpected(reply.error());
  }
  const char* job = nullptr;
  int result = sd_bus_message_read(reply->get(), "o", &job);
  if (result < 0) {
    return std::unexpected(fmt::format("{}: malformed reply", what));
  }
  if (auto done = wait_for_job(job); !done) {
    return std::unexpected(fmt::format("{}: {}", what, done.error()));
  }
  return {};
}

std::expected<std::string, std::string> UserManager::unit_path(const std::string& unit) {
  auto message = new_method("LoadUnit");
  if (!message) {
    return std::unexpected(message.error());
  }
  if (int r = sd_bus_message_append(message->get(), "s", unit.c_str()); r < 0) {
    return std::unexpected(fmt::format("LoadUnit: {}", errno_text(r)));
  }
  auto reply = call(std::move(*message));
  if (!reply) {
    return std::unexpected(reply.error());
  }
  const char* path = nullptr;
  if (sd_bus_message_read(reply->get(), "o", &path) < 0) {
    return std::unexpected("LoadUnit: malformed reply");
  }
  return std::string(path);
}

std::expected<UnitStatus, std::string> UserManager::unit_status(const std::string& unit) {
  auto path = unit_path(unit);
  if (!path) {
    return std::unexpected(path.error());
  }
  UnitStatus status;
  auto read_property = [&](const char* interface, const char* name, char type,
                           void* out) -> std::expected<void, std::string> {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(bus_.get(), &raw, kService, path->c_str(),
                                           "org.freedesktop.DBus.Properties", "Get");
    SdBusMessagePtr message(raw);
    if (r >= 0) {
      r = sd_bus_message_append(message.get(), "ss", interface, name);
    }
    if (r < 0) {
      return std::unexpected(fmt::format("Get {}: {}", name, errno_text(r)));
    }
    auto reply = call(std::move(message));
    if (!reply) {
      return std::unexpected(reply.error());
    }
    const char contents[2] = {type, '\0'};
    r = sd_bus_message_enter_container(reply->get(), 'v', contents);
    if (r >= 0) {
      if (type == 's') {
        const char* text = nullptr;
        r = sd_bus_message_read_basic(reply->get(), 's', &text);
        if (r >= 0) {
          *static_cast<std::string*>(out) = text;
        }
      } else {
        r = sd_bus_message_read_basic(reply->get(), type, out);
      }
    }
    if (r < 0) {
      return std::unexpected(fmt::format("Get {}: malformed reply", name));
    }
    return {};
  };
  constexpr char kUnit[] = "org.freedesktop.systemd1.Unit";
  for (auto [name, field] :
       {std::pair{"LoadState", &status.load_state}, std::pair{"ActiveState", &status.active_state},
        std::pair{"SubState", &status.sub_state}}) {
    if (auto read = read_property(kUnit, name, 's', field); !read) {
      return std::unexpected(read.error());
    }
  }
  if (status.load_state == "loaded" && unit.ends_with(".service")) {
    uint32_t main_pid = 0;
    if (auto read = read_property("org.freedesktop.systemd1.Service", "MainPID", 'u', &main_pid);
        !read) {
      return std::unexpected(read.error());
    }
    status.main_pid = static_cast<pid_t>(main_pid);
  }
  return status;
}

std::expected<void, std::string> UserManager::start_unit(const std::string& unit) {
  auto message = new_method("StartUnit");
  if (!message) {
    return std::unexpected(message.error());
  }
  if (int r = sd_bus_message_append(message->get(), "ss", unit.c_str(), "replace"); r < 0) {
    return std::unexpected(fmt::format("StartUnit: {}", errno_text(r)));
  }
  return run_job(std::move(*message), fmt::format("start {}", unit));
}

std::expected<void, std::string> UserManager::restart_unit(const std::string& unit) {
  auto message = new_method("RestartUnit");
  if (!message) {
    return std::unexpected(message.error());
  }
  if (int r = sd_bus_message_append(message->get(), "ss", unit.c_str(), "replace"); r < 0) {
    return std::unexpected(fmt::format("RestartUnit: {}", errno_text(r)));
  }
  return run_job(std::move(*message), fmt::format("restart {}", unit));
}

std::expected<void, std::string> UserManager::start_transient_service(
    const TransientService& service) {
  auto message = new_method("StartTransientUnit");
  if (!message) {
    return std::unexpected(message.error());
  }
  if (auto appended = append_transient_service(message->get(), service); !appended) {
    return appended;
  }
  return run_job(std::move(*message), fmt::format("start {}", service.name));
}

std::expected<void, std::string> UserManager::stop_unit(const std::string& unit) {
  auto message = new_method("StopUnit");
  if (!message) {
    return std::unexpected(message.error());
  }
  if (int r = sd_bus_message_append(message->get(), "ss", unit.c_str(), "replace"); r < 0) {
    return std::unexpected(fmt::format("StopUnit: {}", errno_text(r)));
  }
  auto reply = call(std::move(*message));
  if (!reply && last_error_name_ != "org.freedesktop.systemd1.NoSuchUnit") {
    return std::unexpected(reply.error());
  }
  return {};
}

std::expected<void, std::string> UserManager::kill_unit(const std::string& unit, int signal) {
  auto message = new_method("KillUnit");
  if (!message) {
    return std::unexpected(message.error());
  }
  if (int r = sd_bus_message_append(message->get(), "ssi", unit.c_str(), "all", signal); r < 0) {
    return std::unexpected(fmt::format("KillUnit: {}", errno_text(r)));
  }
  auto reply = call(std::move(*message));
  if (!reply && last_error_name_ != "org.freedesktop.systemd1.NoSuchUnit") {
    return std::unexpected(reply.error());
  }
  return {};
}

std::expected<void, std::string> UserManager::reset_failed_unit(const std::string& unit) {
  auto message = new_method("ResetFailedUnit");
  if (!message) {
    return std::unexpected(message.error());
  }
  if (int r = sd_bus_message_append(message->get(), "s", unit.c_str()); r < 0) {
    return std::unexpected(fmt::format("ResetFailedUnit: {}", errno_text(r)));
  }
  auto reply = call(std::move(*message));
  if (!reply && last_error_name_ != "org.freedesktop.systemd1.NoSuchUnit") {
    return std::unexpected(reply.error());
  }
  return {};
}

std::expected<void, std::string> UserManager::reload() {
  auto message = new_method("Reload");
  if (!message) {
    return std::unexpected(message.error());
  }
  auto reply = call(std::move(*message));
  if (!reply) {
    return std::unexpected(reply.error());
  }
  return {};
}

}  // namespace liaison::platform
