// The raw library call under `liaison notify`'s last hop (bench/notify_driver.py, kind "direct"):
// a process already in the user's session, with its session-bus connection already open, calls
// org.freedesktop.Notifications.Notify through sd-bus -- what liaison's agent does per
// notification, without the daemon and the agent in front. One title per line on stdin; after
// each Notify returns it writes "ok" (or "error: ...") on stdout. Not installed: the bench copies
// it into its container.
//
// Usage (as the user, in the session): liaison-bench-notify-direct APP_NAME
#include <systemd/sd-bus.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

namespace {

// sd-bus handles, freed on every path out.
struct Bus {
  sd_bus* bus = nullptr;
  ~Bus() { sd_bus_flush_close_unref(bus); }
};
struct Reply {
  sd_bus_message* message = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  ~Reply() {
    sd_bus_message_unref(message);
    sd_bus_error_free(&error);
  }
};

std::string notify(sd_bus* bus, const char* app_name, const std::string& title) {
  Reply reply;
  const int r =
      sd_bus_call_method(bus, "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                         "org.freedesktop.Notifications", "Notify", &reply.error, &reply.message,
                         "susssasa{sv}i", app_name, 0u, "", title.c_str(), "bench", 0, 0, -1);
  if (r < 0) {
    return std::string("error: ") + (reply.error.message ? reply.error.message : strerror(-r));
  }
  return "ok";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s APP_NAME\n", argv[0]);
    return 2;
  }
  Bus bus;
  if (int r = sd_bus_open_user(&bus.bus); r < 0) {
    std::fprintf(stderr, "cannot connect to the session bus: %s\n", strerror(-r));
    return 1;
  }
  std::string title;
  while (std::getline(std::cin, title)) {
    std::cout << notify(bus.bus, argv[1], title) << std::endl;
  }
  return 0;
}
