#include "platform/linux/dbus_notifier.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <utility>

#include "agent/markup.h"
#include "common/log.h"

namespace liaison::platform {
namespace {

constexpr const char* kServerName = "org.freedesktop.Notifications";
constexpr const char* kServerPath = "/org/freedesktop/Notifications";
constexpr const char* kServerInterface = "org.freedesktop.Notifications";
constexpr const char* kDefaultAction = "default";
constexpr const char* kDefaultActionLabel = "Open";

// Long enough for a server that is being started by bus activation, short enough that a hung
// server does not stall the agent's loop for long.
constexpr uint64_t kCallTimeoutUsec = 5'000'000;

constexpr const char* kOwnerChangedRule =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
    "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
    "arg0='org.freedesktop.Notifications'";

std::string errno_text(int negative_errno) {
  return std::generic_category().message(-negative_errno);
}

// Where sd_bus_open_user looked, for an error an admin can act on.
std::string session_bus_location() {
  if (const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS"); address != nullptr) {
    return fmt::format("DBUS_SESSION_BUS_ADDRESS={}", address);
  }
  if (const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR"); runtime_dir != nullptr) {
    return fmt::format("{}/bus", runtime_dir);
  }
  return "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set";
}

std::string describe_call_failure(const char* method, const SdBusError& error, int result) {
  std::string detail = error.describe(result);
  if (error.has_name(SD_BUS_ERROR_SERVICE_UNKNOWN) ||
      error.has_name(SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
    return fmt::format("no notification server on the session bus ({}): {}", kServerName, detail);
  }
  if (result == -ETIMEDOUT || error.has_name(SD_BUS_ERROR_NO_REPLY) ||
      error.has_name(SD_BUS_ERROR_TIMEOUT)) {
    return fmt::format("the notification server ({}) did not answer {} within {} s: {}",
                       kServerName, method, kCallTimeoutUsec / 1'000'000, detail);
  }
  if (result == -ENOTCONN || result == -ECONNRESET) {
    return fmt::format("the session bus connection is gone: {}", detail);
  }
  return fmt::format("{}.{} failed: {}", kServerInterface, method, detail);
}

uint8_t urgency_byte(agent::Urgency urgency) {
  switch (urgency) {
    case agent::Urgency::kLow:
      return 0;
    case agent::Urgency::kNormal:
      return 1;
    case agent::Urgency::kCritical:
      return 2;
  }
  return 1;
}

agent::CloseReason close_reason_from_spec(uint32_t reason) {
  switch (reason) {
    case 1:
      return agent::CloseReason::kExpired;
    case 2:
      return agent::CloseReason::kDismissed;
    case 3:
      return agent::CloseReason::kClosed;
    default:
      return agent::CloseReason::kUndefined;
  }
}

bool contains(const std::vector<std::string>& values, std::string_view wanted) {
  for (const std::string& value : values) {
    if (value == wanted) {
      return true;
    }
  }
  return false;
}

std::expected<SdBusMessagePtr, std::string> new_server_call(sd_bus* bus, const char* method) {
  sd_bus_message* raw = nullptr;
  int result =
      sd_bus_message_new_method_call(bus, &raw, kServerName, kServerPath, kServerInterface, method);
  if (result < 0) {
    return std::unexpected(
        fmt::format("cannot create the {} call: {}", method, errno_text(result)));
  }
  return SdBusMessagePtr(raw);
}

// Appends Notify's `as actions`: the URL's "default" first, so servers that show buttons list it
// first, then the admin's actions in order.
int append_actions(sd_bus_message* call, const agent::Notification& notification) {
  int result = sd_bus_message_open_container(call, 'a', "s");
  if (result < 0) {
    return result;
  }
  if (!notification.action_url.empty()) {
    result = sd_bus_message_append(call, "ss", kDefaultAction, kDefaultActionLabel);
    if (result < 0) {
      return result;
    }
  }
  for (const auto& [id, label] : notification.actions) {
    result = sd_bus_message_append(call, "ss", id.c_str(), label.c_str());
    if (result < 0) {
      return result;
    }
  }
  return sd_bus_message_close_container(call);
}

// Appends Notify's `a{sv} hints`.
int append_hints(sd_bus_message* call, const agent::Notification& notification) {
  int result = sd_bus_message_open_container(call, 'a', "{sv}");
  if (result < 0) {
    return result;
  }
  result = sd_bus_message_append(call, "{sv}", "urgency", "y", urgency_byte(notification.urgency));
  if (result < 0) {
    return result;
  }
  if (!notification.desktop_entry.empty()) {
    result = sd_bus_message_append(call, "{sv}", "desktop-entry", "s",
                                   notification.desktop_entry.c_str());
    if (result < 0) {
      return result;
    }
  }
  return sd_bus_message_close_container(call);
}

}  // namespace

std::expected<SdBusPtr, std::string> open_session_bus() {
  sd_bus* raw = nullptr;
  int result = sd_bus_open_user(&raw);
  if (result < 0) {
    return std::unexpected(fmt::format("cannot connect to the session bus ({}): {}",
                                       session_bus_location(), errno_text(result)));
  }
  return SdBusPtr(raw);
}

std::expected<std::unique_ptr<DbusNotifier>, std::string> DbusNotifier::connect(
    agent::NotifierEvents events) {
  auto bus = open_session_bus();
  if (!bus) {
    return std::unexpected(bus.error());
  }
  sd_bus_set_description(bus->get(), "liaison-notifier");
  return connect_on_bus(std::move(*bus), std::move(events));
}

std::expected<std::unique_ptr<DbusNotifier>, std::string> DbusNotifier::connect_on_bus(
    SdBusPtr bus, agent::NotifierEvents events, std::unique_ptr<UrlOpener> url_opener) {
  auto notifier = std::make_unique<DbusNotifier>(PrivateTag(), std::move(bus), std::move(events),
                                                 std::move(url_opener));
  if (auto subscribed = notifier->subscribe(); !subscribed) {
    return std::unexpected(subscribed.error());
  }
  return notifier;
}

DbusNotifier::DbusNotifier(PrivateTag, SdBusPtr bus, agent::NotifierEvents events,
                           std::unique_ptr<UrlOpener> url_opener)
    : bus_(std::move(bus)), events_(std::move(events)), url_opener_(std::move(url_opener)) {}

DbusNotifier::~DbusNotifier() {
  // Match slots first (their RemoveMatch goes out while the bus is open), then the loop's hold on
  // the fd, then the bus itself (bus_, declared first, goes last).
  subscriptions_.clear();
  driver_.reset();
}

// Subscribes before the first Notify, so no signal about our notifications can be missed. The
// sender match is the well-known name: the bus daemon resolves it to the current owner.
std::expected<void, std::string> DbusNotifier::subscribe() {
  struct Match {
    const char* member;
    sd_bus_message_handler_t handler;
  };
  for (Match match : {Match{"ActionInvoked", &DbusNotifier::handle_action_invoked},
                      Match{"NotificationClosed", &DbusNotifier::handle_notification_closed}}) {
    sd_bus_slot* slot = nullptr;
    int result = sd_bus_match_signal(bus_.get(), &slot, kServerName, kServerPath, kServerInterface,
                                     match.member, match.handler, this);
    if (result < 0) {
      return std::unexpected(fmt::format("cannot subscribe to {}.{} on the session bus: {}",
                                         kServerInterface, match.member, errno_text(result)));
    }
    subscriptions_.emplace_back(slot);
  }
  sd_bus_slot* slot = nullptr;
  int result = sd_bus_add_match(bus_.get(), &slot, kOwnerChangedRule,
                                &DbusNotifier::handle_owner_changed, this);
  if (result < 0) {
    return std::unexpected(
        fmt::format("cannot watch {} on the session bus: {}", kServerName, errno_text(result)));
  }
  subscriptions_.emplace_back(slot);
  return {};
}

std::expected<void, std::string> DbusNotifier::attach(
    asio::io_context& io, std::function<void(const std::string& reason)> on_bus_lost,
    XdgUrlOpenerOptions opener) {
  if (driver_) {
    return std::unexpected("the notifier is already attached to an event loop");
  }
  if (!url_opener_) {
    url_opener_ = std::make_unique<XdgUrlOpener>(io, std::move(opener));
  }
  auto driver = SdBusAsio::attach(io, bus_.get(), std::move(on_bus_lost));
  if (!driver) {
    return std::unexpected(driver.error());
  }
  driver_ = std::move(*driver);
  return {};
}

std::expected<SdBusMessagePtr, std::string> DbusNotifier::call_server(const char* method,
                                                                      SdBusMessagePtr call) {
  SdBusError error;
  sd_bus_message* reply = nullptr;
  int result = sd_bus_call(bus_.get(), call.get(), kCallTimeoutUsec, error.get(), &reply);
  // While waiting, sd-bus may have queued signals that the fd will not announce again.
  if (driver_) {
    driver_->process_soon();
  }
  if (result < 0) {
    return std::unexpected(describe_call_failure(method, error, result));
  }
  return SdBusMessagePtr(reply);
}

std::expected<std::vector<std::string>, std::string> DbusNotifier::capabilities() {
  if (capabilities_) {
    return *capabilities_;
  }
  auto call = new_server_call(bus_.get(), "GetCapabilities");
  if (!call) {
    return std::unexpected(call.error());
  }
  auto reply = call_server("GetCapabilities", std::move(*call));
  if (!reply) {
    return std::unexpected(reply.error());
  }
  char** raw = nullptr;
  if (int result = sd_bus_message_read_strv(reply->get(), &raw); result < 0) {
    return std::unexpected(fmt::format(
        "malformed GetCapabilities reply from the notification server: {}", errno_text(result)));
  }
  StrvPtr strv(raw);
  std::vector<std::string> capabilities;
  for (char** entry = strv.get(); entry != nullptr && *entry != nullptr; ++entry) {
    capabilities.emplace_back(*entry);
  }
  capabilities_ = std::move(capabilities);
  const char* server = sd_bus_message_get_sender(reply->get());
  capabilities_server_ = server != nullptr ? server : "";
  return *capabilities_;
}

std::expected<NotificationServerInformation, std::string> DbusNotifier::server_information() {
  auto call = new_server_call(bus_.get(), "GetServerInformation");
  if (!call) {
    return std::unexpected(call.error());
  }
  auto reply = call_server("GetServerInformation", std::move(*call));
  if (!reply) {
    return std::unexpected(reply.error());
  }
  const char* name = nullptr;
  const char* vendor = nullptr;
  const char* version = nullptr;
  const char* spec_version = nullptr;
  int result = sd_bus_message_read(reply->get(), "ssss", &name, &vendor, &version, &spec_version);
  if (result < 0) {
    return std::unexpected(
        fmt::format("malformed GetServerInformation reply from the notification server: {}",
                    errno_text(result)));
  }
  return NotificationServerInformation{name, vendor, version, spec_version};
}

std::expected<SdBusMessagePtr, std::string> DbusNotifier::build_notify_call(
    const agent::Notification& notification, uint32_t replaces_id) {
  auto capabilities = this->capabilities();
  if (!capabilities) {
    return std::unexpected(capabilities.error());
  }
  // A markup server would render "<b>" and choke on a lone "&"; a plain one shows entities as is.
  std::string body = contains(*capabilities, "body-markup")
                         ? agent::escape_markup(notification.body)
                         : notification.body;

  auto call = new_server_call(bus_.get(), "Notify");
  if (!call) {
    return call;
  }
  sd_bus_message* message = call->get();
  int result =
      sd_bus_message_append(message, "susss", notification.app_name.c_str(), replaces_id,
                            notification.icon.c_str(), notification.title.c_str(), body.c_str());
  if (result >= 0) {
    result = append_actions(message, notification);
  }
  if (result >= 0) {
    result = append_hints(message, notification);
  }
  if (result >= 0) {
    result = sd_bus_message_append(message, "i", notification.timeout_ms);
  }
  if (result < 0) {
    // sd-bus refuses strings that are not UTF-8 with EINVAL.
    return std::unexpected(fmt::format(
        "cannot build the Notify call (is every text valid UTF-8?): {}", errno_text(result)));
  }
  return call;
}

std::expected<uint32_t, std::string> DbusNotifier::show(const agent::Notification& notification) {
  uint32_t replaces_id = 0;
  if (!notification.dedup_id.empty()) {
    if (auto it = id_by_dedup_id_.find(notification.dedup_id); it != id_by_dedup_id_.end()) {
      replaces_id = it->second;
    }
  }
  auto call = build_notify_call(notification, replaces_id);
  if (!call) {
    return std::unexpected(call.error());
  }
  auto reply = call_server("Notify", std::move(*call));
  if (!reply) {
    return std::unexpected(reply.error());
  }
  uint32_t id = 0;
  if (int result = sd_bus_message_read(reply->get(), "u", &id); result < 0) {
    return std::unexpected(
        fmt::format("malformed Notify reply from the notification server: {}", errno_text(result)));
  }
  // The spec says a replacement keeps its id; a server that hands out a new one has dropped the
  // old notification without telling us.
  if (replaces_id != 0 && id != replaces_id) {
    forget(replaces_id);
  }
  remember(id, notification, reply->get());
  log::debug(fmt::format("notification {} shown", id),
             {{"LIAISON_NOTIFICATION_ID", fmt::format("{}", id)}});
  return id;
}

void DbusNotifier::remember(uint32_t id, const agent::Notification& notification,
                            sd_bus_message* reply) {
  forget(id);  // a server may reuse an id once its notification is gone
  Shown shown{.dedup_id = notification.dedup_id,
              .action_url = notification.action_url,
              .url_is_only_action = notification.actions.empty()};
  if (const char* sender = sd_bus_message_get_sender(reply); sender != nullptr) {
    shown.server = sender;
  }
  sd_bus_message_get_cookie(reply, &shown.reply_serial);
  if (!shown.dedup_id.empty()) {
    id_by_dedup_id_[shown.dedup_id] = id;
  }
  shown_.emplace(id, std::move(shown));
}

void DbusNotifier::forget(uint32_t id) {
  auto it = shown_.find(id);
  if (it == shown_.end()) {
    return;
  }
  if (auto dedup = id_by_dedup_id_.find(it->second.dedup_id);
      dedup != id_by_dedup_id_.end() && dedup->second == id) {
    id_by_dedup_id_.erase(dedup);
  }
  shown_.erase(it);
}

// A server sends a notification's signals and replies in order, with rising serials: a signal
// older than the reply that (re)showed the notification is about what that reply replaced.
bool DbusNotifier::is_stale(const Shown& shown, sd_bus_message* signal) const {
  const char* sender = sd_bus_message_get_sender(signal);
  if (sender == nullptr || shown.server != sender) {
    return false;
  }
  uint64_t serial = 0;
  if (sd_bus_message_get_cookie(signal, &serial) < 0) {
    return false;
  }
  return serial < shown.reply_serial;
}

int DbusNotifier::handle_action_invoked(sd_bus_message* signal, void* self, sd_bus_error*) {
  static_cast<DbusNotifier*>(self)->on_action_invoked(signal);
  return 0;  // let other matches see it too
}

int DbusNotifier::handle_notification_closed(sd_bus_message* signal, void* self, sd_bus_error*) {
  static_cast<DbusNotifier*>(self)->on_notification_closed(signal);
  return 0;
}

int DbusNotifier::handle_owner_changed(sd_bus_message* signal, void* self, sd_bus_error*) {
  const char* name = nullptr;
  const char* old_owner = nullptr;
  const char* new_owner = nullptr;
  if (sd_bus_message_read(signal, "sss", &name, &old_owner, &new_owner) < 0) {
    return 0;
  }
  if (old_owner[0] != '\0') {
    static_cast<DbusNotifier*>(self)->on_server_gone(old_owner);
  }
  return 0;
}

void DbusNotifier::on_action_invoked(sd_bus_message* signal) {
  uint32_t id = 0;
  const char* action = nullptr;
  if (sd_bus_message_read(signal, "us", &id, &action) < 0) {
    return;  // not the spec's signal
  }
  auto it = shown_.find(id);
  if (it == shown_.end() || is_stale(it->second, signal)) {
    return;  // another app's, or replaced
  }
  // Copies: the callbacks may show() again, which changes shown_.
  std::string url = it->second.action_url;
  bool opens_url =
      !url.empty() && (it->second.url_is_only_action || action == std::string_view(kDefaultAction));
  std::string action_id = action;
  if (opens_url) {
    open_url(url);
  }
  if (events_.on_action) {
    events_.on_action(id, action_id);
  }
}

void DbusNotifier::on_notification_closed(sd_bus_message* signal) {
  uint32_t id = 0;
  uint32_t reason = 0;
  if (sd_bus_message_read(signal, "uu", &id, &reason) < 0) {
    return;
  }
  auto it = shown_.find(id);
  if (it == shown_.end() || is_stale(it->second, signal)) {
    return;
  }
  forget(id);
  if (events_.on_closed) {
    events_.on_closed(id, close_reason_from_spec(reason));
  }
}

// The server quit or another took the name: what it had on screen is gone, and the next one may
// have other capabilities. Only what `server` answered is dropped: by the time this signal is
// read, show() may already have reached its successor.
void DbusNotifier::on_server_gone(const std::string& server) {
  if (capabilities_server_ == server) {
    capabilities_.reset();
  }
  std::vector<uint32_t> gone;
  for (const auto& [id, shown] : shown_) {
    if (shown.server == server) {
      gone.push_back(id);
    }
  }
  if (!gone.empty()) {
    log::info(
        fmt::format("the notification server went away; {} notification(s) with it", gone.size()));
  }
  for (uint32_t id : gone) {
    forget(id);
    if (events_.on_closed) {
      events_.on_closed(id, agent::CloseReason::kUndefined);
    }
  }
}

void DbusNotifier::open_url(const std::string& url) {
  // Never log the URL itself: it may carry a token.
  if (auto openable = check_url_is_openable(url); !openable) {
    log::warning(fmt::format("not opening the notification's URL: {}", openable.error()));
    return;
  }
  if (!url_opener_) {
    return;
  }
  if (auto opened = url_opener_->open(url); !opened) {
    log::warning(fmt::format("cannot open the notification's URL: {}", opened.error()));
  }
}

}  // namespace liaison::platform
