#!/usr/bin/python3
"""The desktop of one test login: a display server plus a notification server.

It runs as the leader of a real PAM/logind session, started by the e2e harness with
`systemd-run -p Type=notify -p PAMName=login --uid=USER`. It sends READY=1 only once the
notification server owns org.freedesktop.Notifications on the user's session bus and the
user's service manager knows the display, so a harness login returns a desktop that is fully
up, with no polling from outside. With READY=1 goes a status line the harness reads
(`systemctl show -p StatusText`): "session=ID display=:N notifications=dunst", or
"wayland_display=wayland-1", and "notifications=shared" when another login of the same user
already runs the user's notification server (they share one session bus). The desktop ends
(and with it the session) when any of its parts dies.

  x11      Xvfb on a free display (or the one given as argument, ":N") and dunst.
  wayland  headless sway (Xwayland disabled) and mako; no DISPLAY anywhere.
  light    no display server, only liaison-test-notification-sink (tests/e2e/storm), which logs
           each notification with the time it arrived: the login storm's hundreds of sessions.
"""

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys

SHARE = "/usr/local/share/liaison-test"
NOTIFICATIONS_NAME = "org.freedesktop.Notifications"
SESSION_TARGET = "liaison-test-session.target"
STARTUP_TIMEOUT_S = 15


class DesktopError(Exception):
    """A part of the desktop failed to start; the message says which."""


class Desktop:
    """The processes of this session; terminating it terminates all of them."""

    def __init__(self):
        self.children = []

    def start(self, argv, env=None, pass_fds=()):
        """Starts argv as a part of the desktop, with stdout/stderr going to the journal."""
        child = subprocess.Popen(argv, env=env, pass_fds=pass_fds, stdin=subprocess.DEVNULL)
        self.children.append(child)
        return child

    def wait_any(self):
        """Blocks until a part of the desktop exits, and says which. WNOWAIT leaves the child
        for terminate() to reap."""
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        name = next((c.args[0] for c in self.children if c.pid == info.si_pid), str(info.si_pid))
        print(f"desktop: {name} exited (code {info.si_code}, status {info.si_status})",
              file=sys.stderr)

    def terminate(self):
        """Terminates every part still running and reaps them."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()


def start_session_target(env):
    """Starts the session target (and so graphical-session.target), as a desktop does once its
    display is known to the user's service manager. Returns whether this login started it: a
    second login of the same user shares the first one's, as it shares its service manager."""
    state = subprocess.run(["systemctl", "--user", "is-active", SESSION_TARGET], env=env,
                           timeout=10, capture_output=True, text=True).stdout.strip()
    if state == "active":
        return False
    subprocess.run(["systemctl", "--user", "start", SESSION_TARGET], env=env, check=True,
                   timeout=STARTUP_TIMEOUT_S)
    return True


def stop_session_target():
    """Stops the session target at logout, as a desktop's session manager does."""
    subprocess.run(["systemctl", "--user", "stop", SESSION_TARGET], timeout=10,
                   capture_output=True, check=False)


def runtime_subdir():
    """Returns $XDG_RUNTIME_DIR/liaison-test, the place of this desktop's private files."""
    path = os.path.join(os.environ["XDG_RUNTIME_DIR"], "liaison-test")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def notify_systemd(message):
    """Sends one sd_notify message from this (the main) process, so systemd attributes it."""
    address = os.environ["NOTIFY_SOCKET"]
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


def read_line_within(fd, timeout_s, writer):
    """Reads the line `writer` (a Popen) sends through fd once it is ready; fails at once when
    the writer exits first (its pidfd becomes readable), or after timeout_s."""
    what = f"{writer.args[0]} (pid {writer.pid})"
    pidfd = os.pidfd_open(writer.pid)
    data = b""
    try:
        while not data.endswith(b"\n"):
            readable, _, _ = select.select([fd, pidfd], [], [], timeout_s)
            if not readable:
                raise DesktopError(f"{what}: not ready after {timeout_s} s")
            chunk = os.read(fd, 256) if fd in readable else b""
            if not chunk:
                raise DesktopError(f"{what}: exited before it was ready")
            data += chunk
    finally:
        os.close(pidfd)
    return data.decode().strip()


def notification_server_running(env):
    """Tells whether the user's bus already has a notification server: a second login of the
    same user shares the first one's session bus, and with it that server."""
    reply = subprocess.run(
        ["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
         "--object-path", "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner",
         NOTIFICATIONS_NAME], env=env, check=True, timeout=10, capture_output=True, text=True)
    return reply.stdout.strip() == "(true,)"


