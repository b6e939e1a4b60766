// agent::Notifier over org.freedesktop.Notifications on the session bus (Desktop Notifications
// Specification 1.2): dunst, mako, GNOME Shell, Plasma, xfce4-notifyd, ...
//
// Events: on_action and on_closed only for notifications this notifier showed (the server
// broadcasts its signals to every client). When the server exits or is replaced, each of its
// notifications still on screen gets on_closed(kUndefined): they are gone with it. A click on
// the body ("default"), or on any action when the URL's is the only one, also opens action_url
// (http, https and mailto only) through the UrlOpener.
//
// Single-threaded: call everything on the thread that runs the io_context given to attach().
// The events arrive from that io_context, inside bus processing: they may call show(), but must
// not destroy the notifier (post that instead).
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/notifier.h"
#include "platform/linux/sd_bus_asio.h"
#include "platform/linux/sd_bus_ptr.h"
#include "platform/linux/url_opener.h"

namespace asio {
class io_context;
}  // namespace asio

namespace liaison::platform {

// GetServerInformation's answer, for `liaison doctor`.
struct NotificationServerInformation {
  std::string name;  // "dunst", "mako", "gnome-shell", ...
  std::string vendor;
  std::string version;
  std::string spec_version;  // the Desktop Notifications spec version it implements ("1.2")
};

// Connects to the session bus of the session we run in ($DBUS_SESSION_BUS_ADDRESS, else
// $XDG_RUNTIME_DIR/bus); the error says where it looked.
std::expected<SdBusPtr, std::string> open_session_bus();

class DbusNotifier final : public agent::Notifier {
 public:
  // Connects to the session bus of the session we run in ($DBUS_SESSION_BUS_ADDRESS, else
  // $XDG_RUNTIME_DIR/bus) and subscribes to the server's signals. No server needs to run yet: one
  // is looked for at each show(). Clicked URLs open with an XdgUrlOpener made by attach().
  static std::expected<std::unique_ptr<DbusNotifier>, std::string> connect(
      agent::NotifierEvents events);

  // The same on a bus the caller opened (tests: a private bus daemon). `url_opener` null: an
  // XdgUrlOpener made by attach().
  static std::expected<std::unique_ptr<DbusNotifier>, std::string> connect_on_bus(
      SdBusPtr bus, agent::NotifierEvents events, std::unique_ptr<UrlOpener> url_opener = nullptr);

  ~DbusNotifier() override;
  DbusNotifier(const DbusNotifier&) = delete;
  DbusNotifier& operator=(const DbusNotifier&) = delete;

  // Drives the bus from `io` (see SdBusAsio): without it no event is ever delivered. Call once;
  // `io` must outlive the notifier. `on_bus_lost` is told when the session bus goes away for
  // good (the session ended): the agent cannot notify any more and should exit.
  // `opener` configures the default URL opener (when none was given to connect_on_bus).
  std::expected<void, std::string> attach(
      asio::io_context& io, std::function<void(const std::string& reason)> on_bus_lost = {},
      XdgUrlOpenerOptions opener = {});

  // Notify(app_name, replaces_id, icon, title, body, actions, hints, timeout); a dedup_id still on
  // screen is replaced. The body is escaped for servers that read it as markup; the title never
  // is (the spec has it plain). Blocks for one round trip (5 s at most), plus GetCapabilities the
  // first time.
  std::expected<uint32_t, std::string> show(const agent::Notification& notification) override;

  // GetServerInformation, asked each time.
  std::expected<NotificationServerInformation, std::string> server_information();

  // GetCapabilities, asked once per server and remembered ("actions", "body-markup", ...).
  std::expected<std::vector<std::string>, std::string> capabilities();

  // Our notifications still on screen (for tests and `doctor`).
  size_t notifications_on_screen() const { return shown_.size(); }

 private:
  // What a shown notification needs when the server reports on it.
  struct Shown {
    std::string dedup_id;
    std::string action_url;
    bool url_is_only_action = false;
    // The server connection and the serial of its Notify reply: a signal it sent before that
    // reply is about the notification this one replaced, and is ignored.
    std::string server;
    uint64_t reply_serial = 0;
  };

  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  DbusNotifier(PrivateTag, SdBusPtr bus, agent::NotifierEvents events,
               std::unique_ptr<UrlOpener> url_opener);

 private:
  std::expected<void, std::string> subscribe();
  std::expected<SdBusMessagePtr, std::string> call_server(const char* method, SdBusMessagePtr call);
  std::expected<SdBusMessagePtr, std::string> build_notify_call(
      const agent::Notification& notification, uint32_t replaces_id);
  void remember(uint32_t id, const agent::Notification& notification, sd_bus_message* reply);
  void forget(uint32_t id);
  bool is_stale(const Shown& shown, sd_bus_message* signal) const;

  static int handle_action_invoked(sd_bus_message* signal, void* self, sd_bus_error* error);
  static int handle_notification_closed(sd_bus_message* signal, void* self, sd_bus_error* error);
  static int handle_owner_changed(sd_bus_message* signal, void* self, sd_bus_error* error);
  void on_action_invoked(sd_bus_message* signal);
  void on_notification_closed(sd_bus_message* signal);
  void on_server_gone(const std::string& server);
  void open_url(const std::string& url);

  SdBusPtr bus_;
  agent::NotifierEvents events_;
  std::unique_ptr<UrlOpener> url_opener_;
  std::unique_ptr<SdBusAsio> driver_;
  std::vector<SdBusSlotPtr> subscriptions_;
  std::optional<std::vector<std::string>> capabilities_;
  std::string capabilities_server_;            // the unique bus name that answered GetCapabilities
  std::unordered_map<uint32_t, Shown> shown_;  // server id -> what we showed under it
  std::unordered_map<std::string, uint32_t> id_by_dedup_id_;
};

}  // namespace liaison::platform
