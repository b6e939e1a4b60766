"""A booted Debian 12 container with a real systemd, logind and desktop logins, for e2e tests.

The host's PID 1 is not systemd, so there is no logind here; liaison's job only exists with
one. `Container` boots the cached rootfs (see rootfs.py) with systemd-nspawn on a throw-away
overlay, runs commands in it through nsenter, logs users in through real PAM sessions
(systemd-run -p PAMName=login) whose leader is a small desktop (Xvfb + dunst, or headless
sway + mako: tests/e2e/rootfs/usr/local/lib/liaison-test/desktop.py), reads what the users'
notification servers received, and clicks notification actions.

Every command has a deadline. `teardown()` always runs (the fixture's finally, atexit) and
leaves no container, mount or cgroup behind; `reap_orphans()` cleans up after a test run that
was killed before it could.
"""

import atexit
import contextlib
import json
import os
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import runner
from runner import CommandError

WORK_ROOT = Path("/var/tmp")
NAME_PREFIX = "liaison-e2e-"
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
USER_PATH = "/usr/local/bin:/usr/bin:/bin"
NOTIFICATION_LOG = "liaison-test/notifications.jsonl"  # under $XDG_RUNTIME_DIR
BOOT_TIMEOUT_S = 60
LOGIN_TIMEOUT_S = 30
# What `systemctl is-system-running --wait` can print once boot is over.
SETTLED_STATES = ("running", "degraded", "maintenance", "stopping")


class ContainerError(Exception):
    """The container or something in it did not behave; the message shows what was seen."""


@dataclass
class Login:
    """One desktop login, as its session leader reported it when it became ready."""
    user: str
    session: str
    type: str
    unit: str
    notification_server: str  # "dunst", "mako", or "shared" (the user's other login runs it)
    status: dict


@dataclass
class Account:
    """A user of the container, from its /etc/passwd."""
    name: str
    uid: int
    gid: int
    home: str

    @property
    def runtime_dir(self):
        return f"/run/user/{self.uid}"

    @property
    def session_env(self):
        """What a process needs to reach this user's session bus (and its notification server)."""
        return {"XDG_RUNTIME_DIR": self.runtime_dir,
                "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.runtime_dir}/bus"}


