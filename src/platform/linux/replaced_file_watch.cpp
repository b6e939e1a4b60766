#include "platform/linux/replaced_file_watch.h"

#include <fmt/format.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace liaison::platform {
namespace {

// Renamed over: the old inode loses its last link (IN_ATTRIB, then IN_DELETE_SELF); written in
// place: IN_CLOSE_WRITE or IN_MODIFY; removed: IN_DELETE_SELF. One shot: the watch ends with its
// first event (IN_IGNORED follows), so a replaced inode is never watched twice; rearm() watches
// the new one.
constexpr uint32_t kEvents =
    IN_ATTRIB | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONESHOT;

}  // namespace

std::expected<ReplacedFileWatch, std::string> ReplacedFileWatch::create(
    std::filesystem::path path) {
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify) {
    return std::unexpected(fmt::format("cannot watch {}: inotify: {}", path.string(),
                                       std::generic_category().message(errno)));
  }
  ReplacedFileWatch watch(std::move(path), std::move(inotify));
  watch.rearm();
  return watch;
}

void ReplacedFileWatch::rearm() {
  // Events are only wake-ups: what changed is read from the file itself afterwards.
  alignas(inotify_event) char events[4096];
  while (::read(inotify_.get(), events, sizeof(events)) > 0) {
  }
  // Watching after draining: a replacement in between is the file watched now, and whoever
  // reads it next sees its content, so no change is missed.
  // Only a missing file counts as gone: out of watches (fs.inotify.max_user_watches) the file
  // is still there, just unwatched until the next rearm.
  exists_ = ::inotify_add_watch(inotify_.get(), path_.c_str(), kEvents) >= 0 || errno != ENOENT;
}

}  // namespace liaison::platform
