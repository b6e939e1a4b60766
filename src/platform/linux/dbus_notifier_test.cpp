// Tests for DbusNotifier, SdBusAsio and XdgUrlOpener against a real, private dbus-daemon (one per
// test, with no service directories, so nothing gets bus-activated) and a notification server
// written here with sd-bus, which records every call and emits signals on request. One test runs
// python3-dbusmock's notification_daemon template instead, as an independent implementation.
//
// Everything waits on events (the io_context, a pipe, a bus signal), never on fixed sleeps.
// Runs as root and as any other user: each test's bus belongs to whoever runs it.
#include "platform/linux/dbus_notifier.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "platform/linux/sd_bus_asio.h"
#include "platform/linux/sd_bus_ptr.h"
#include "platform/linux/session_bus_probe.h"
#include "platform/linux/url_opener.h"

extern char** environ;  // NOLINT

namespace liaison::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

constexpr const char* kServerName = "org.freedesktop.Notifications";
constexpr const char* kServerPath = "/org/freedesktop/Notifications";
constexpr const char* kServerInterface = "org.freedesktop.Notifications";
constexpr auto kEventTimeout = 5s;

// ---------------------------------------------------------------------------------------------
// Processes and buses

// A child process, killed (SIGTERM) and reaped when the test is done with it.
class ChildProcess {
 public:
  // Starts `argv` with `extra_environment` added to ours; its stdout and stderr go to
  // `stdout_fd` and `stderr_fd` (-1: inherited).
  static std::optional<ChildProcess> start(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& extra_environment,
                                           int stdout_fd = -1, int stderr_fd = -1) {
    std::vector<std::string> environment(extra_environment);
    for (char** entry = environ; *entry != nullptr; ++entry) {
      environment.emplace_back(*entry);
    }
    std::vector<std::string> args(argv);
    std::vector<char*> arg_pointers;
    arg_pointers.reserve(args.size() + 1);
    for (std::string& arg : args) {
      arg_pointers.push_back(arg.data());
    }
    arg_pointers.push_back(nullptr);
    std::vector<char*> env_pointers;
    env_pointers.reserve(environment.size() + 1);
    for (std::string& entry : environment) {
      env_pointers.push_back(entry.data());
    }
    env_pointers.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (stdout_fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    }
    if (stderr_fd >= 0) {
      posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
    }
    pid_t pid = 0;
    int error = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, arg_pointers.data(),
                            env_pointers.data());
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      return std::nullopt;
    }
    return ChildProcess(pid);
  }

  ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, 0)) {}
  ChildProcess& operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
      stop();
      pid_ = std::exchange(other.pid_, 0);
    }
    return *this;
  }
  ~ChildProcess() { stop(); }

  void stop() {
    if (pid_ <= 0) {
      return;
    }
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = 0;
};

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "liaison-notify-XXXXXX");
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A dbus-daemon of our own, listening in a temporary directory. No <servicedir>: a name nobody
// owns stays unowned (the system's dunst would otherwise be bus-activated into the test).
class PrivateBus {
 public:
  static std::unique_ptr<PrivateBus> start() {
    auto bus = std::unique_ptr<PrivateBus>(new PrivateBus());  // NOLINT: test-only private ctor
    std::string config_path = bus->dir_.path() + "/bus.conf";
    std::ofstream(config_path) << fmt::format(R"(<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)",
                                              bus->dir_.path());
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return nullptr;
    }
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    // Its complaints (as root without CAP_SYS_RESOURCE: "Failed to set fd limit") go to a file
    // beside the socket, not into the test's output.
    UniqueFd daemon_log(open((bus->dir_.path() + "/dbus-daemon.log").c_str(),
                             O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    bus->daemon_ = ChildProcess::start({"/usr/bin/dbus-daemon", "--config-file=" + config_path,
                                        "--nofork", "--nopidfile", "--print-address"},
                                       {}, write_end.get(), daemon_log.get());
    write_end.reset();
    if (!bus->daemon_) {
      return nullptr;
    }
    // The address is printed once the daemon listens: a blocking read, not a sleep.
    std::string line;
    char c = 0;
    while (::read(read_end.get(), &c, 1) == 1 && c != '\n') {
      line += c;
    }
    if (line.empty()) {
      return nullptr;
    }
    bus->address_ = line;
    return bus;
  }

  const std::string& address() const { return address_; }
  const std::string& dir() const { return dir_.path(); }

  SdBusPtr connect() const {
    sd_bus* raw = nullptr;
    if (sd_bus_new(&raw) < 0) {
      return nullptr;
    }
    SdBusPtr bus(raw);
    if (sd_bus_set_address(bus.get(), address_.c_str()) < 0) {
      return nullptr;
    }
    if (sd_bus_set_bus_client(bus.get(), 1) < 0) {
      return nullptr;
    }
    if (sd_bus_start(bus.get()) < 0) {
      return nullptr;
    }
    return bus;
  }

  void kill_daemon() {
    if (daemon_) {
      daemon_->stop();
    }
  }

 private:
  PrivateBus() = default;
  TempDir dir_;
  std::optional<ChildProcess> daemon_;
  std::string address_;
};

// ---------------------------------------------------------------------------------------------
// A notification server (and, on request, a user service manager) on its own thread

struct NotifyCall {
  std::string app_name;
  uint32_t replaces_id = 0;
  std::string icon;
  std::string summary;
  std::string body;
  std::vector<std::string> actions;
  std::map<std::string, std::string> hint_signatures;  // hint name -> its variant's type
  std::optional<uint8_t> urgency;
  std::optional<std::string> desktop_entry;
  int32_t expire_timeout = 0;
};

class FakeNotificationServer {
 public:
  struct Options {
    std::vector<std::string> capabilities = {"actions", "body", "body-markup"};
    uint32_t first_id = 41;  // not 1: the notifier must use the server's ids, not count its own
    bool serve_user_manager = false;
    std::vector<std::string> manager_environment;
    bool refuse_transient_units = false;  // StartTransientUnit answers AccessDenied
  };

  // What a StartTransientUnit asked for (the fake runs nothing).
  struct TransientUnitCall {
    std::string name;
    std::string type;
    std::vector<std::string> exec_start;  // the argv of its one command
    std::vector<std::string> environment;
  };

  static std::unique_ptr<FakeNotificationServer> start(const PrivateBus& bus, Options options) {
    auto server = std::unique_ptr<FakeNotificationServer>(  // NOLINT: test-only private ctor
        new FakeNotificationServer(std::move(options)));
    server->bus_ = bus.connect();
    if (!server->bus_ || !server->export_objects()) {
      return nullptr;
    }
    // Owned before start() returns: a show() right after finds the server.
    if (sd_bus_request_name(server->bus_.get(), kServerName, 0) < 0) {
      return nullptr;
    }
    if (server->options_.serve_user_manager &&
        sd_bus_request_name(server->bus_.get(), "org.freedesktop.systemd1", 0) < 0) {
      return nullptr;
    }
    server->thread_ = std::thread([raw = server.get()] { raw->run(); });
    return server;
  }