class Container:
    """One systemd-nspawn container on an overlay of `rootfs`; see the module docstring."""

    def __init__(self, rootfs, name=None):
        self.rootfs = Path(rootfs)
        self.name = name or NAME_PREFIX + secrets.token_hex(4)
        self.workdir = WORK_ROOT / self.name
        self.merged = self.workdir / "merged"
        self.console_log = self.workdir / "console.log"
        self.pid1 = None
        self._nspawn = None
        self._nspawn_pid = None
        self._logins = {}
        self._login_count = {}
        self._torn_down = False

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def booted(cls, rootfs):
        """A container booted from `rootfs`, torn down on the way out whatever happens."""
        machine = cls(rootfs)
        try:
            machine.boot()
            yield machine
        finally:
            machine.teardown()

    def boot(self, timeout=BOOT_TIMEOUT_S):
        """Mounts the overlay, starts systemd-nspawn and waits until systemd finished booting.

        On any failure it tears down what it set up and raises with the console output.
        """
        self.workdir.mkdir(mode=0o700)  # fails if the name is taken: then nothing here is ours
        atexit.register(self.teardown)
        deadline = time.monotonic() + timeout
        try:
            self._write_state()
            self._mount_overlay()
            self._start_nspawn()
            self.pid1 = self._wait_for_pid1(deadline)
            self._write_state()
            self._wait_until_booted(deadline)
        except BaseException:
            console = self._console_tail()
            self.teardown()
            if console:
                print(f"container console (last lines):\n{console}")
            raise
        return self

    def teardown(self):
        """Stops the container and removes its overlay, cgroups and work directory.

        Idempotent and never raises: it runs from finally blocks and atexit, and a cleanup
        failure must not hide the test failure that led here. Problems are printed.
        """
        if self._torn_down:
            return
        self._torn_down = True
        for step in (self._stop_nspawn, self._unmount_overlay, self._remove_cgroups,
                     self._remove_workdir):
            try:
                step()
            except Exception as error:  # keep going: every later step still matters
                print(f"teardown of {self.name}: {step.__name__}: {error}")

    @classmethod
    def reap_orphans(cls):
        """Tears down containers left by test runs that died without their teardown (SIGKILL)."""
        for state_file in WORK_ROOT.glob(f"{NAME_PREFIX}*/state.json"):
            state = json.loads(state_file.read_text() or "{}")
            if _process_alive(state.get("owner_pid"), state.get("owner_start")):
                continue
            orphan = cls(state.get("rootfs", "/nonexistent"), name=state_file.parent.name)
            orphan.pid1 = state.get("pid1")
            orphan._nspawn_pid = state.get("nspawn_pid")
            print(f"removing orphaned e2e container {orphan.name}")
            orphan.teardown()

    # ---- running commands ------------------------------------------------------------------

    def exec(self, cmd, user=None, check=True, timeout=30, env=None, input=None):
        """Runs cmd (argv list, or a string for sh -c) in the container; returns CompletedProcess.

        As root with a clean environment; with `user`, as that user (uid, gid, groups) with
        the environment of a process of their session: HOME etc. from passwd plus
        XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS. `env` adds or overrides variables.
        Raises CommandError on timeout, and on failure when `check`.
        """
        return self.start(cmd, user=user, timeout=timeout, env=env, input=input).result(check)

    def start(self, cmd, user=None, timeout=30, env=None, input=None):
        """Starts cmd like exec() does, without waiting; returns a runner.Started."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        enter = ["nsenter", "-t", str(self._require_pid1()), "-a"]
        if user is None:
            variables = dict(PATH=ROOT_PATH, HOME="/root", LANG="C.UTF-8", **(env or {}))
            full = [*enter, "env", "-i", *_assignments(variables), *argv]
        else:
            account = self.account(user)
            variables = dict(account.session_env, PATH=USER_PATH, LANG="C.UTF-8", **(env or {}))
            # setpriv --reset-env sets HOME, SHELL, USER and LOGNAME from passwd.
            full = [*enter, "env", "-i", f"PATH={ROOT_PATH}",
                    "setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--init-groups",
                    "--reset-env", "env", *_assignments(variables), *argv]
        # Messages show what ran and as whom, not the nsenter/setpriv plumbing.
        shown_as = argv if user is None else [f"({user})", *argv]
        return runner.Started(full, timeout=timeout, input=input, shown_as=shown_as)

    @contextlib.contextmanager
    def background(self, cmd, user=None, timeout=30, env=None):
        """Runs cmd while the block runs, for commands that wait for something the block does
        (a click on a notification); yields its runner.Started, whose result() waits for it.
        If the block fails, the command is killed at once rather than left to its deadline."""
        started = self.start(cmd, user=user, timeout=timeout, env=env)
        try:
            yield started
        except BaseException as error:
            stdout, stderr = started.kill()
            error.add_note(f"meanwhile, in the background: {shlex.join(started.shown_as)}\n"
                           f"--- stdout ---\n{stdout.rstrip()}\n--- stderr ---\n{stderr.rstrip()}")
            raise

    def path(self, container_path):
        """The host path of a file inside the running container (its mounts included)."""
        return Path(f"/proc/{self._require_pid1()}/root") / str(container_path).lstrip("/")

    def account(self, user):
        """The passwd entry of `user` (a name or a uid) inside the container."""
        for line in self.path("/etc/passwd").read_text().splitlines():
            name, _, uid, gid, _, home, _ = line.split(":")
            if str(user) in (name, uid):
                return Account(name, int(uid), int(gid), home)
        raise ContainerError(f"no user {user!r} in the container's /etc/passwd")

    def journal(self, unit, user_unit=False, lines=200):
        """The journal of a system unit (or, with user_unit, of a unit of a user manager)."""
        selector = f"--user-unit={unit}" if user_unit else f"--unit={unit}"
        return self.exec(["journalctl", "--no-pager", "-o", "short-precise", "-n", str(lines),
                          selector], check=False, timeout=15).stdout

    # ---- liaison ---------------------------------------------------------------------------

    def install_liaison(self, build_dir):
        """Installs a liaison build (`cmake --install`, prefix /usr) and lets systemd see it.

        Raises if the build is missing, cannot be installed, or the binary cannot run here.
        """
        build_dir = Path(build_dir).resolve()
        try:
            runner.run(["cmake", "--install", str(build_dir), "--prefix", "/usr"],
                       env=dict(os.environ, DESTDIR=str(self.merged)), timeout=120)
        except CommandError as error:
            raise ContainerError(f"cannot install liaison from {build_dir} (is it built? "
                                 f"--liaison-build-dir picks the build):\n{error}") from None
        self.exec(["systemd-sysusers"], timeout=30)
        self.exec(["systemctl", "daemon-reload"], timeout=30)
        self._check_runnable("/usr/bin/liaison")

    def install_test_program(self, program, name):
        """Copies a test program of the build (the storm's notification sink) to
        /usr/local/bin/NAME in the container."""
        target = self.path(f"/usr/local/bin/{name}")
        shutil.copyfile(program, target)
        target.chmod(0o755)

    def add_users(self, names, first_uid):
        """Creates users NAME (uids from first_uid on, each with a group of its own and a home),
        in one `newusers` call however many."""
        lines = "".join(f"{name}:*:{first_uid + i}:{first_uid + i}::/home/{name}:/bin/sh\n"
                        for i, name in enumerate(names))
        self.exec(["newusers"], input=lines, timeout=120)

    def _check_runnable(self, binary):
        """Fails with the missing libraries when the binary cannot start in the container."""
        if not self.path(binary).exists():
            raise ContainerError(f"cmake --install put no {binary} into the container")
        ldd = self.exec(["ldd", binary], check=False, timeout=15)
        if ldd.returncode != 0 or "not found" in ldd.stdout:
            raise ContainerError(f"{binary} cannot run in the container:\n{runner.describe(ldd)}")

    # ---- desktop logins --------------------------------------------------------------------

    def login_x11(self, user, display=None):
        """Logs `user` in to an X11 desktop (Xvfb + dunst); returns the logind session id.

        `display` (":N") pins the X display; by default Xvfb picks a free one. Returns once
        dunst owns org.freedesktop.Notifications on the user's bus and the user's service
        manager has DISPLAY.
        """
        args = [display] if display else []
        return self._login(user, "x11", ["/usr/local/bin/liaison-test-x11-session", *args])

    def login_wayland(self, user):
        """Logs `user` in to a Wayland desktop (headless sway + mako, no DISPLAY anywhere);
        returns the logind session id once mako serves notifications and the user's service
        manager has WAYLAND_DISPLAY."""
        return self._login(user, "wayland", ["/usr/local/bin/liaison-test-wayland-session"])

    def login_light(self, user):
        """Logs `user` in to a session with no display server, only a notification server that
        logs what it receives (tests/e2e/storm): the login storm's sessions. logind types it
        x11, so liaison serves it like a desktop."""
        return self._login(user, "x11", ["/usr/local/lib/liaison-test/desktop.py", "light"])

    def logout(self, session_id, timeout=10):
        """Terminates a logind session (a logout) and waits until logind has forgotten it."""
        self.exec(["loginctl", "terminate-session", session_id], timeout=15)
        # logind emits no event a shell can wait on; the loop runs inside the container.
        wait = 'while loginctl show-session "$1" >/dev/null 2>&1; do sleep 0.05; done'
        try:
            self.exec(["timeout", str(timeout), "sh", "-c", wait, "wait", session_id],
                      timeout=timeout + 5)
        except CommandError as error:
            status = self.session_status(session_id)
            raise ContainerError(f"session {session_id} still exists {timeout} s after "
                                 f"terminate-session:\n{status}") from error
        self._logins.pop(session_id, None)

    def logins(self):
        """The desktop logins this container started that have not been logged out."""
        return list(self._logins.values())

    def login(self, session_id):
        """The desktop login of a session this container started (display, server, unit)."""
        return self._logins[session_id]

    def session_properties(self, session_id):
        """logind's record of a session, as `loginctl show-session` prints it, as a dict."""
        output = self.exec(["loginctl", "show-session", session_id], timeout=15).stdout
        return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)

    def session_status(self, session_id):
        return self.exec(["loginctl", "session-status", session_id], check=False,
                         timeout=15).stdout

    def session_processes(self, session_id):
        """{pid: command name} of every process logind counts in the session."""
        table = self.exec(["ps", "-eo", "pid=,lsession=,comm="], timeout=15).stdout
        rows = (line.split(None, 2) for line in table.splitlines())
        return {int(pid): comm for pid, session, comm in rows if session == session_id}

    def user_manager_environment(self, user):
        """The environment of the user's service manager (what its units start with)."""
        output = self.exec(["systemctl", "--user", f"--machine={self.account(user).name}@",
                            "show-environment"], timeout=15).stdout
        return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)

    def environ(self, pid):
        """The environment of a process in the container, as a dict."""
        raw = self.path(f"/proc/{pid}/environ").read_bytes()
        return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0")
                    if "=" in item)

    def process_ids(self, pid):
        """{"Uid": [real, effective, saved, fs], "Gid": [...]} of a process in the container."""
        status = self.path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {key: [int(v) for v in fields[key].split()] for key in ("Uid", "Gid")}

    def process_running(self, pid):
        """True while the process exists in the container and is not a zombie."""
        try:
            status = self.path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        return "State:\tZ" not in status

    def _login(self, user, session_type, argv):
        """Starts a PAM session whose leader is the desktop program; it reports READY=1 (the
        unit is Type=notify, so systemd-run returns) only once the desktop is up."""
        unit = self._next_unit_name(user)
        command = ["systemd-run", f"--unit={unit}", "--collect", "--quiet",
                   "--property=Type=notify", f"--property=TimeoutStartSec={LOGIN_TIMEOUT_S}",
                   "--property=PAMName=login",
                   f"--property=Environment=XDG_SESSION_TYPE={session_type}",
                   "--property=Environment=XDG_SESSION_CLASS=user",
                   f"--uid={user}", *argv]
        try:
            self.exec(command, timeout=LOGIN_TIMEOUT_S + 10)
        except CommandError as error:
            raise ContainerError(f"{session_type} login of {user} failed: {error}\n"
                                 f"--- journal of {unit} ---\n{self.journal(unit)}") from error
        status = self._unit_status(unit)
        login = Login(user=user, session=status["session"], type=session_type, unit=unit,
                      notification_server=status["notifications"], status=status)
        self._logins[login.session] = login
        return login.session

    def _next_unit_name(self, user):
        """desk-USER for a user's first login, desk-USER-2 for the second, ..."""
        count = self._login_count.get(user, 0) + 1
        self._login_count[user] = count
        return f"desk-{user}" if count == 1 else f"desk-{user}-{count}"

    def _unit_status(self, unit):
        """The key=value pairs the desktop program put in its unit's status line."""
        text = self.exec(["systemctl", "show", unit, "--property=StatusText", "--value"],
                         timeout=15).stdout.strip()
        status = dict(field.split("=", 1) for field in text.split() if "=" in field)
        if not status.get("session"):
            raise ContainerError(f"{unit} reported no logind session (status line {text!r}):\n"
                                 f"{self.journal(unit)}")
        return status

    # ---- notifications ---------------------------------------------------------------------

    def notifications(self, user):
        """Every notification the user's notification server showed, oldest first.

        One dict per notification id (a replacement keeps its id; the latest content wins):
        {id, summary, body, appname, urgency, icon, category, actions, open, server}.
        `body` is what the server received (markup included). `open` tells whether it is
        still on screen. `actions` ({key: label}) is None under dunst, which does not report
        actions; invoke_action() works there all the same.
        """
        server = self._notification_server(user)
        received = {}
        for entry in self._notification_log(user):
            received.pop(entry["id"], None)  # a replacement moves to the end
            received[entry["id"]] = entry
        on_screen = self._ids_on_screen(user, server, received.keys())
        return [dict({"actions": None}, **entry, open=entry["id"] in on_screen, server=server)
                for entry in received.values()]

    def wait_for_notification(self, user, summary, timeout=5):
        """Waits until the user's server has shown a notification titled `summary`; returns
        the newest such notification."""
        found = runner.poll_until(
            lambda: [n for n in self.notifications(user) if n["summary"] == summary],
            timeout=timeout, what=f"a notification {summary!r} for {user}")
        return found[-1]

    def invoke_action(self, user, notification_id, action="default"):
        """Clicks `action` (an action key; "default" is a click on the body) of a notification
        on the user's screen, as the user does; the server then emits ActionInvoked."""
        server = self._notification_server(user)
        if server == "dunst":
            # dunstctl invokes only the default action, by position: go through dunst's
            # context menu, whose "dmenu" picks the line for this id and action.
            self.exec(["liaison-test-dunst-invoke", str(notification_id), action], user=user,
                      timeout=15)
            return
        listed = {n["id"]["data"]: n for n in self._mako_list(user)}
        actions = listed.get(notification_id, {}).get("actions", {}).get("data", {})
        if action not in actions:
            raise ContainerError(f"mako of {user} shows no action {action!r} on notification "
                                 f"{notification_id}; it shows: {json.dumps(listed)}")
        self.exec(["makoctl", "invoke", "-n", str(notification_id), action], user=user,
                  timeout=15)

    def _notification_server(self, user):
        """The server of the user's logins that started one ("dunst" or "mako")."""
        name = self.account(user).name
        servers = {login.notification_server for login in self._logins.values()
                   if login.user == name and login.notification_server != "shared"}
        if len(servers) != 1:
            raise ContainerError(f"{name} has no desktop login with a notification server "
                                 f"(logins: {self.logins()})")
        return servers.pop()

    def _notification_log(self, user):
        """What the server's logging hook recorded (see liaison-test-dunst-log / -mako-log)."""
        log = self.path(f"{self.account(user).runtime_dir}/{NOTIFICATION_LOG}")
        try:
            text = log.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _ids_on_screen(self, user, server, received_ids):
        if server == "mako":
            return {n["id"]["data"] for n in self._mako_list(user)}
        history = self.exec(["dunstctl", "history"], user=user, timeout=15).stdout
        closed = {n["id"]["data"] for n in json.loads(history)["data"][0]}
        return set(received_ids) - closed

    def _mako_list(self, user):
        listing = self.exec(["makoctl", "list"], user=user, timeout=15).stdout
        return json.loads(listing)["data"][0]

    # ---- boot and teardown steps -----------------------------------------------------------

    def _write_state(self):
        """Records who owns this container, for reap_orphans() after a killed test run."""
        state = {"owner_pid": os.getpid(), "owner_start": _start_time(os.getpid()),
                 "rootfs": str(self.rootfs), "nspawn_pid": self._nspawn_pid, "pid1": self.pid1}
        (self.workdir / "state.json").write_text(json.dumps(state))

    def _mount_overlay(self):
        for part in ("upper", "work", "merged"):
            (self.workdir / part).mkdir()
        options = (f"lowerdir={self.rootfs},upperdir={self.workdir / 'upper'},"
                   f"workdir={self.workdir / 'work'}")
        runner.run(["mount", "-t", "overlay", "overlay", "-o", options, str(self.merged)],
                   timeout=30)

    def _start_nspawn(self):
        """Starts systemd-nspawn in its own cgroups, so that its leftovers are ours to remove
        and two test runs never share nspawn's payload/supervisor cgroups."""
        cgroups = [root / self.name for root in _cgroup_roots()]
        for cgroup in cgroups:
            cgroup.mkdir(exist_ok=True)
        command = ["systemd-nspawn", "--quiet", "-D", str(self.merged), "--boot",
                   "--register=no", "--keep-unit", f"--machine={self.name}"]
        # /dev/fuse: a user's own FUSE mount is one of the attacks the daemon must survive
        # (tests/e2e/test_hardening.py, which fails saying so where the host has none); nspawn
        # leaves it out of the container's /dev.
        if Path("/dev/fuse").exists():
            command.append("--bind=/dev/fuse")
        with open(self.console_log, "wb") as console:
            nspawn = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=lambda: _join_cgroups(cgroups))
        self._nspawn_pid = nspawn.pid
        self._nspawn = nspawn
        self._write_state()

    def _wait_for_pid1(self, deadline):
        """The container's systemd: the child of systemd-nspawn that became `systemd`."""
        def find():
            if self._nspawn.poll() is not None:
                raise ContainerError(f"systemd-nspawn exited with status {self._nspawn.returncode}:"
                                     f"\n{self._console_tail()}")
            for child in _children(self._nspawn_pid):
                if _read(f"/proc/{child}/comm").strip() == "systemd":
                    return child
            return None
        return runner.poll_until(find, timeout=max(deadline - time.monotonic(), 0), interval=0.02,
                                 what=f"systemd as PID 1 of {self.name}")

    def _wait_until_booted(self, deadline):
        """`systemctl is-system-running --wait` blocks until boot finished; it can only connect
        once PID 1 has set up its socket, so the first tries may fail at once."""
        def state():
            remaining = max(deadline - time.monotonic(), 1)
            result = self.exec(["systemctl", "is-system-running", "--wait"], check=False,
                               timeout=remaining)
            return result.stdout.strip() or result.stderr.strip()
        final = runner.poll_until(state, until=lambda s: s in SETTLED_STATES,
                                  timeout=max(deadline - time.monotonic(), 0),
                                  what=f"boot of {self.name}")
        if final not in ("running", "degraded"):
            failed = self.exec(["systemctl", "--failed", "--no-pager"], check=False, timeout=15)
            raise ContainerError(f"{self.name} booted into state {final!r}:\n{failed.stdout}")

    def _stop_nspawn(self):
        """SIGTERM makes systemd-nspawn halt the container cleanly (about 1 s); SIGKILL after
        10 s. Killing the container's PID 1 last kills whatever is left in its PID namespace."""
        pid = self._nspawn_pid
        if pid and f"--machine={self.name}" in _read(f"/proc/{pid}/cmdline").split("\0"):
            os.kill(pid, signal.SIGTERM)
            if not _wait_for_exit(pid, timeout=10):
                runner.kill_group(pid)
                _wait_for_exit(pid, timeout=5)
        if self.pid1 and _root_of(self.pid1) == str(self.merged):
            os.kill(self.pid1, signal.SIGKILL)
            _wait_for_exit(self.pid1, timeout=5)
        if self._nspawn is not None:
            self._nspawn.wait(timeout=5)  # reap it: it has exited, or been killed, by now

    def _unmount_overlay(self):
        if os.path.ismount(self.merged):
            result = runner.run(["umount", str(self.merged)], timeout=30, check=False)
            if result.returncode != 0:
                runner.run(["umount", "--lazy", str(self.merged)], timeout=30)

    def _remove_cgroups(self):
        """rmdir's the (empty) cgroups systemd-nspawn leaves under ours, deepest first."""
        for root in _cgroup_roots():
            top = root / self.name
            if not top.is_dir():
                continue
            for directory in sorted((p for p in top.rglob("*") if p.is_dir()),
                                    key=lambda p: len(p.parts), reverse=True):
                directory.rmdir()
            top.rmdir()

    def _remove_workdir(self):
        if os.path.ismount(self.merged):
            raise ContainerError(f"{self.merged} is still mounted; leaving {self.workdir}")
        if self.workdir.exists():
            shutil.rmtree(self.workdir)

    def _console_tail(self, lines=30):
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def _require_pid1(self):
        if not self.pid1:
            raise ContainerError(f"{self.name} is not running")
        return self.pid1

    def __repr__(self):
        return f"Container({self.name}, pid1={self.pid1})"


