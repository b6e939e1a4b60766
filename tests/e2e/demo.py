#!/usr/bin/python3
"""`make demo`: liaison's story, told in a throwaway container, one labelled step at a time.

    sudo /usr/bin/python3 tests/e2e/demo.py [--build-dir build]

It boots the e2e harness's Debian 12 container (systemd + logind; see README.md here), logs
alice in to an X11 desktop (Xvfb + dunst) and bob in to a Wayland one (headless sway + mako, no
DISPLAY), installs liaison from the build directory, starts liaison.service and shows: both
agents ready, notifications reaching only the targeted user's notification server (what the
server received, read from the harness's notification log), the setuid-only attempt failing
next to liaison succeeding, a question answered by a click, `liaison doctor` checking every
session, and a logout stopping that user's agent. Exit status 0 when every step worked; 1 with the failing step named otherwise. The
container is always torn down.
"""

import argparse
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rootfs  # noqa: E402  (the harness's modules live next to this file)
from container import Container  # noqa: E402
from runner import describe, observe_until, poll_until  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS = 10
READY_TIMEOUT_S = 10
INDENT = "      "
AUTOLAUNCH_FAILURE = "Cannot autolaunch D-Bus without X11 $DISPLAY"


class DemoFailure(Exception):
    """A step did not show what it should; the message says what was seen instead."""