  // Stops serving and disconnects: the names go away, as when a real server exits.
  ~FakeNotificationServer() {
    stopping_ = true;
    wake();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  std::vector<NotifyCall> notify_calls() const {
    std::lock_guard lock(mutex_);
    return notify_calls_;
  }
  int capability_requests() const {
    std::lock_guard lock(mutex_);
    return capability_requests_;
  }
  std::vector<TransientUnitCall> transient_units() const {
    std::lock_guard lock(mutex_);
    return transient_units_;
  }

  void emit_action_invoked(uint32_t id, const std::string& action) {
    post([this, id, action] { send_action_invoked(id, action); });
  }
  void emit_notification_closed(uint32_t id, uint32_t reason) {
    post([this, id, reason] { send_notification_closed(id, reason); });
  }
  // Emitted by the server right before it answers the next Notify: the client reads them while
  // it waits for its reply.
  void emit_action_invoked_before_next_reply(uint32_t id, const std::string& action) {
    std::lock_guard lock(mutex_);
    before_next_reply_.push_back([this, id, action] { send_action_invoked(id, action); });
  }
  void emit_notification_closed_before_next_reply(uint32_t id, uint32_t reason) {
    std::lock_guard lock(mutex_);
    before_next_reply_.push_back([this, id, reason] { send_notification_closed(id, reason); });
  }

 private:
  explicit FakeNotificationServer(Options options)
      : options_(std::move(options)),
        next_id_(options_.first_id),
        wake_fd_(eventfd(0, EFD_CLOEXEC)) {}

  bool export_objects() {
    static const sd_bus_vtable kNotificationsVtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", &FakeNotificationServer::on_notify, 0),
        SD_BUS_METHOD("GetCapabilities", "", "as", &FakeNotificationServer::on_get_capabilities, 0),
        SD_BUS_METHOD("GetServerInformation", "", "ssss",
                      &FakeNotificationServer::on_get_server_information, 0),
        SD_BUS_SIGNAL("ActionInvoked", "us", 0),
        SD_BUS_SIGNAL("NotificationClosed", "uu", 0),
        SD_BUS_VTABLE_END};
    static const sd_bus_vtable kManagerVtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Environment", "as", &FakeNotificationServer::get_environment, 0, 0),
        SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o",
                      &FakeNotificationServer::on_start_transient_unit, 0),
        SD_BUS_VTABLE_END};
    sd_bus_slot* slot = nullptr;
    if (sd_bus_add_object_vtable(bus_.get(), &slot, kServerPath, kServerInterface,
                                 kNotificationsVtable, this) < 0) {
      return false;
    }
    slots_.emplace_back(slot);
    if (options_.serve_user_manager) {
      if (sd_bus_add_object_vtable(bus_.get(), &slot, "/org/freedesktop/systemd1",
                                   "org.freedesktop.systemd1.Manager", kManagerVtable, this) < 0) {
        return false;
      }
      slots_.emplace_back(slot);
    }
    return true;
  }

  // The server's loop: the bus fd and a wake-up eventfd in poll(), sd-bus's deadline honoured.
  void run() {
    while (!stopping_) {
      run_posted();
      while (sd_bus_process(bus_.get(), nullptr) > 0) {
      }
      if (stopping_) {
        break;
      }
      uint64_t deadline_usec = UINT64_MAX;
      sd_bus_get_timeout(bus_.get(), &deadline_usec);
      int timeout_ms = -1;
      if (deadline_usec != UINT64_MAX) {
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_usec = now.tv_sec * 1'000'000ULL + now.tv_nsec / 1000;
        timeout_ms = deadline_usec > now_usec ? int((deadline_usec - now_usec + 999) / 1000) : 0;
      }
      pollfd fds[2] = {{sd_bus_get_fd(bus_.get()), short(sd_bus_get_events(bus_.get())), 0},
                       {wake_fd_.get(), POLLIN, 0}};
      poll(fds, 2, timeout_ms);
      if (fds[1].revents & POLLIN) {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t ignored = ::read(wake_fd_.get(), &count, sizeof count);
      }
    }
    slots_.clear();
    sd_bus_flush(bus_.get());
    bus_.reset();  // closes the connection: the bus daemon releases our names
  }

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      posted_.push_back(std::move(task));
    }
    wake();
  }
  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(wake_fd_.get(), &one, sizeof one);
  }
  void run_posted() {
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(posted_);
    }
    for (auto& task : tasks) {
      task();
    }
  }

  void send_action_invoked(uint32_t id, const std::string& action) {
    sd_bus_emit_signal(bus_.get(), kServerPath, kServerInterface, "ActionInvoked", "us", id,
                       action.c_str());
  }
  void send_notification_closed(uint32_t id, uint32_t reason) {
    sd_bus_emit_signal(bus_.get(), kServerPath, kServerInterface, "NotificationClosed", "uu", id,
                       reason);
  }

  static int read_hints(sd_bus_message* m, NotifyCall& call) {
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0) {
      return r;
    }
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
      const char* key = nullptr;
      r = sd_bus_message_read(m, "s", &key);
      if (r < 0) {
        return r;
      }
      char type = 0;
      const char* contents = nullptr;
      r = sd_bus_message_peek_type(m, &type, &contents);
      if (r < 0) {
        return r;
      }
      call.hint_signatures[key] = contents;
      if (std::string_view(key) == "urgency" && std::string_view(contents) == "y") {
        uint8_t urgency = 0;
        r = sd_bus_message_read(m, "v", "y", &urgency);
        if (r < 0) {
          return r;
        }
        call.urgency = urgency;
      } else if (std::string_view(key) == "desktop-entry" && std::string_view(contents) == "s") {
        const char* entry = nullptr;
        r = sd_bus_message_read(m, "v", "s", &entry);
        if (r < 0) {
          return r;
        }
        call.desktop_entry = entry;
      } else {
        r = sd_bus_message_skip(m, "v");
        if (r < 0) {
          return r;
        }
      }
      r = sd_bus_message_exit_container(m);
      if (r < 0) {
        return r;
      }
    }
    if (r < 0) {
      return r;
    }
    return sd_bus_message_exit_container(m);
  }

  static int on_notify(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<FakeNotificationServer*>(userdata);
    NotifyCall call;
    const char* app_name = nullptr;
    const char* icon = nullptr;
    const char* summary = nullptr;
    const char* body = nullptr;
    int r = sd_bus_message_read(m, "susss", &app_name, &call.replaces_id, &icon, &summary, &body);
    if (r < 0) {
      return r;
    }
    call.app_name = app_name;
    call.icon = icon;
    call.summary = summary;
    call.body = body;
    char** actions = nullptr;
    r = sd_bus_message_read_strv(m, &actions);
    if (r < 0) {
      return r;
    }
    StrvPtr owned_actions(actions);
    for (char** action = actions; action != nullptr && *action != nullptr; ++action) {
      call.actions.emplace_back(*action);
    }
    r = read_hints(m, call);
    if (r < 0) {
      return r;
    }
    r = sd_bus_message_read(m, "i", &call.expire_timeout);
    if (r < 0) {
      return r;
    }

    std::vector<std::function<void()>> before_reply;
    uint32_t id = 0;
    {
      std::lock_guard lock(self->mutex_);
      id = call.replaces_id != 0 ? call.replaces_id : self->next_id_++;
      self->notify_calls_.push_back(std::move(call));
      before_reply.swap(self->before_next_reply_);
    }
    for (auto& emit : before_reply) {
      emit();
    }
    return sd_bus_reply_method_return(m, "u", id);
  }

  static int on_get_capabilities(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<FakeNotificationServer*>(userdata);
    {
      std::lock_guard lock(self->mutex_);
      ++self->capability_requests_;
    }
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_return(m, &raw);
    if (r < 0) {
      return r;
    }
    SdBusMessagePtr reply(raw);
    std::vector<char*> strv;
    strv.reserve(self->options_.capabilities.size() + 1);
    for (std::string& capability : self->options_.capabilities) {
      strv.push_back(capability.data());
    }
    strv.push_back(nullptr);
    r = sd_bus_message_append_strv(reply.get(), strv.data());
    if (r < 0) {
      return r;
    }
    return sd_bus_send(nullptr, reply.get(), nullptr);
  }

  static int on_get_server_information(sd_bus_message* m, void*, sd_bus_error*) {
    return sd_bus_reply_method_return(m, "ssss", "fake-server", "liaison tests", "0.1", "1.2");
  }

  static int get_environment(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                             void* userdata, sd_bus_error*) {
    auto* self = static_cast<FakeNotificationServer*>(userdata);
    std::vector<char*> strv;
    strv.reserve(self->options_.manager_environment.size() + 1);
    for (std::string& entry : self->options_.manager_environment) {
      strv.push_back(entry.data());
    }
    strv.push_back(nullptr);
    return sd_bus_message_append_strv(reply, strv.data());
  }

  static int read_strv(sd_bus_message* m, std::vector<std::string>& into) {
    char** raw = nullptr;
    int r = sd_bus_message_read_strv(m, &raw);
    if (r < 0) {
      return r;
    }
    for (char** entry = raw; entry != nullptr && *entry != nullptr; ++entry) {
      into.emplace_back(*entry);
      free(*entry);  // NOLINT(cppcoreguidelines-no-malloc): sd-bus allocated it
    }
    free(raw);  // NOLINT(cppcoreguidelines-no-malloc)
    return 0;
  }

  // ExecStart's a(sasb), of which the fake keeps the first command's argv.
  static int read_exec_start(sd_bus_message* m, TransientUnitCall& call) {
    int r = sd_bus_message_enter_container(m, 'v', "a(sasb)");
    if (r >= 0) {
      r = sd_bus_message_enter_container(m, 'a', "(sasb)");
    }
    if (r >= 0) {
      r = sd_bus_message_enter_container(m, 'r', "sasb");
    }
    const char* path = nullptr;
    if (r >= 0) {
      r = sd_bus_message_read(m, "s", &path);
    }
    if (r >= 0) {
      r = read_strv(m, call.exec_start);
    }
    int ignore_failure = 0;
    if (r >= 0) {
      r = sd_bus_message_read(m, "b", &ignore_failure);
    }
    for (int i = 0; i < 3 && r >= 0; ++i) {
      r = sd_bus_message_exit_container(m);
    }
    return r;
  }

  static int read_property(sd_bus_message* m, const std::string& property,
                           TransientUnitCall& call) {
    if (property == "ExecStart") {
      return read_exec_start(m, call);
    }
    if (property == "Type") {
      const char* type = nullptr;
      int r = sd_bus_message_read(m, "v", "s", &type);
      call.type = r >= 0 ? type : "";
      return r;
    }
    if (property == "Environment") {
      int r = sd_bus_message_enter_container(m, 'v', "as");
      if (r >= 0) {
        r = read_strv(m, call.environment);
      }
      return r >= 0 ? sd_bus_message_exit_container(m) : r;
    }
    return sd_bus_message_skip(m, "v");
  }

  // Records what was asked for, or refuses as a manager's access check does.
  static int on_start_transient_unit(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    auto* self = static_cast<FakeNotificationServer*>(userdata);
    if (self->options_.refuse_transient_units) {
      return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "refused by the test");
    }
    TransientUnitCall call;
    const char* name = nullptr;
    const char* mode = nullptr;
    int r = sd_bus_message_read(m, "ss", &name, &mode);
    if (r < 0) {
      return r;
    }
    call.name = name;
    r = sd_bus_message_enter_container(m, 'a', "(sv)");
    if (r < 0) {
      return r;
    }
    while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
      const char* property = nullptr;
      r = sd_bus_message_read(m, "s", &property);
      if (r >= 0) {
        r = read_property(m, property, call);
      }
      if (r >= 0) {
        r = sd_bus_message_exit_container(m);
      }
      if (r < 0) {
        return r;
      }
    }
    {
      std::lock_guard lock(self->mutex_);
      self->transient_units_.push_back(std::move(call));
    }
    return sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/1");
  }

  Options options_;
  SdBusPtr bus_;
  std::vector<SdBusSlotPtr> slots_;
  std::thread thread_;
  std::atomic<bool> stopping_ = false;
  mutable std::mutex mutex_;
  uint32_t next_id_;
  std::vector<NotifyCall> notify_calls_;
  int capability_requests_ = 0;
  std::vector<TransientUnitCall> transient_units_;
  std::vector<std::function<void()>> before_next_reply_;
  std::vector<std::function<void()>> posted_;
  UniqueFd wake_fd_;
};

