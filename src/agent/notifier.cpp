#include "agent/notifier.h"

namespace liaison::agent {

std::string_view close_reason_name(CloseReason reason) {
  switch (reason) {
    case CloseReason::kExpired:
      return "expired";
    case CloseReason::kDismissed:
      return "dismissed";
    case CloseReason::kClosed:
      return "closed";
    case CloseReason::kUndefined:
      return "undefined";
  }
  return "undefined";
}

}  // namespace liaison::agent