def start_notification_server(desktop, argv, env):
    """Starts the server unless the user has one; waits (gdbus watches NameOwnerChanged, no
    polling) until it owns its name. Returns which server serves this session."""
    if notification_server_running(env):
        return "shared"
    desktop.start(argv, env=env)
    subprocess.run(
        ["gdbus", "wait", "--session", "--timeout", str(STARTUP_TIMEOUT_S), NOTIFICATIONS_NAME],
        env=env, check=True, timeout=STARTUP_TIMEOUT_S + 5)
    return os.path.basename(argv[0])


def start_x11(desktop, args):
    """Xvfb (it reports its display through -displayfd once it accepts clients), then dunst."""
    read_end, write_end = os.pipe()
    display_arg = [args[0]] if args else []
    xvfb = desktop.start(["Xvfb", *display_arg, "-displayfd", str(write_end), "-nolisten", "tcp",
                          "-screen", "0", "1280x800x24"], pass_fds=(write_end,))
    os.close(write_end)
    display = ":" + read_line_within(read_end, STARTUP_TIMEOUT_S, xvfb)
    os.close(read_end)
    env = dict(os.environ, DISPLAY=display)
    subprocess.run(["systemctl", "--user", "import-environment", "DISPLAY"],
                   env=env, check=True, timeout=10)
    server = start_notification_server(desktop, ["dunst", "-config", f"{SHARE}/dunstrc"], env)
    return {"display": display, "notifications": server}, env


def start_wayland(desktop, _args):
    """Headless sway; its config imports WAYLAND_DISPLAY into the user manager and then reports
    the display name through a FIFO; then mako on that display."""
    fifo = os.path.join(runtime_subdir(), "sway-ready")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(fifo)
    os.mkfifo(fifo, 0o600)
    fifo_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # RDWR: never EOF, never blocks
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    compositor_only = dict(WLR_BACKENDS="headless", WLR_LIBINPUT_NO_DEVICES="1",
                           WLR_RENDERER="pixman", LIAISON_TEST_SWAY_READY=fifo)
    env["XDG_CURRENT_DESKTOP"] = "sway"
    sway = desktop.start(["sway", "-c", f"{SHARE}/sway.conf"], env=dict(env, **compositor_only))
    display = read_line_within(fifo_fd, STARTUP_TIMEOUT_S, sway)
    os.close(fifo_fd)
    env["WAYLAND_DISPLAY"] = display
    server = start_notification_server(desktop, ["mako", "-c", f"{SHARE}/mako.conf"], env)
    return {"wayland_display": display, "notifications": server}, env


def start_light(desktop, _args):
    """Only a notification server: what a login storm needs of each session (the harness logs
    the session in as type x11, so the daemon serves it like any desktop)."""
    env = dict(os.environ)
    log = os.path.join(runtime_subdir(), "notifications.log")
    server = start_notification_server(
        desktop, ["/usr/local/bin/liaison-test-notification-sink", log], env)
    return {"notifications": server, "notification_log": log}, env


STARTERS = {"x11": start_x11, "wayland": start_wayland, "light": start_light}


def raise_exit(signum, _frame):
    """Turns SIGTERM/SIGHUP (logout) into SystemExit so the finally block cleans up."""
    raise SystemExit(128 + signum)


def main(argv):
    if len(argv) < 2 or argv[1] not in STARTERS:
        print(f"usage: {argv[0]} {'|'.join(STARTERS)} [ARGS]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, raise_exit)
    signal.signal(signal.SIGHUP, raise_exit)
    desktop = Desktop()
    owns_session_target = False
    try:
        status = {"session": os.environ.get("XDG_SESSION_ID", "")}
        started, env = STARTERS[argv[1]](desktop, argv[2:])
        status.update(started)
        owns_session_target = start_session_target(env)
        # The harness reads this line (systemctl show -p StatusText) to learn about the login.
        fields = " ".join(f"{key}={value}" for key, value in status.items())
        notify_systemd(f"READY=1\nSTATUS={fields}")
        desktop.wait_any()
        return 1  # a desktop does not end by itself: one of its parts failed
    except (DesktopError, subprocess.SubprocessError, OSError) as error:
        print(f"desktop: {error}", file=sys.stderr)
        return 1
    finally:
        if owns_session_target:
            stop_session_target()
        desktop.terminate()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