// ---------------------------------------------------------------------------------------------
// Helpers

// Runs `io` until `done()` holds or `limit` passes; handlers run one at a time, so `done()` is
// checked after each.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = kEventTimeout) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return false;
    }
    if (io.stopped()) {
      io.restart();
    }
    if (io.run_one_for(deadline - now) == 0 && io.stopped()) {
      return done();  // no work left
    }
  }
  return true;
}

class RecordingUrlOpener final : public UrlOpener {
 public:
  explicit RecordingUrlOpener(std::shared_ptr<std::vector<std::string>> opened)
      : opened_(std::move(opened)) {}
  std::expected<void, std::string> open(const std::string& url) override {
    opened_->push_back(url);
    return {};
  }

 private:
  std::shared_ptr<std::vector<std::string>> opened_;
};

agent::Notification full_notification() {
  agent::Notification notification;
  notification.app_name = "Acme IT";
  notification.title = "<b>Update</b> & restart";
  notification.body = "Save your work <now> & \"then\" restart";
  notification.icon = "system-software-update";
  notification.action_url = "https://it.example.com/update?id=7";
  notification.actions = {{"restart", "Restart now"}, {"later", "Later"}};
  notification.urgency = agent::Urgency::kCritical;
  notification.dedup_id = "update-7";
  notification.timeout_ms = 10000;
  notification.desktop_entry = "acme-it";
  return notification;
}