class Demo:
    def __init__(self, container, build_dir):
        self.c = container
        self.build_dir = build_dir
        self.number = 0
        self.sessions = {}  # user -> logind session id

    # ---- printing ----------------------------------------------------------------------------

    def step(self, title):
        self.number += 1
        print(f"\n[{self.number}/{STEPS}] {title}", flush=True)

    @staticmethod
    def say(text=""):
        for line in str(text).splitlines() or [""]:
            print(f"{INDENT}{line}", flush=True)

    def run(self, argv, user=None, check=True, timeout=30, show=None):
        """Runs a command in the container, printing it as typed there ('#' root, '$' user)."""
        prompt = "#" if user is None else f"{user}$"
        self.say(f"{prompt} {show or shlex.join(argv)}")
        result = self.c.exec(argv, user=user, check=False, timeout=timeout)
        if check and result.returncode != 0:
            raise DemoFailure(f"the command failed:\n{describe(result)}")
        return result

    def show_output(self, result):
        for text in (result.stdout, result.stderr):
            if text.strip():
                self.say(text.rstrip())

    # ---- helpers -----------------------------------------------------------------------------

    def listing(self):
        result = self.c.exec(["liaison", "sessions", "--json"], check=False, timeout=15)
        if result.returncode != 0:
            raise DemoFailure(f"`liaison sessions --json` failed:\n{describe(result)}")
        return {entry["session"]: entry for entry in json.loads(result.stdout)}

    def received(self, user, title, timeout=5):
        """What the user's notification server received for `title` (the harness's log)."""
        try:
            return self.c.wait_for_notification(user, title, timeout=timeout)
        except TimeoutError as error:
            raise DemoFailure(f"{user}'s notification server never showed {title!r}:\n{error}")

    def assert_nothing_for(self, user, title):
        """Fails if `user`'s server shows `title`; gives a stray delivery a moment to land."""
        seen = observe_until(
            lambda: [n for n in self.c.notifications(user) if n["summary"] == title],
            until=bool, timeout=0.3)
        if seen:
            raise DemoFailure(f"{user}'s server received {title!r}, meant for someone else: {seen}")
        self.say(f"{user}'s {self.server(user)} received: nothing")

    def server(self, user):
        return {"alice": "dunst", "bob": "mako"}[user]

    def describe_notification(self, user, shown):
        self.say(f"{user}'s {shown['server']} received: app {shown['appname']!r}, "
                 f"summary {shown['summary']!r}, body {shown['body']!r}")

    # ---- the story ---------------------------------------------------------------------------

    def boot(self):
        self.step("Boot a throwaway Debian 12 container with systemd and logind")
        started = time.monotonic()
        self.c.boot()
        self.say(f"systemd-nspawn --boot on an overlay of {self.c.rootfs}")
        self.say(f"{self.c.name} is up ({time.monotonic() - started:.1f} s)")

    def log_in(self):
        self.step("Log in alice (X11: Xvfb + dunst) and bob (Wayland: sway + mako, no DISPLAY)")
        self.say("real PAM sessions, as the harness starts them (abridged):")
        for user, kind, program in (("alice", "x11", "liaison-test-x11-session"),
                                    ("bob", "wayland", "liaison-test-wayland-session")):
            self.say(f"# systemd-run -p Type=notify -p PAMName=login -p Environment="
                     f"XDG_SESSION_TYPE={kind} -p Environment=XDG_SESSION_CLASS=user "
                     f"--uid={user} {program}")
            login = self.c.login_x11 if kind == "x11" else self.c.login_wayland
            self.sessions[user] = login(user)
        alice = self.c.login(self.sessions["alice"]).status
        bob = self.c.login(self.sessions["bob"]).status
        bob_manager = self.c.user_manager_environment("bob")
        if "DISPLAY" in bob_manager or not bob_manager.get("WAYLAND_DISPLAY"):
            raise DemoFailure(f"bob's service manager environment is not Wayland-only: "
                              f"{bob_manager}")
        self.say(f"alice: session {self.sessions['alice']}, type x11, DISPLAY={alice['display']}, "
                 f"notification server {alice['notifications']}")
        self.say(f"bob:   session {self.sessions['bob']}, type wayland, "
                 f"WAYLAND_DISPLAY={bob['wayland_display']}, DISPLAY unset, "
                 f"notification server {bob['notifications']}")

    def install_and_start(self):
        self.step("Install liaison and start liaison.service")
        self.say(f"$ DESTDIR=<container root> cmake --install {self.build_dir} --prefix /usr")
        try:
            self.c.install_liaison(self.build_dir)
        except Exception as error:  # the harness's hint names pytest's option; ours differs
            raise DemoFailure(str(error).replace("--liaison-build-dir", "--build-dir"))
        self.say("# systemd-sysusers && systemctl daemon-reload")
        self.run(["systemctl", "start", "liaison.service"])
        try:
            poll_until(self.listing, timeout=READY_TIMEOUT_S, what="two ready agents",
                       until=lambda listed: all(
                           listed.get(s, {}).get("agent", {}).get("state") == "ready"
                           for s in self.sessions.values()))
        except TimeoutError as error:
            raise DemoFailure(f"{error}\n--- journal of liaison.service ---\n"
                              f"{self.c.journal('liaison.service')}")
        self.say("liaison.service is running (Type=notify: it said READY=1)")

    def show_sessions(self):
        self.step("`liaison sessions`: one ready agent in each session")
        self.show_output(self.run(["liaison", "sessions"]))
        listed = self.listing()
        for user in ("alice", "bob"):
            agent = listed[self.sessions[user]]["agent"]
            env = self.c.environ(agent["pid"])
            uid = self.c.process_ids(agent["pid"])["Uid"][0]
            shown = [f"{key}={env[key]}" for key in ("DISPLAY", "WAYLAND_DISPLAY") if key in env]
            self.say(f"{user}'s agent: pid {agent['pid']}, uid {uid}, {' '.join(shown)}, "
                     f"DBUS_SESSION_BUS_ADDRESS={env.get('DBUS_SESSION_BUS_ADDRESS')}")
        if "DISPLAY" in self.c.environ(listed[self.sessions["bob"]]["agent"]["pid"]):
            raise DemoFailure("bob's agent has DISPLAY set in a Wayland-only session")

    def notify(self, user, other, title, body):
        self.step(f"Notify {user} only")
        result = self.run(["liaison", "notify", "--user", user, "--title", title, "--body", body])
        self.show_output(result)
        self.describe_notification(user, self.received(user, title))
        self.assert_nothing_for(other, title)

    def setuid_only(self):
        self.step("Without liaison: a root daemon that merely setuid()s to alice")
        title = "Disk almost full (setuid-only)"
        argv = ["setpriv", "--reuid=1001", "--regid=1001", "--init-groups", "--reset-env",
                "notify-send", title, "Free up space in /home soon."]
        result = self.run(argv, check=False)
        self.show_output(result)
        if result.returncode == 0 or AUTOLAUNCH_FAILURE not in result.stderr:
            raise DemoFailure(f"the setuid-only attempt should have failed:\n{describe(result)}")
        self.say(f"exit status {result.returncode}: no XDG_RUNTIME_DIR, no session bus to find")
        self.assert_nothing_for("alice", title)
        self.say("the same message through liaison's agent, which runs in her session's context:")
        title = "Disk almost full (liaison)"
        result = self.run(["liaison", "notify", "--user", "alice", "--title", title,
                           "--body", "Free up space in /home soon."])
        self.show_output(result)
        self.describe_notification("alice", self.received("alice", title))

    def question(self):
        self.step("Ask alice a question and act on her answer")
        title = "Restart now?"
        argv = ["liaison", "notify", "--user", "alice", "--title", title,
                "--body", "Updates are installed.", "--action", "restart=Restart",
                "--action", "later=Later", "--wait-action", "30", "--json"]
        self.say(f"# {shlex.join(argv)}")
        with self.c.background(argv, timeout=45) as answer:
            shown = self.received("alice", title)
            self.say(f"(alice's dunst shows {title!r} as notification {shown['id']}; "
                     f"the harness clicks \"Restart\" on it, as alice would)")
            self.c.invoke_action("alice", shown["id"], "restart")
        result = answer.result(check=False)
        self.show_output(result)
        try:
            results = json.loads(result.stdout)["results"]
        except (ValueError, KeyError) as error:
            raise DemoFailure(f"no JSON answer ({error}):\n{describe(result)}")
        if result.returncode != 0 or [r.get("action") for r in results] != ["restart"]:
            raise DemoFailure(f"expected one result with \"action\": \"restart\":\n"
                              f"{describe(result)}")
        self.say('a script reads "action": "restart" and restarts')

    def doctor(self):
        self.step("`liaison doctor`: every session checked from inside, each problem with its fix")
        result = self.run(["liaison", "doctor"], check=False)
        self.show_output(result)
        if result.returncode != 0:
            raise DemoFailure(f"doctor found a failure on a healthy machine:\n{describe(result)}")
        report = json.loads(self.run(["liaison", "doctor", "--json"]).stdout)
        servers = {s["user"]: f["facts"]["name"] for s in report["sessions"]
                   for f in s["findings"] if f["check"] == "notification-server"}
        if servers != {"alice": "dunst", "bob": "mako"}:
            raise DemoFailure(f"doctor should name dunst and mako, named {servers}")

    def logout(self):
        self.step("bob logs out: his agent stops")
        session = self.sessions["bob"]
        pid = self.listing()[session]["agent"]["pid"]
        self.say(f"# loginctl terminate-session {session}")
        self.c.logout(session)
        alive = observe_until(lambda: self.c.process_running(pid), until=lambda a: not a,
                              timeout=5)
        if alive:
            raise DemoFailure(f"bob's agent (pid {pid}) still runs after his logout")
        listed = observe_until(self.listing, until=lambda s: session not in s, timeout=5)
        if session in listed:
            raise DemoFailure(f"`liaison sessions` still lists bob's ended session: {listed}")
        self.say(f"bob's agent (pid {pid}) has exited; alice's is untouched:")
        self.show_output(self.run(["liaison", "sessions"]))

    def tell(self):
        self.boot()
        self.log_in()
        self.install_and_start()
        self.show_sessions()
        self.notify("alice", "bob", "Disk almost full", "Free up space in /home soon.")
        self.notify("bob", "alice", "VPN disconnected", "Reconnect before 17:00.")
        self.setuid_only()
        self.question()
        self.doctor()
        self.logout()


