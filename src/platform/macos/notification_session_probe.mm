// Apple only: compiled and linked by make macos-check, never run (docs/macos.md, "verified where").
#include "platform/macos/notification_session_probe.h"

#import <Foundation/Foundation.h>
#import <UserNotifications/UserNotifications.h>
#include <dispatch/dispatch.h>

#include "platform/macos/context_findings.h"

namespace liaison::platform::macos {
namespace {

// How long examine() waits for the settings; they come from usernoted over XPC.
constexpr int64_t kSettingsTimeoutNanoseconds = 2 * NSEC_PER_SEC;

std::string text_of(NSString* text) { return text != nil ? std::string(text.UTF8String) : ""; }

class NotificationSessionProbe final : public agent::SessionProbe {
 public:
  std::vector<protocol::Finding> examine() override {
    NotificationContext context;
    NSBundle* bundle = NSBundle.mainBundle;
    context.executable_path = text_of(bundle.executablePath);
    context.bundle_identifier = text_of(bundle.bundleIdentifier);
    context.bundle_path = text_of(bundle.bundlePath);
    // currentNotificationCenter asserts (aborting the process) without a bundle identifier.
    if (!context.bundle_identifier.empty()) context.authorization_status = authorization_status();
    return {notifications_finding(context)};
  }

 private:
  // Apple documents that the completion block may run on a background thread, so waiting for it
  // here (the agent's Asio thread, not the main queue; see src/cli/macos/agent_command.mm)
  // cannot deadlock. nullopt when it does not answer within the timeout.
  static std::optional<long> authorization_status() {
    dispatch_semaphore_t answered = dispatch_semaphore_create(0);
    // Shared with the block, which may outlive this call after a timeout.
    __block long status = -1;
    __block bool done = false;
    NSObject* lock = [[NSObject alloc] init];
    [[UNUserNotificationCenter currentNotificationCenter]
        getNotificationSettingsWithCompletionHandler:^(UNNotificationSettings* settings) {
          @synchronized(lock) {
            status = static_cast<long>(settings.authorizationStatus);
            done = true;
          }
          dispatch_semaphore_signal(answered);
        }];
    dispatch_semaphore_wait(answered,
                            dispatch_time(DISPATCH_TIME_NOW, kSettingsTimeoutNanoseconds));
    @synchronized(lock) {
      if (!done) return std::nullopt;
      return status;
    }
  }
};

}  // namespace

std::unique_ptr<agent::SessionProbe> make_notification_session_probe() {
  return std::make_unique<NotificationSessionProbe>();
}

}  // namespace liaison::platform::macos