agent::Notification simple_notification(std::string dedup_id = "") {
  agent::Notification notification;
  notification.title = "Hello";
  notification.body = "World";
  notification.dedup_id = std::move(dedup_id);
  return notification;
}

// ---------------------------------------------------------------------------------------------
// The fixture: a private bus, the fake server on it, a notifier driven by io_

class DbusNotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = PrivateBus::start();
    ASSERT_NE(bus_, nullptr) << "cannot start dbus-daemon";
  }

  void start_server(FakeNotificationServer::Options options = {}) {
    server_ = FakeNotificationServer::start(*bus_, std::move(options));
    ASSERT_NE(server_, nullptr) << "cannot start the fake notification server";
  }

  void make_notifier() {
    agent::NotifierEvents events;
    events.on_action = [this](uint32_t id, const std::string& action) {
      actions_.emplace_back(id, action);
      if (on_action_hook_) {
        on_action_hook_(id, action);
      }
    };
    events.on_closed = [this](uint32_t id, agent::CloseReason reason) {
      closed_.emplace_back(id, reason);
    };
    auto notifier = DbusNotifier::connect_on_bus(
        bus_->connect(), std::move(events), std::make_unique<RecordingUrlOpener>(opened_urls_));
    ASSERT_TRUE(notifier.has_value()) << notifier.error();
    notifier_ = std::move(*notifier);
    auto attached =
        notifier_->attach(io_, [this](const std::string& reason) { bus_lost_reason_ = reason; });
    ASSERT_TRUE(attached.has_value()) << attached.error();
  }

  uint32_t show(const agent::Notification& notification) {
    auto id = notifier_->show(notification);
    EXPECT_TRUE(id.has_value()) << id.error();
    return id.value_or(0);
  }

  NotifyCall last_call() const {
    auto calls = server_->notify_calls();
    EXPECT_FALSE(calls.empty());
    return calls.empty() ? NotifyCall{} : calls.back();
  }

  std::unique_ptr<PrivateBus> bus_;
  std::unique_ptr<FakeNotificationServer> server_;
  asio::io_context io_;
  std::unique_ptr<DbusNotifier> notifier_;
  std::vector<std::pair<uint32_t, std::string>> actions_;
  std::vector<std::pair<uint32_t, agent::CloseReason>> closed_;
  std::shared_ptr<std::vector<std::string>> opened_urls_ =
      std::make_shared<std::vector<std::string>>();
  std::function<void(uint32_t, const std::string&)> on_action_hook_;
  std::optional<std::string> bus_lost_reason_;
};

TEST_F(DbusNotifierTest, SendsNotifyArgumentsAsTheSpecDefinesThem) {
  start_server();
  make_notifier();

  uint32_t id = show(full_notification());

  EXPECT_EQ(id, 41u);
  NotifyCall call = last_call();
  EXPECT_EQ(call.app_name, "Acme IT");
  EXPECT_EQ(call.replaces_id, 0u);
  EXPECT_EQ(call.icon, "system-software-update");
  EXPECT_EQ(call.summary, "<b>Update</b> & restart");  // the spec has no markup in the summary
  EXPECT_EQ(call.body, "Save your work &lt;now&gt; &amp; &quot;then&quot; restart");
  EXPECT_THAT(call.actions,
              ElementsAre("default", "Open", "restart", "Restart now", "later", "Later"));
  EXPECT_THAT(call.hint_signatures, ElementsAre(Pair("desktop-entry", "s"), Pair("urgency", "y")));
  EXPECT_EQ(call.urgency, 2);
  EXPECT_EQ(call.desktop_entry, "acme-it");
  EXPECT_EQ(call.expire_timeout, 10000);
}

TEST_F(DbusNotifierTest, SendsTheBodyLiterallyWhenTheServerReadsNoMarkup) {
  start_server({.capabilities = {"actions", "body"}});
  make_notifier();

  show(full_notification());

  EXPECT_EQ(last_call().body, "Save your work <now> & \"then\" restart");
}

TEST_F(DbusNotifierTest, SendsOnlyWhatIsSet) {
  start_server();
  make_notifier();
  agent::Notification notification = simple_notification();
  notification.actions = {{"ok", "OK"}};
  notification.urgency = agent::Urgency::kLow;

  show(notification);

  NotifyCall call = last_call();
  EXPECT_EQ(call.app_name, "liaison");
  EXPECT_EQ(call.icon, "");
  EXPECT_THAT(call.actions, ElementsAre("ok", "OK"));  // no URL: no "default"
  EXPECT_THAT(call.hint_signatures, ElementsAre(Pair("urgency", "y")));
  EXPECT_EQ(call.urgency, 0);
  EXPECT_EQ(call.expire_timeout, -1);

  show(simple_notification());
  EXPECT_EQ(last_call().urgency, 1);
  EXPECT_THAT(last_call().actions, IsEmpty());
}

TEST_F(DbusNotifierTest, ReplacesTheNotificationShownUnderTheSameDedupId) {
  start_server();
  make_notifier();

  uint32_t first = show(simple_notification("disk"));
  uint32_t again = show(simple_notification("disk"));
  EXPECT_EQ(last_call().replaces_id, first);
  EXPECT_EQ(again, first);

  uint32_t other = show(simple_notification("vpn"));
  EXPECT_EQ(last_call().replaces_id, 0u);
  EXPECT_NE(other, first);

  show(simple_notification());
  show(simple_notification());
  EXPECT_EQ(last_call().replaces_id, 0u);  // no dedup id: never replaces
  EXPECT_EQ(notifier_->notifications_on_screen(), 4u);
}

TEST_F(DbusNotifierTest, ForgetsADedupIdOnceItsNotificationIsClosed) {
  start_server();
  make_notifier();
  uint32_t id = show(simple_notification("disk"));

  server_->emit_notification_closed(id, 2);
  ASSERT_TRUE(run_until(io_, [&] { return !closed_.empty(); }));

  EXPECT_THAT(closed_, ElementsAre(Pair(id, agent::CloseReason::kDismissed)));
  EXPECT_EQ(notifier_->notifications_on_screen(), 0u);
  show(simple_notification("disk"));
  EXPECT_EQ(last_call().replaces_id, 0u);
}

TEST_F(DbusNotifierTest, AsksCapabilitiesOnceOverSeveralShows) {
  start_server();
  make_notifier();

  show(simple_notification());
  show(simple_notification("a"));
  show(simple_notification("a"));
  auto capabilities = notifier_->capabilities();

  EXPECT_EQ(server_->capability_requests(), 1);
  ASSERT_TRUE(capabilities.has_value());
  EXPECT_THAT(*capabilities, ElementsAre("actions", "body", "body-markup"));
}

TEST_F(DbusNotifierTest, ReportsServerInformation) {
  start_server();
  make_notifier();

  auto information = notifier_->server_information();

  ASSERT_TRUE(information.has_value()) << information.error();
  EXPECT_EQ(information->name, "fake-server");
  EXPECT_EQ(information->vendor, "liaison tests");
  EXPECT_EQ(information->version, "0.1");
  EXPECT_EQ(information->spec_version, "1.2");
}