def interrupt(signum, _frame):
    """SIGTERM ends the demo the way Ctrl-C does: through the finally that tears down."""
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build",
                        help="CMake build directory of liaison (default: build)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("demo: must run as root (it boots a systemd-nspawn container)", file=sys.stderr)
        return 1
    build_dir = Path(args.build_dir)
    if not build_dir.is_absolute():
        build_dir = Path.cwd() / build_dir
    signal.signal(signal.SIGTERM, interrupt)
    started = time.monotonic()

    print("liaison demo: one root daemon, one desktop agent in every login session.")
    print("Everything happens in a throwaway container; '#' lines run there as root.")
    Container.reap_orphans()
    image = rootfs.ensure_rootfs(announce=lambda message: print(message, flush=True))
    container = Container(image)
    demo = Demo(container, build_dir)
    try:
        demo.tell()
    except Exception as error:  # every failure ends the same way: named, then torn down
        what = str(error) if isinstance(error, DemoFailure) else f"{type(error).__name__}: {error}"
        print(f"\ndemo FAILED at step {demo.number}/{STEPS}: {what}", file=sys.stderr)
        for note in getattr(error, "__notes__", []):
            print(note, file=sys.stderr)
        if container.pid1:
            journal = container.journal("liaison.service", lines=30).strip()
            if journal and "No entries" not in journal:
                print(f"--- last lines of liaison.service's journal ---\n{journal}",
                      file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ndemo interrupted at step {demo.number}/{STEPS}", file=sys.stderr)
        return 130
    finally:
        container.teardown()
    print(f"\ndemo OK: all {STEPS} steps in {time.monotonic() - started:.1f} s "
          f"(container torn down)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
