// Apple only: compiled and linked by make macos-check, never run (docs/macos.md, "verified where").
#include "platform/macos/console_session_source.h"

#include <SystemConfiguration/SystemConfiguration.h>
#include <dispatch/dispatch.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "platform/macos/scutil_console_user.h"

namespace liaison::platform::macos {
namespace {

// Owns a CoreFoundation reference (Create/Copy rule).
template <typename T>
class CfRef {
 public:
  explicit CfRef(T ref = nullptr) : ref_(ref) {}
  CfRef(const CfRef&) = delete;
  CfRef& operator=(const CfRef&) = delete;
  ~CfRef() {
    if (ref_) CFRelease(ref_);
  }
  T get() const { return ref_; }
  explicit operator bool() const { return ref_ != nullptr; }

 private:
  T ref_;
};

std::string string_from(CFTypeRef value) {
  if (!value || CFGetTypeID(value) != CFStringGetTypeID()) return {};
  const auto string = static_cast<CFStringRef>(value);
  const CFIndex capacity =
      CFStringGetMaximumSizeForEncoding(CFStringGetLength(string), kCFStringEncodingUTF8) + 1;
  std::string text(static_cast<size_t>(capacity), '\0');
  if (!CFStringGetCString(string, text.data(), capacity, kCFStringEncodingUTF8)) return {};
  text.resize(std::strlen(text.c_str()));
  return text;
}

std::optional<long long> number_from(CFTypeRef value) {
  long long number = 0;
  if (!value || CFGetTypeID(value) != CFNumberGetTypeID() ||
      !CFNumberGetValue(static_cast<CFNumberRef>(value), kCFNumberLongLongType, &number)) {
    return std::nullopt;
  }
  return number;
}

CFTypeRef lookup(CFDictionaryRef dictionary, const char* key) {
  CfRef<CFStringRef> cf_key(CFStringCreateWithCString(nullptr, key, kCFStringEncodingUTF8));
  return CFDictionaryGetValue(dictionary, cf_key.get());
}

ConsoleSessionEntry session_entry_from(CFDictionaryRef entry) {
  ConsoleSessionEntry session;
  if (auto id = number_from(lookup(entry, "kCGSSessionIDKey"))) {
    session.session_id = std::to_string(*id);
  }
  if (auto uid = number_from(lookup(entry, "kCGSSessionUserIDKey"))) {
    session.uid = static_cast<uid_t>(*uid);
  }
  session.user = string_from(lookup(entry, "kCGSSessionUserNameKey"));
  const CFTypeRef on_console = lookup(entry, "kCGSSessionOnConsoleKey");
  session.on_console = on_console && CFGetTypeID(on_console) == CFBooleanGetTypeID() &&
                       CFBooleanGetValue(static_cast<CFBooleanRef>(on_console));
  return session;
}

// The same structure scutil prints, read from the store's property list instead of text.
ConsoleUserState console_user_state_from_store(CFDictionaryRef dictionary) {
  ConsoleUserState state;
  if (const CFTypeRef name = lookup(dictionary, "Name")) state.name = string_from(name);
  if (auto uid = number_from(lookup(dictionary, "UID"))) state.uid = static_cast<uid_t>(*uid);
  const CFTypeRef sessions = lookup(dictionary, "SessionInfo");
  if (!sessions || CFGetTypeID(sessions) != CFArrayGetTypeID()) return state;
  const auto array = static_cast<CFArrayRef>(sessions);
  for (CFIndex i = 0; i < CFArrayGetCount(array); ++i) {
    const CFTypeRef entry = CFArrayGetValueAtIndex(array, i);
    if (CFGetTypeID(entry) == CFDictionaryGetTypeID()) {
      state.sessions.push_back(session_entry_from(static_cast<CFDictionaryRef>(entry)));
    }
  }
  return state;
}

class ConsoleSessionSource final : public daemon::SessionSource {
 public:
  ConsoleSessionSource(UniqueFd read_end, UniqueFd write_end)
      : read_end_(std::move(read_end)), write_end_(std::move(write_end)) {}

  ~ConsoleSessionSource() override {
    // Stop callbacks before the pipe and queue go away.
    // The store itself, not the holder: a holder whose SCDynamicStoreCreate failed holds null.
    if (store_ && *store_) SCDynamicStoreSetDispatchQueue(store_->get(), nullptr);
  }

  std::expected<void, std::string> start() {
    SCDynamicStoreContext context{0, this, nullptr, nullptr, nullptr};
    store_ = std::make_unique<CfRef<SCDynamicStoreRef>>(
        SCDynamicStoreCreate(nullptr, CFSTR("dev.liaison.daemon"), &on_change, &context));
    if (!*store_) return std::unexpected(scerror("SCDynamicStoreCreate"));
    key_ = std::make_unique<CfRef<CFStringRef>>(SCDynamicStoreKeyCreateConsoleUser(nullptr));
    const void* keys[] = {key_->get()};
    CfRef<CFArrayRef> key_array(CFArrayCreate(nullptr, keys, 1, &kCFTypeArrayCallBacks));
    if (!SCDynamicStoreSetNotificationKeys(store_->get(), key_array.get(), nullptr)) {
      return std::unexpected(scerror("SCDynamicStoreSetNotificationKeys"));
    }
    queue_ = dispatch_queue_create("dev.liaison.console-user", DISPATCH_QUEUE_SERIAL);
    if (!SCDynamicStoreSetDispatchQueue(store_->get(), queue_)) {
      return std::unexpected(scerror("SCDynamicStoreSetDispatchQueue"));
    }
    return {};
  }

  std::expected<std::vector<daemon::Session>, std::string> list_sessions() override {
    CfRef<CFPropertyListRef> value(SCDynamicStoreCopyValue(store_->get(), key_->get()));
    // No value: nobody has logged in since boot and loginwindow has not written the key yet.
    if (!value || CFGetTypeID(value.get()) != CFDictionaryGetTypeID()) return {};
    return gui_sessions(console_user_state_from_store(static_cast<CFDictionaryRef>(value.get())));
  }

  int change_fd() const override { return read_end_.get(); }

  void acknowledge_change() override {
    char buffer[64];
    while (read(read_end_.get(), buffer, sizeof buffer) > 0) {
    }
  }

 private:
  // Runs on queue_. A full pipe already means "changed", so a failed write loses nothing.
  static void on_change(SCDynamicStoreRef, CFArrayRef, void* info) {
    auto* self = static_cast<ConsoleSessionSource*>(info);
    const char byte = 1;
    (void)write(self->write_end_.get(), &byte, 1);
  }

  static std::string scerror(const char* what) {
    return fmt::format("{}: {}", what, SCErrorString(SCError()));
  }

  UniqueFd read_end_;
  UniqueFd write_end_;
  // unique_ptr so the CfRefs can be filled in start(), after construction.
  std::unique_ptr<CfRef<SCDynamicStoreRef>> store_;
  std::unique_ptr<CfRef<CFStringRef>> key_;
  dispatch_queue_t queue_ = nullptr;  // ARC (-fobjc-arc) releases it
};

}  // namespace

std::expected<std::unique_ptr<daemon::SessionSource>, std::string> make_console_session_source() {
  int fds[2];
  if (pipe(fds) != 0) return std::unexpected(fmt::format("pipe: {}", std::strerror(errno)));
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  for (const int fd : fds) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  auto source = std::make_unique<ConsoleSessionSource>(std::move(read_end), std::move(write_end));
  if (auto started = source->start(); !started) return std::unexpected(started.error());
  return source;
}

}  // namespace liaison::platform::macos