// --- SessionBusProbe: what `liaison doctor` reports from inside the session ---

std::vector<protocol::Finding> probe_bus(PrivateBus& bus) {
  SessionBusProbe probe([&bus]() -> std::expected<SdBusPtr, std::string> { return bus.connect(); });
  return probe.examine();
}

TEST_F(DbusNotifierTest, TheProbeNamesTheServerAndItsCapabilities) {
  start_server();
  auto findings = probe_bus(*bus_);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].check, "session-bus");
  EXPECT_EQ(findings[0].status, protocol::Finding::Status::kOk);
  EXPECT_THAT(findings[0].facts.at("address").get<std::string>(), HasSubstr("/bus"));
  EXPECT_EQ(findings[1].check, "notification-server");
  EXPECT_EQ(findings[1].status, protocol::Finding::Status::kOk) << findings[1].detail;
  EXPECT_THAT(findings[1].detail, HasSubstr("fake-server 0.1 by liaison tests, spec 1.2"));
  EXPECT_EQ(findings[1].facts.at("capabilities"),
            protocol::Json::array({"actions", "body", "body-markup"}));
  EXPECT_TRUE(server_->notify_calls().empty()) << "the probe must not show anything";
}

TEST_F(DbusNotifierTest, TheProbeFailsWithAFixWhenNoServerRuns) {
  auto findings = probe_bus(*bus_);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].status, protocol::Finding::Status::kOk);
  EXPECT_TRUE(findings[1].failed());
  EXPECT_THAT(findings[1].detail, HasSubstr("no notification server on the session bus"));
  EXPECT_THAT(findings[1].hint, HasSubstr("start a notification server"));
}

TEST_F(DbusNotifierTest, TheProbeWarnsWhenTheServerCannotShowButtons) {
  start_server({.capabilities = {"body"}});
  auto findings = probe_bus(*bus_);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[1].status, protocol::Finding::Status::kWarn);
  EXPECT_THAT(findings[1].hint, HasSubstr("--wait-action"));
}

TEST(SessionBusProbeTest, NoBusIsAFailureThatSaysWhereItLooked) {
  SessionBusProbe probe([]() -> std::expected<SdBusPtr, std::string> {
    return std::unexpected(
        "cannot connect to the session bus (neither DBUS_SESSION_BUS_ADDRESS "
        "nor XDG_RUNTIME_DIR is set): No medium found");
  });
  auto findings = probe.examine();
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].check, "session-bus");
  EXPECT_TRUE(findings[0].failed());
  EXPECT_THAT(findings[0].detail, HasSubstr("neither DBUS_SESSION_BUS_ADDRESS"));
  EXPECT_THAT(findings[0].hint, HasSubstr("dbus.socket"));
}

TEST_F(DbusNotifierTest, ForwardsActionsOnlyForItsOwnNotifications) {
  start_server();
  make_notifier();
  uint32_t id = show(full_notification());

  server_->emit_action_invoked(id + 100, "restart");  // another application's notification
  server_->emit_action_invoked(id, "restart");
  ASSERT_TRUE(run_until(io_, [&] { return !actions_.empty(); }));

  // The server sends in order, so the foreign signal was handled (and dropped) first.
  EXPECT_THAT(actions_, ElementsAre(Pair(id, "restart")));
  EXPECT_THAT(*opened_urls_, IsEmpty());  // not the URL's action
}

TEST_F(DbusNotifierTest, ForwardsClosesOnlyForItsOwnNotifications) {
  start_server();
  make_notifier();
  uint32_t expired = show(simple_notification());
  uint32_t closed = show(simple_notification());
  uint32_t odd = show(simple_notification());

  server_->emit_notification_closed(odd + 100, 1);
  server_->emit_notification_closed(expired, 1);
  server_->emit_notification_closed(closed, 3);
  server_->emit_notification_closed(odd, 77);
  ASSERT_TRUE(run_until(io_, [&] { return closed_.size() == 3; }));

  EXPECT_THAT(closed_, ElementsAre(Pair(expired, agent::CloseReason::kExpired),
                                   Pair(closed, agent::CloseReason::kClosed),
                                   Pair(odd, agent::CloseReason::kUndefined)));
}

TEST_F(DbusNotifierTest, OpensTheUrlOnTheDefaultAction) {
  start_server();
  make_notifier();
  uint32_t id = show(full_notification());

  server_->emit_action_invoked(id, "default");
  ASSERT_TRUE(run_until(io_, [&] { return !actions_.empty(); }));

  EXPECT_THAT(actions_, ElementsAre(Pair(id, "default")));
  EXPECT_THAT(*opened_urls_, ElementsAre("https://it.example.com/update?id=7"));
}

TEST_F(DbusNotifierTest, OpensTheUrlOnAnyActionWhenItIsTheOnlyOne) {
  start_server();
  make_notifier();
  agent::Notification notification = simple_notification();
  notification.action_url = "mailto:helpdesk@example.com";
  uint32_t id = show(notification);

  server_->emit_action_invoked(id, "1");  // servers that number their buttons
  ASSERT_TRUE(run_until(io_, [&] { return !actions_.empty(); }));

  EXPECT_THAT(*opened_urls_, ElementsAre("mailto:helpdesk@example.com"));
}

TEST_F(DbusNotifierTest, NeverOpensUrlsOfOtherSchemes) {
  start_server();
  make_notifier();
  agent::Notification notification = simple_notification();
  notification.action_url = "file:///etc/passwd";
  uint32_t id = show(notification);

  server_->emit_action_invoked(id, "default");
  ASSERT_TRUE(run_until(io_, [&] { return !actions_.empty(); }));

  EXPECT_THAT(actions_, ElementsAre(Pair(id, "default")));  // still reported
  EXPECT_THAT(*opened_urls_, IsEmpty());
}

TEST_F(DbusNotifierTest, ReportsAClearErrorWhenNoServerOwnsTheName) {
  make_notifier();  // no server on this bus

  auto id = notifier_->show(simple_notification());

  ASSERT_FALSE(id.has_value());
  EXPECT_THAT(id.error(), HasSubstr("no notification server on the session bus "
                                    "(org.freedesktop.Notifications): "
                                    "org.freedesktop.DBus.Error.ServiceUnknown"));
}

TEST_F(DbusNotifierTest, DeliversSignalsThatArriveDuringAShow) {
  start_server();
  make_notifier();
  uint32_t first = show(simple_notification());
  io_.poll();  // settle: the first show's processing pass runs, nothing is left queued

  // sd-bus reads this signal into its own queue while it waits for the Notify reply; the fd has
  // nothing more to say, so only the notifier's nudge gets it dispatched.
  server_->emit_action_invoked_before_next_reply(first, "later");
  show(simple_notification());
  ASSERT_TRUE(run_until(
      io_, [&] { return !actions_.empty(); }, 1s));

  EXPECT_THAT(actions_, ElementsAre(Pair(first, "later")));
}

