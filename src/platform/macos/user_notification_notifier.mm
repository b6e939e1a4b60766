// Apple only: compiled and linked by make macos-check, never run (docs/macos.md, "verified where").
#include "platform/macos/user_notification_notifier.h"

#import <AppKit/AppKit.h>
#import <Foundation/Foundation.h>
#import <UserNotifications/UserNotifications.h>

#include <atomic>

#include <fmt/format.h>

namespace {

NSString* const kIdKey = @"liaison.id";
NSString* const kUrlKey = @"liaison.url";
NSString* const kOpenAction = @"open";

}  // namespace

// Reports what the user did, with the same events as the Linux notifier: the body or "Open" is
// "default" (and opens the URL), a custom action is its id, an explicit dismiss is kDismissed.
@interface LiaisonNotificationDelegate : NSObject <UNUserNotificationCenterDelegate>
- (instancetype)initWithEvents:(liaison::agent::NotifierEvents)events;
@end

@implementation LiaisonNotificationDelegate {
  liaison::agent::NotifierEvents _events;
}

- (instancetype)initWithEvents:(liaison::agent::NotifierEvents)events {
  if ((self = [super init])) _events = std::move(events);
  return self;
}

- (void)userNotificationCenter:(UNUserNotificationCenter*)center
    didReceiveNotificationResponse:(UNNotificationResponse*)response
             withCompletionHandler:(void (^)(void))completionHandler {
  NSDictionary* info = response.notification.request.content.userInfo;
  const uint32_t notification_id = [info[kIdKey] unsignedIntValue];
  NSString* action = response.actionIdentifier;
  if ([action isEqualToString:UNNotificationDismissActionIdentifier]) {
    if (_events.on_closed) {
      _events.on_closed(notification_id, liaison::agent::CloseReason::kDismissed);
    }
  } else if ([action isEqualToString:UNNotificationDefaultActionIdentifier] ||
             [action isEqualToString:kOpenAction]) {
    if (NSString* url = info[kUrlKey]) {
      if (NSURL* parsed = [NSURL URLWithString:url]) [[NSWorkspace sharedWorkspace] openURL:parsed];
    }
    if (_events.on_action) _events.on_action(notification_id, "default");
  } else if (_events.on_action) {
    _events.on_action(notification_id, action.UTF8String);
  }
  completionHandler();
}

// Shown even while the agent counts as the frontmost app.
- (void)userNotificationCenter:(UNUserNotificationCenter*)center
       willPresentNotification:(UNNotification*)notification
         withCompletionHandler:(void (^)(UNNotificationPresentationOptions))completionHandler {
  completionHandler(UNNotificationPresentationOptionBanner | UNNotificationPresentationOptionList |
                    UNNotificationPresentationOptionSound);
}

@end

namespace liaison::platform::macos {
namespace {

NSString* ns_string(const std::string& text) { return @(text.c_str()); }

class UserNotificationNotifier final : public agent::Notifier {
 public:
  explicit UserNotificationNotifier(agent::NotifierEvents events)
      : center_([UNUserNotificationCenter currentNotificationCenter]),
        delegate_([[LiaisonNotificationDelegate alloc] initWithEvents:std::move(events)]),
        categories_([NSMutableSet set]),
        category_identifiers_([NSMutableSet set]) {
    center_.delegate = delegate_;  // the center holds it weakly; we keep it alive
    // Prompts once; the answer is cached by the system. Refusal shows up as failed deliveries.
    [center_
        requestAuthorizationWithOptions:(UNAuthorizationOptionAlert | UNAuthorizationOptionSound)
                      completionHandler:^(BOOL granted, NSError* error) {
                        if (!granted) NSLog(@"liaison: notifications not authorised: %@", error);
                      }];
  }

  std::expected<uint32_t, std::string> show(const agent::Notification& notification) override {
    const uint32_t id = ++last_id_;
    UNMutableNotificationContent* content = [[UNMutableNotificationContent alloc] init];
    content.title = ns_string(notification.title);
    content.body = ns_string(notification.body);
    NSMutableDictionary* info = [@{kIdKey : @(id)} mutableCopy];
    if (!notification.action_url.empty()) info[kUrlKey] = ns_string(notification.action_url);
    content.userInfo = info;
    content.categoryIdentifier = category_for(notification);
    if (notification.urgency == agent::Urgency::kCritical) {
      content.interruptionLevel = UNNotificationInterruptionLevelTimeSensitive;
    }
    // A re-sent dedup id replaces what was shown under it, as on Linux.
    NSString* identifier = notification.dedup_id.empty()
                               ? [NSString stringWithFormat:@"liaison-%u", id]
                               : ns_string("dedup-" + notification.dedup_id);
    UNNotificationRequest* request = [UNNotificationRequest requestWithIdentifier:identifier
                                                                          content:content
                                                                          trigger:nil];
    // Delivery is asynchronous; an error (not authorised, 4099 outside the GUI session) is
    // logged, as the id is already given out.
    [center_ addNotificationRequest:request
              withCompletionHandler:^(NSError* error) {
                if (error) NSLog(@"liaison: notification not shown: %@", error);
              }];
    return id;
  }

 private:
  // One category per distinct set of actions; "Open" when there is a URL to open.
  NSString* category_for(const agent::Notification& notification) {
    NSMutableArray<UNNotificationAction*>* actions = [NSMutableArray array];
    NSMutableString* identifier = [NSMutableString stringWithString:@"liaison"];
    if (!notification.action_url.empty()) {
      [actions addObject:[UNNotificationAction
                             actionWithIdentifier:kOpenAction
                                            title:@"Open"
                                          options:UNNotificationActionOptionForeground]];
      [identifier appendString:@"|open"];
    }
    for (const auto& [action_id, label] : notification.actions) {
      if (action_id == "default") continue;  // the body click
      [actions
          addObject:[UNNotificationAction actionWithIdentifier:ns_string(action_id)
                                                         title:ns_string(label)
                                                       options:UNNotificationActionOptionNone]];
      [identifier appendFormat:@"|%@", ns_string(action_id)];
    }
    NSString* key = [identifier copy];
    UNNotificationCategory* category = [UNNotificationCategory
        categoryWithIdentifier:key
                       actions:actions
             intentIdentifiers:@[]
                       options:UNNotificationCategoryOptionCustomDismissAction];
    // Compared by identifier: equal identifiers mean equal action lists.
    if (![category_identifiers_ containsObject:key]) {
      [category_identifiers_ addObject:key];
      [categories_ addObject:category];
      [center_ setNotificationCategories:categories_];
    }
    return key;
  }

  UNUserNotificationCenter* center_;
  LiaisonNotificationDelegate* delegate_;
  NSMutableSet<UNNotificationCategory*>* categories_;
  NSMutableSet<NSString*>* category_identifiers_;
  std::atomic<uint32_t> last_id_{0};
};

}  // namespace

std::expected<std::unique_ptr<agent::Notifier>, std::string> make_user_notification_notifier(
    agent::NotifierEvents events) {
  // currentNotificationCenter asserts (aborting the process) without a bundle identifier.
  if (NSBundle.mainBundle.bundleIdentifier == nil) {
    return std::unexpected(std::string("UserNotifications needs an app bundle: run the agent as "
                                       "Liaison.app/Contents/MacOS/liaison (see docs/macos.md)"));
  }
  return std::make_unique<UserNotificationNotifier>(std::move(events));
}

}  // namespace liaison::platform::macos
