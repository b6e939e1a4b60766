// Opens a URL from a clicked notification in the user's session, with xdg-open.
//
// The URL comes from a remote admin, so only web and mail links are opened: xdg-open hands any
// other scheme (file:, smb:, a custom app handler) to whatever application claims it.
#pragma once

#include <sys/types.h>

#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/linux/sd_bus_ptr.h"

namespace asio {
class io_context;
}  // namespace asio

namespace liaison::platform {

// Succeeds for http://host..., https://host... and mailto:... URLs without whitespace or control
// characters. The error names the reason, never the URL (it may carry a token).
std::expected<void, std::string> check_url_is_openable(std::string_view url);

// The variables an opener needs to reach the display, which the agent may lack because the
// compositor published them after the agent started.
inline constexpr std::string_view kDisplayVariables[] = {"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY",
                                                         "XDG_CURRENT_DESKTOP"};

// `base` ("NAME=value" entries) plus the kDisplayVariables entries of `session` that `base` lacks.
std::vector<std::string> add_missing_display_variables(std::vector<std::string> base,
                                                       const std::vector<std::string>& session);

// `base` with each display variable that `session_now` has replaced by its value there: what the
// agent's session shows now wins over what the agent inherited at launch, before the desktop
// (and its DISPLAY or WAYLAND_DISPLAY) was up.
std::vector<std::string> refresh_display_variables(std::vector<std::string> base,
                                                   const std::vector<std::string>& session_now);

// A connection to the user's service manager: its private socket ($XDG_RUNTIME_DIR/systemd/private)
// when there is one, the user bus otherwise; method calls on it time out after 2 s. The functions
// below use the timeout of the connection they are given.
std::expected<SdBusPtr, std::string> connect_to_user_manager();

// The manager's environment ("NAME=value" entries: org.freedesktop.systemd1.Manager.Environment),
// which `systemctl --user import-environment` fills in once the compositor is up.
std::expected<std::vector<std::string>, std::string> read_user_manager_environment(sd_bus* manager);

// The program's absolute path: `program` itself when it names a path, else the first executable
// `program` in the ':'-separated directories of `path_value`. Empty when there is none.
std::string find_program(const std::string& program, std::string_view path_value);

// Asks the user's manager to run `command` as the transient service `unit`, with `environment`
// added to the manager's own. Returns once the manager has queued the start (not when it ran).
std::expected<void, std::string> start_in_user_manager(sd_bus* manager, const std::string& unit,
                                                       const std::vector<std::string>& command,
                                                       const std::vector<std::string>& environment);

class UrlOpener {
 public:
  virtual ~UrlOpener() = default;

  // Starts opening `url` in the session; returns once the opener runs, not when the page shows.
  virtual std::expected<void, std::string> open(const std::string& url) = 0;
};

struct XdgUrlOpenerOptions {
  std::string program = "xdg-open";  // looked up in PATH
  // Where the display variables come from, and who runs the opener; failing to connect is
  // logged, and the agent starts the opener itself, with its own environment.
  std::function<std::expected<SdBusPtr, std::string>()> connect_user_manager =
      connect_to_user_manager;
  // The display variables of the agent's own session as they are now (its processes, logind);
  // asked at every click, since a desktop comes up after its agent. Unset: not consulted.
  std::function<std::vector<std::string>()> session_environment;
  // Told the wait status of an opener the agent started itself once it has been reaped (tests
  // wait on it; failures are logged). An opener the manager runs reports to the user's journal.
  std::function<void(int wait_status)> on_exit;
};

// Runs `xdg-open URL` (no shell: the URL is one argv element) as a transient service of the
// user's own manager (app-liaison-open-<pid>-<n>.service), so the opener and the browser it may
// start are the user's manager's children: they inherit nothing of the agent, in particular not
// the sandbox, namespaces and no-new-privileges flag an exec-launched agent has from
// liaison.service. Without a manager (or if it refuses) the agent starts the opener itself
// (posix_spawn, its own session, a clean signal mask) and reaps it through a pidfd in `io`.
class XdgUrlOpener final : public UrlOpener {
 public:
  explicit XdgUrlOpener(asio::io_context& io, XdgUrlOpenerOptions options = {});

  std::expected<void, std::string> open(const std::string& url) override;

 private:
  std::vector<std::string> child_environment(sd_bus* manager) const;
  std::expected<void, std::string> spawn(const std::string& url,
                                         std::vector<std::string> environment);
  void reap_when_done(pid_t pid);

  asio::io_context& io_;
  XdgUrlOpenerOptions options_;
  unsigned opened_ = 0;  // numbers the manager's units
};

}  // namespace liaison::platform