TEST_F(DbusNotifierTest, IgnoresSignalsAboutTheNotificationAReplacementReplaced) {
  start_server();
  make_notifier();
  uint32_t id = show(simple_notification("disk"));

  // The old one expires as the replacement arrives: that close is about the old one.
  server_->emit_notification_closed_before_next_reply(id, 1);
  EXPECT_EQ(show(simple_notification("disk")), id);
  server_->emit_action_invoked(id, "default");  // a marker behind the close
  ASSERT_TRUE(run_until(io_, [&] { return !actions_.empty(); }));

  EXPECT_THAT(closed_, IsEmpty());
  EXPECT_EQ(notifier_->notifications_on_screen(), 1u);
  show(simple_notification("disk"));
  EXPECT_EQ(last_call().replaces_id, id);
}

TEST_F(DbusNotifierTest, EventCallbacksMayShowAgain) {
  start_server();
  make_notifier();
  uint32_t id = show(full_notification());
  std::optional<std::expected<uint32_t, std::string>> follow_up;
  on_action_hook_ = [&](uint32_t, const std::string&) {
    follow_up = notifier_->show(simple_notification("follow-up"));
  };

  server_->emit_action_invoked(id, "restart");
  ASSERT_TRUE(run_until(io_, [&] { return follow_up.has_value(); }));

  const auto& shown = *follow_up;  // NOLINT(bugprone-unchecked-optional-access): run_until above
  ASSERT_TRUE(shown.has_value()) << shown.error();
  EXPECT_EQ(server_->notify_calls().size(), 2u);
}

TEST_F(DbusNotifierTest, ANewServerClosesTheOldOnesNotificationsAndIsAskedAgain) {
  start_server();
  make_notifier();
  uint32_t id = show(simple_notification("disk"));

  server_.reset();  // the server exits
  ASSERT_TRUE(run_until(io_, [&] { return !closed_.empty(); }));
  EXPECT_THAT(closed_, ElementsAre(Pair(id, agent::CloseReason::kUndefined)));

  start_server({.capabilities = {"body"}});
  show(simple_notification("disk"));
  EXPECT_EQ(server_->capability_requests(), 1);
  EXPECT_EQ(last_call().replaces_id, 0u);
  EXPECT_EQ(last_call().body, "World");
}

TEST_F(DbusNotifierTest, StaysIdleBetweenEvents) {
  start_server();
  make_notifier();
  show(simple_notification());
  io_.poll();  // the show's processing pass

  size_t handlers = io_.run_for(100ms);

  // No polling: an idle bus costs one pending read wait and no handler runs at all.
  EXPECT_EQ(handlers, 0u);
  uint32_t id = show(simple_notification());
  server_->emit_action_invoked(id, "default");
  EXPECT_TRUE(run_until(io_, [&] { return !actions_.empty(); }));
}

TEST_F(DbusNotifierTest, TellsWhenTheBusIsGone) {
  start_server();
  make_notifier();
  show(simple_notification());

  server_.reset();
  bus_->kill_daemon();
  ASSERT_TRUE(run_until(io_, [&] { return bus_lost_reason_.has_value(); }));

  auto id = notifier_->show(simple_notification());
  ASSERT_FALSE(id.has_value());
  EXPECT_THAT(id.error(), HasSubstr("the session bus connection is gone"));
  io_.poll();
  EXPECT_TRUE(io_.stopped());  // and stopped waiting on the dead fd
}

TEST_F(DbusNotifierTest, CanBeDestroyedWithWaitsPending) {
  start_server();
  make_notifier();
  show(simple_notification());

  notifier_.reset();

  io_.poll();  // the cancelled waits run against the driver's leftover state, and do nothing
  EXPECT_TRUE(io_.stopped());  // no wait and no timer left behind
}

TEST_F(DbusNotifierTest, ConnectsThroughTheSessionBusAddress) {
  start_server();
  const char* saved = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  std::optional<std::string> saved_address =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  setenv("DBUS_SESSION_BUS_ADDRESS", bus_->address().c_str(), 1);
  auto notifier = DbusNotifier::connect({});
  setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/liaison-bus", 1);
  auto missing = DbusNotifier::connect({});
  if (saved_address) {
    setenv("DBUS_SESSION_BUS_ADDRESS", saved_address->c_str(), 1);
  } else {
    unsetenv("DBUS_SESSION_BUS_ADDRESS");
  }

  ASSERT_TRUE(notifier.has_value()) << notifier.error();
  EXPECT_TRUE((*notifier)->show(simple_notification()).has_value());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error(),
            "cannot connect to the session bus "
            "(DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/liaison-bus): "
            "No such file or directory");
}

// ---------------------------------------------------------------------------------------------
// python3-dbusmock's notification_daemon template: someone else's reading of the spec

class DbusmockTest : public DbusNotifierTest {
 protected:
  static constexpr const char* kPython = "/usr/bin/python3";

  void start_dbusmock(std::vector<std::string> extra_args = {}) {
    log_path_ = bus_->dir() + "/dbusmock.log";
    std::vector<std::string> argv = {kPython,     "-m",         "dbusmock",
                                     "--session", "--template", "notification_daemon",
                                     "-l",        log_path_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    // Watch for the name before starting, so its arrival cannot be missed.
    watcher_ = bus_->connect();
    ASSERT_NE(watcher_, nullptr);
    sd_bus_slot* slot = nullptr;
    ASSERT_GE(sd_bus_add_match(watcher_.get(), &slot,
                               "type='signal',sender='org.freedesktop.DBus',"
                               "member='NameOwnerChanged',arg0='org.freedesktop.Notifications'",
                               &DbusmockTest::on_owner_changed, &server_up_),
              0);
    watch_slot_.reset(slot);
    mock_ = ChildProcess::start(argv, {"DBUS_SESSION_BUS_ADDRESS=" + bus_->address()});
    ASSERT_TRUE(mock_.has_value());
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!server_up_ && std::chrono::steady_clock::now() < deadline) {
      while (sd_bus_process(watcher_.get(), nullptr) > 0) {
      }
      if (!server_up_) {
        sd_bus_wait(watcher_.get(), 100'000);  // returns at once on a message
      }
    }
    ASSERT_TRUE(server_up_) << "dbusmock did not take " << kServerName;
  }

  static int on_owner_changed(sd_bus_message* m, void* up, sd_bus_error*) {
    const char* name = nullptr;
    const char* old_owner = nullptr;
    const char* new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && *new_owner != '\0') {
      *static_cast<bool*>(up) = true;
    }
    return 0;
  }

  // Makes dbusmock emit a signal through its org.freedesktop.DBus.Mock interface.
  void mock_emit_action_invoked(uint32_t id, const char* action) {
    SdBusError error;
    int r =
        sd_bus_call_method(watcher_.get(), kServerName, kServerPath, "org.freedesktop.DBus.Mock",
                           "EmitSignal", error.get(), nullptr, "sssav", kServerInterface,
                           "ActionInvoked", "us", 2, "u", id, "s", action);
    ASSERT_GE(r, 0) << error.describe(r);
  }

