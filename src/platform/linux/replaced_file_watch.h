// One file whose writer replaces it whole -- written to a temporary and renamed over, as logind
// writes its session records (/run/systemd/sessions/<id>) -- watched with inotify. fd() turns
// readable when that file is replaced, changed or removed, and for nothing else in its directory:
// unlike sd_login_monitor("session"), which wakes its owner for every login and logout on the
// machine (N agents, N^2 wakeups in a login storm). rearm() drains the events and follows the file
// now at the path. Costs one inotify instance (an fd, a few hundred bytes of kernel memory).
#pragma once

#include <expected>
#include <filesystem>
#include <string>

#include "common/unique_fd.h"

namespace liaison::platform {

class ReplacedFileWatch {
 public:
  // Watches `path` as it is now; an error if inotify is unavailable. A missing file is not an
  // error: exists() says so.
  static std::expected<ReplacedFileWatch, std::string> create(std::filesystem::path path);

  // Readable once the watched file was replaced, written, or removed; the same fd throughout.
  int fd() const { return inotify_.get(); }
  // Takes the pending events and watches whatever file is at the path now.
  void rearm();
  // Whether a file was at the path when last (re)armed (true, too, if it could not be watched).
  bool exists() const { return exists_; }

 private:
  ReplacedFileWatch(std::filesystem::path path, UniqueFd inotify)
      : path_(std::move(path)), inotify_(std::move(inotify)) {}

  std::filesystem::path path_;
  UniqueFd inotify_;
  bool exists_ = false;
};

}  // namespace liaison::platform