# ---- host process and cgroup helpers ----------------------------------------------------------

def _cgroup_roots():
    """The hierarchies systemd-nspawn puts cgroups in: the unified one, and on a hybrid host
    also the named systemd v1 one."""
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():
        return [base]
    return [base / name for name in ("systemd", "unified") if (base / name).is_dir()]


def _join_cgroups(cgroups):
    """Runs in the child before exec: moves it into the given cgroups."""
    for cgroup in cgroups:
        (cgroup / "cgroup.procs").write_text("0")


def _assignments(variables):
    return [f"{key}={value}" for key, value in variables.items()]


def _children(pid):
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children += _read(task / "children").split()
    return [int(child) for child in children]


def _read(path):
    try:
        return Path(path).read_text()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _start_time(pid):
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    stat = _read(f"/proc/{pid}/stat")
    return int(stat.rsplit(")", 1)[1].split()[19]) if stat else None


def _process_alive(pid, start_time=None):
    if not pid or not Path(f"/proc/{pid}").exists():
        return False
    status = _read(f"/proc/{pid}/status")
    if "State:\tZ" in status:
        return False
    return start_time is None or _start_time(pid) == start_time


def _root_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None


def _wait_for_exit(pid, timeout):
    """Waits on a pidfd (no polling) until the process exited; False on timeout."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)