  std::string log_contents() const {
    std::ifstream log(log_path_);
    std::stringstream contents;
    contents << log.rdbuf();
    return contents.str();
  }

  void SetUp() override {
    DbusNotifierTest::SetUp();
    if (access(kPython, X_OK) != 0 ||
        std::system("/usr/bin/python3 -c 'import dbusmock' 2>/dev/null") != 0) {
      GTEST_SKIP() << "python3-dbusmock is not installed";
    }
  }

  void TearDown() override {
    notifier_.reset();
    mock_.reset();
  }

  std::string log_path_;
  SdBusPtr watcher_;
  SdBusSlotPtr watch_slot_;
  bool server_up_ = false;
  std::optional<ChildProcess> mock_;
};

TEST_F(DbusmockTest, WorksWithDbusmocksNotificationDaemon) {
  start_dbusmock();
  make_notifier();

  uint32_t first = show(full_notification());
  uint32_t replaced = show(full_notification());
  uint32_t second = show(simple_notification());

  EXPECT_EQ(first, 1u);
  EXPECT_EQ(replaced, first);
  EXPECT_EQ(second, 2u);
  auto capabilities = notifier_->capabilities();
  ASSERT_TRUE(capabilities.has_value());
  EXPECT_THAT(*capabilities, ::testing::Contains("body-markup"));
  std::string log = log_contents();
  // dbusmock logs each call's arguments; the body went out escaped, the summary literally.
  EXPECT_THAT(log, HasSubstr("Save your work &lt;now&gt; &amp; &quot;then&quot; restart"));
  EXPECT_THAT(log, HasSubstr("<b>Update</b> & restart"));

  mock_emit_action_invoked(first, "default");
  ASSERT_TRUE(run_until(io_, [&] { return !actions_.empty(); }));
  EXPECT_THAT(actions_, ElementsAre(Pair(first, "default")));
  EXPECT_THAT(*opened_urls_, ElementsAre("https://it.example.com/update?id=7"));
}

TEST_F(DbusmockTest, SendsPlainBodiesToAServerWithoutMarkup) {
  start_dbusmock({"-p", R"({"capabilities": "body actions"})"});
  make_notifier();

  show(full_notification());

  EXPECT_THAT(log_contents(), HasSubstr(R"("Save your work <now> & "then" restart")"));
}

// ---------------------------------------------------------------------------------------------
// URL opening

TEST(CheckUrlIsOpenableTest, AcceptsWebAndMailLinks) {
  for (const char* url :
       {"http://example.com", "https://it.example.com/update?id=7&x=%20", "HTTPS://Example.com/",
        "https://[::1]:8443/x", "mailto:help@example.com", "https://例え.jp/パス"}) {
    EXPECT_TRUE(check_url_is_openable(url).has_value()) << url;
  }
}

TEST(CheckUrlIsOpenableTest, RejectsEverythingElseWithAReason) {
  struct Case {
    const char* url;
    const char* reason;
  };
  for (Case c :
       {Case{"", "empty"}, Case{"file:///etc/passwd", "scheme \"file\" is not opened"},
        Case{"javascript:alert(1)", "scheme \"javascript\""},
        Case{"smb://server/share", "scheme \"smb\""}, Case{"example.com", "no scheme"},
        Case{"-h", "no scheme"}, Case{":foo", "no scheme"}, Case{"https:/etc/passwd", "no host"},
        Case{"https:///x", "no host"}, Case{"http://", "no host"}, Case{"mailto:", "no address"},
        Case{"https://example.com/a b", "whitespace"},
        Case{"https://example.com/\n--help", "control"}}) {
    auto result = check_url_is_openable(c.url);
    ASSERT_FALSE(result.has_value()) << c.url;
    EXPECT_THAT(result.error(), HasSubstr(c.reason)) << c.url;
  }
  EXPECT_THAT(check_url_is_openable(std::string(9000, 'a')).error(), HasSubstr("longer"));
}

TEST(AddMissingDisplayVariablesTest, TakesOnlyDisplayVariablesWeLack) {
  std::vector<std::string> merged = add_missing_display_variables(
      {"HOME=/home/alice", "DISPLAY=:1"},
      {"DISPLAY=:0", "WAYLAND_DISPLAY=wayland-1", "XAUTHORITY=/run/user/1000/xauth", "FOO=bar",
       "XDG_CURRENT_DESKTOP=sway"});

  EXPECT_THAT(merged, ElementsAre("HOME=/home/alice", "DISPLAY=:1", "WAYLAND_DISPLAY=wayland-1",
                                  "XAUTHORITY=/run/user/1000/xauth", "XDG_CURRENT_DESKTOP=sway"));
}

TEST(RefreshDisplayVariablesTest, TheSessionAsItIsNowWinsOverWhatTheAgentInherited) {
  // Launched before the desktop: the agent inherited another session's DISPLAY, and no
  // WAYLAND_DISPLAY; the session's processes now show its own display.
  std::vector<std::string> refreshed =
      refresh_display_variables({"HOME=/home/alice", "DISPLAY=:0", "XAUTHORITY=/old"},
                                {"DISPLAY=:1", "XDG_CURRENT_DESKTOP=sway", "FOO=bar"});

  EXPECT_THAT(refreshed, ElementsAre("HOME=/home/alice", "XAUTHORITY=/old", "DISPLAY=:1",
                                     "XDG_CURRENT_DESKTOP=sway"));
  EXPECT_THAT(refresh_display_variables({"DISPLAY=:0"}, {}), ElementsAre("DISPLAY=:0"))
      << "nothing known now: keep what we have";
}

