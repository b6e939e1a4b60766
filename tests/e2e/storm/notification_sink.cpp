// The notification server of a login-storm session (tests/e2e/test_storm.py, bench/storm.py):
// owns org.freedesktop.Notifications on the user's real session bus, answers Notify with a fresh
// id, and appends one line per notification to a log -- "<CLOCK_REALTIME ns> <id> <summary>" --
// so a benchmark can tell when each server received a broadcast. Small on purpose (one process,
// about a megabyte): a storm measures liaison, not the notification server. Not installed.
//
// Usage: liaison-test-notification-sink LOG_FILE
#include <fcntl.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

int log_fd = -1;
uint32_t last_id = 0;

int64_t realtime_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout) -> id
int notify(sd_bus_message* message, void*, sd_bus_error*) {
  const int64_t received = realtime_ns();
  const char* app = nullptr;
  uint32_t replaces = 0;
  const char* icon = nullptr;
  const char* summary = nullptr;
  if (int r = sd_bus_message_read(message, "susss", &app, &replaces, &icon, &summary, nullptr);
      r < 0) {
    return r;
  }
  const uint32_t id = replaces != 0 ? replaces : ++last_id;
  std::string line = std::to_string(received) + " " + std::to_string(id) + " ";
  for (const char* c = summary; *c != '\0'; ++c) {
    line += (*c == '\n' || *c == '\r') ? ' ' : *c;  // one line per notification
  }
  line += '\n';
  if (::write(log_fd, line.data(), line.size()) < 0) {
    std::perror("notification sink: write");
  }
  return sd_bus_reply_method_return(message, "u", id);
}

int close_notification(sd_bus_message* message, void*, sd_bus_error*) {
  return sd_bus_reply_method_return(message, "");
}

int capabilities(sd_bus_message* message, void*, sd_bus_error*) {
  return sd_bus_reply_method_return(message, "as", 2, "body", "actions");
}

int server_information(sd_bus_message* message, void*, sd_bus_error*) {
  return sd_bus_reply_method_return(message, "ssss", "liaison-test-notification-sink", "liaison",
                                    "1.0", "1.2");
}

const sd_bus_vtable kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Notify", "susssasa{sv}i", "u", notify, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("CloseNotification", "u", "", close_notification, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetCapabilities", "", "as", capabilities, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetServerInformation", "", "ssss", server_information,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("NotificationClosed", "uu", 0),
    SD_BUS_SIGNAL("ActionInvoked", "us", 0),
    SD_BUS_VTABLE_END};

int fail(const char* what, int r) {
  std::fprintf(stderr, "notification sink: %s: %s\n", what, std::strerror(-r));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s LOG_FILE\n", argv[0]);
    return 2;
  }
  log_fd = ::open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    std::perror(argv[1]);
    return 1;
  }
  sd_bus* bus = nullptr;
  if (int r = sd_bus_open_user(&bus); r < 0) return fail("sd_bus_open_user", r);
  if (int r = sd_bus_add_object_vtable(bus, nullptr, "/org/freedesktop/Notifications",
                                       "org.freedesktop.Notifications", kVtable, nullptr);
      r < 0) {
    return fail("sd_bus_add_object_vtable", r);
  }
  if (int r = sd_bus_request_name(bus, "org.freedesktop.Notifications", 0); r < 0) {
    return fail("sd_bus_request_name", r);
  }
  for (;;) {
    int r = sd_bus_process(bus, nullptr);
    if (r < 0) return fail("sd_bus_process", r);
    if (r > 0) continue;
    r = sd_bus_wait(bus, UINT64_MAX);
    if (r < 0 && r != -EINTR) return fail("sd_bus_wait", r);
  }
}
