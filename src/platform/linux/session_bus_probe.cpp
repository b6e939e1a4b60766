#include "platform/linux/session_bus_probe.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>

namespace liaison::platform {
namespace {

using protocol::Finding;
using protocol::Json;

Json display_environment() {
  Json facts = Json::object();
  for (const char* name : {"DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "XDG_SESSION_ID"}) {
    const char* value = std::getenv(name);
    facts[name] = value != nullptr ? Json(value) : Json(nullptr);
  }
  return facts;
}

Finding check_bus(sd_bus* bus) {
  const char* address = nullptr;
  const char* unique_name = nullptr;
  sd_bus_get_address(bus, &address);
  sd_bus_get_unique_name(bus, &unique_name);
  Json facts = {{"address", address != nullptr ? address : ""},
                {"unique_name", unique_name != nullptr ? unique_name : ""},
                {"environment", display_environment()}};
  return Finding::ok("session-bus",
                     fmt::format("reachable at {} as {}", address != nullptr ? address : "?",
                                 unique_name != nullptr ? unique_name : "?"),
                     std::move(facts));
}

Finding check_server(SdBusPtr bus) {
  auto notifier = DbusNotifier::connect_on_bus(std::move(bus), agent::NotifierEvents{});
  if (!notifier) {
    return Finding::fail("notification-server", notifier.error(),
                         "the session bus refused a match rule: check the bus's policy");
  }
  auto information = (*notifier)->server_information();
  if (!information) {
    return Finding::fail(
        "notification-server", information.error(),
        "start a notification server in this session (dunst, mako, GNOME Shell, Plasma, "
        "xfce4-notifyd) or enable the desktop's own");
  }
  auto capabilities = (*notifier)->capabilities();
  if (!capabilities) {
    return Finding::fail("notification-server", capabilities.error(),
                         "the notification server answers GetServerInformation but not "
                         "GetCapabilities: restart it or try another server");
  }
  Json facts = {{"name", information->name},
                {"vendor", information->vendor},
                {"version", information->version},
                {"spec_version", information->spec_version},
                {"capabilities", *capabilities}};
  std::string detail = fmt::format(
      "{} {} by {}, spec {}; capabilities: {}", information->name, information->version,
      information->vendor, information->spec_version,
      capabilities->empty() ? "none" : fmt::format("{}", fmt::join(*capabilities, " ")));
  const bool has_actions =
      std::find(capabilities->begin(), capabilities->end(), "actions") != capabilities->end();
  if (!has_actions) {
    return Finding::warn("notification-server",
                         detail + " (no \"actions\": buttons and clicks are not reported)",
                         "use a server that supports actions (dunst, mako, GNOME Shell, Plasma) "
                         "for --action and --wait-action",
                         std::move(facts));
  }
  return Finding::ok("notification-server", std::move(detail), std::move(facts));
}

}  // namespace

std::vector<Finding> SessionBusProbe::examine() {
  auto bus = open_bus_();
  if (!bus) {
    return {Finding::fail("session-bus", bus.error(),
                          "the user's bus is not running: check `systemctl --user -M "
                          "<user>@ status dbus.socket` (package dbus-user-session)",
                          {{"environment", display_environment()}})};
  }
  std::vector<Finding> findings{check_bus(bus->get())};
  findings.push_back(check_server(std::move(*bus)));
  return findings;
}

}  // namespace liaison::platform