// Sets or unsets variables for one test, and puts the old values back.
class ScopedEnvironment {
 public:
  void set(const char* name, const char* value) {
    save(name);
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, 1);
    }
  }
  ~ScopedEnvironment() {
    for (auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  void save(const char* name) {
    const char* value = std::getenv(name);
    saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

class XdgUrlOpenerTest : public DbusNotifierTest {
 protected:
  // A stand-in for xdg-open that writes down how it was started.
  std::string write_fake_program(int watched_fd) {
    std::string program = bus_->dir() + "/fake-xdg-open";
    output_path_ = bus_->dir() + "/opened";
    std::ofstream(program) << fmt::format(R"(#!/bin/sh
{{
  echo "argc=$#"
  echo "url=$1"
  echo "pid=$$"
  echo "DISPLAY=$DISPLAY"
  echo "WAYLAND_DISPLAY=$WAYLAND_DISPLAY"
  echo "XAUTHORITY=$XAUTHORITY"
  if [ -e /proc/$$/fd/{} ]; then echo "leaked=yes"; else echo "leaked=no"; fi
}} > "{}"
)",
                                          watched_fd, output_path_);
    chmod(program.c_str(), 0755);
    return program;
  }

  std::map<std::string, std::string> read_output() const {
    std::map<std::string, std::string> values;
    std::ifstream output(output_path_);
    std::string line;
    while (std::getline(output, line)) {
      auto equals = line.find('=');
      if (equals != std::string::npos) {
        values[line.substr(0, equals)] = line.substr(equals + 1);
      }
    }
    return values;
  }

  std::string output_path_;
};

TEST_F(XdgUrlOpenerTest, AsksTheUsersManagerToRunTheOpenerWithTheSessionsDisplay) {
  start_server({.serve_user_manager = true,
                .manager_environment = {"HOME=/nowhere", "DISPLAY=:7", "WAYLAND_DISPLAY=wayland-7",
                                        "XAUTHORITY=/tmp/xauth-7"}});
  ScopedEnvironment environment;
  environment.set("DISPLAY", nullptr);
  environment.set("WAYLAND_DISPLAY", nullptr);
  environment.set("XAUTHORITY", "/home/alice/.Xauthority");  // ours wins when we have one
  std::string program = write_fake_program(999);
  environment.set("PATH", ("relative:" + bus_->dir()).c_str());
  bool spawned = false;
  XdgUrlOpener opener(io_,
                      {.program = "fake-xdg-open",
                       .connect_user_manager = [this]() -> std::expected<SdBusPtr, std::string> {
                         return bus_->connect();
                       },
                       .on_exit = [&](int) { spawned = true; }});

  auto opened = opener.open("https://it.example.com/update?id=7&next=$(reboot)");

  ASSERT_TRUE(opened.has_value()) << opened.error();
  auto units = server_->transient_units();
  ASSERT_EQ(units.size(), 1U);
  EXPECT_THAT(units[0].name, MatchesRegex(R"(app-liaison-open-[0-9]+-1\.service)"));
  EXPECT_EQ(units[0].type, "exec");
  EXPECT_THAT(units[0].exec_start,
              ElementsAre(program, "https://it.example.com/update?id=7&next=$(reboot)"));
  EXPECT_THAT(units[0].environment, UnorderedElementsAre("DISPLAY=:7", "WAYLAND_DISPLAY=wayland-7",
                                                         "XAUTHORITY=/home/alice/.Xauthority"));
  ASSERT_TRUE(opener.open("https://example.com").has_value());
  EXPECT_THAT(server_->transient_units().at(1).name, EndsWith("-2.service"));
  io_.poll();
  EXPECT_FALSE(spawned);  // the manager runs it, not the agent
  EXPECT_FALSE(std::filesystem::exists(output_path_));
}

TEST_F(XdgUrlOpenerTest, SaysWhenTheOpenerIsNotInPathAndAsksTheManagerNothing) {
  start_server({.serve_user_manager = true});
  ScopedEnvironment environment;
  environment.set("PATH", "/nonexistent:/usr/bin");
  XdgUrlOpener opener(io_,
                      {.program = "no-such-xdg-open",
                       .connect_user_manager = [this]() -> std::expected<SdBusPtr, std::string> {
                         return bus_->connect();
                       }});

  auto opened = opener.open("https://example.com");

  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), "cannot start no-such-xdg-open: not found in PATH");
  EXPECT_TRUE(server_->transient_units().empty());
}

TEST_F(XdgUrlOpenerTest, SpawnsTheOpenerItselfWhenTheManagerRefusesAndReapsIt) {
  start_server({.serve_user_manager = true,
                .manager_environment = {"HOME=/nowhere", "DISPLAY=:7", "WAYLAND_DISPLAY=wayland-7",
                                        "XAUTHORITY=/tmp/xauth-7"},
                .refuse_transient_units = true});
  ScopedEnvironment environment;
  environment.set("DISPLAY", nullptr);
  environment.set("WAYLAND_DISPLAY", nullptr);
  environment.set("XAUTHORITY", "/home/alice/.Xauthority");
  int leak_probe[2];
  ASSERT_EQ(pipe(leak_probe), 0);  // no O_CLOEXEC, like asio's sockets
  UniqueFd probe_read(leak_probe[0]);
  UniqueFd probe_write(leak_probe[1]);
  std::optional<int> exit_status;
  XdgUrlOpener opener(io_,
                      {.program = write_fake_program(probe_write.get()),
                       .connect_user_manager = [this]() -> std::expected<SdBusPtr, std::string> {
                         return bus_->connect();
                       },
                       .on_exit = [&](int status) { exit_status = status; }});

  auto opened = opener.open("https://it.example.com/update?id=7&next=$(reboot)");
  ASSERT_TRUE(opened.has_value()) << opened.error();
  ASSERT_TRUE(run_until(io_, [&] { return exit_status.has_value(); }));

  int wait_status = *exit_status;  // NOLINT(bugprone-unchecked-optional-access): run_until above
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
  auto output = read_output();
  EXPECT_EQ(output["argc"], "1");
  EXPECT_EQ(output["url"], "https://it.example.com/update?id=7&next=$(reboot)");
  EXPECT_EQ(output["DISPLAY"], ":7");
  EXPECT_EQ(output["WAYLAND_DISPLAY"], "wayland-7");
  EXPECT_EQ(output["XAUTHORITY"], "/home/alice/.Xauthority");
  EXPECT_EQ(output["leaked"], "no");
  pid_t pid = std::stoi(output["pid"]);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);  // already reaped: no zombie
  EXPECT_EQ(errno, ECHILD);
  EXPECT_TRUE(server_->transient_units().empty());
}

TEST_F(XdgUrlOpenerTest, OpensWithItsOwnEnvironmentWhenTheManagerIsUnreachable) {
  ScopedEnvironment environment;
  environment.set("DISPLAY", ":3");
  std::optional<int> exit_status;
  XdgUrlOpener opener(io_, {.program = write_fake_program(999),
                            .connect_user_manager = []() -> std::expected<SdBusPtr, std::string> {
                              return std::unexpected("no manager in this test");
                            },
                            .on_exit = [&](int status) { exit_status = status; }});

  ASSERT_TRUE(opener.open("http://example.com").has_value());
  ASSERT_TRUE(run_until(io_, [&] { return exit_status.has_value(); }));

  EXPECT_EQ(read_output()["DISPLAY"], ":3");
}

TEST_F(XdgUrlOpenerTest, RefusesOtherSchemesWithoutStartingAnything) {
  bool started = false;
  XdgUrlOpener opener(io_, {.program = "/nonexistent/xdg-open",
                            .connect_user_manager = [&]() -> std::expected<SdBusPtr, std::string> {
                              started = true;
                              return std::unexpected("unused");
                            }});

  auto opened = opener.open("file:///etc/shadow");

  ASSERT_FALSE(opened.has_value());
  EXPECT_THAT(opened.error(), HasSubstr("scheme \"file\" is not opened"));
  EXPECT_FALSE(started);
}

TEST_F(XdgUrlOpenerTest, SaysWhenTheOpenerIsMissing) {
  XdgUrlOpener opener(io_, {.program = "/nonexistent/xdg-open", .connect_user_manager = {}});

  auto opened = opener.open("https://example.com");

  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), "cannot start /nonexistent/xdg-open: No such file or directory");
}

}  // namespace
}  // namespace liaison::platform
