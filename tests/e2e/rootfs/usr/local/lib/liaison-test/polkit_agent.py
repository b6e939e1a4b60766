#!/usr/bin/python3
"""A polkit authentication agent for the presence tests (issue 26), as small as one can be.

Started as root by the test, it joins the session's scope (polkit takes a registration only from
a process of that session), drops to the session's user, and registers for the session. On
BeginAuthentication it runs polkit's own setuid helper, polkit-agent-helper-1, which asks PAM:
the password is checked for real, and the helper, not this agent, tells polkitd the outcome.

  --mode answer  answers every prompt with --password (right or wrong)
  --mode silent  never answers: the prompt stays until polkit cancels it
Every event goes to --log as a JSON line: begin (action, message, details, cookie), helper
(SUCCESS or FAILURE), cancel. "registered" is printed on stdout once polkit took the agent.
"""

import argparse
import json
import os
import pwd
import subprocess
import sys
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

HELPER = "/usr/lib/polkit-1/polkit-agent-helper-1"
OBJECT_PATH = "/dev/liaison/test/AuthenticationAgent"
AGENT_INTERFACE = "org.freedesktop.PolicyKit1.AuthenticationAgent"


def join_session_scope(uid, session):
    """Moves this process into the session's scope, in each cgroup hierarchy the container
    has (the hybrid layout: the systemd one and the unified one)."""
    scope = f"user.slice/user-{uid}.slice/session-{session}.scope/cgroup.procs"
    joined = 0
    for root in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        path = os.path.join(root, scope)
        if os.path.exists(path):
            with open(path, "w") as procs:
                procs.write(str(os.getpid()))
            joined += 1
    if not joined:
        sys.exit(f"no scope of session {session} to join")


def drop_to(user):
    os.initgroups(user.pw_name, user.pw_gid)
    os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
    os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)


def run_helper(user_name, cookie, password):
    """What a real agent does with the user's typing: the helper asks PAM, we answer."""
    helper = subprocess.Popen([HELPER, user_name], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    helper.stdin.write(cookie + "\n")
    helper.stdin.flush()
    outcome = "FAILURE"
    for line in helper.stdout:
        if line.startswith("PAM_PROMPT_ECHO"):
            helper.stdin.write(password + "\n")
            helper.stdin.flush()
        elif line.strip() in ("SUCCESS", "FAILURE"):
            outcome = line.strip()
            break
    helper.stdin.close()
    helper.wait()
    return outcome


class Agent(dbus.service.Object):
    def __init__(self, bus, options):
        super().__init__(bus, OBJECT_PATH)
        self.options = options
        self.waiting = {}  # cookie -> the error callback of an unanswered prompt

    def log(self, **event):
        # CLOCK_MONOTONIC: the host's clock too (no time namespace), for make bench's latency.
        with open(self.options.log, "a") as out:
            out.write(json.dumps(dict(event, at=time.monotonic())) + "\n")

    @dbus.service.method(AGENT_INTERFACE, in_signature="sssa{ss}sa(sa{sv})", out_signature="",
                         async_callbacks=("reply", "error"))
    def BeginAuthentication(self, action_id, message, icon_name, details, cookie, identities,
                            reply, error):
        self.log(event="begin", action=str(action_id), message=str(message),
                 details={str(k): str(v) for k, v in details.items()}, cookie=str(cookie))
        if self.options.mode == "silent":
            self.waiting[str(cookie)] = error
            return
        uid = next(int(i[1]["uid"]) for i in identities if i[0] == "unix-user")
        outcome = run_helper(pwd.getpwuid(uid).pw_name, str(cookie), self.options.password)
        self.log(event="helper", outcome=outcome)
        reply()

    @dbus.service.method(AGENT_INTERFACE, in_signature="s", out_signature="")
    def CancelAuthentication(self, cookie):
        self.log(event="cancel", cookie=str(cookie))
        error = self.waiting.pop(str(cookie), None)
        if error:
            error(dbus.DBusException("cancelled",
                                     name="org.freedesktop.PolicyKit1.Error.Cancelled"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--mode", choices=("answer", "silent"), default="answer")
    parser.add_argument("--password", default="")
    parser.add_argument("--log", required=True)
    options = parser.parse_args()

    user = pwd.getpwnam(options.user)
    join_session_scope(user.pw_uid, options.session)
    drop_to(user)

    DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    agent = Agent(bus, options)
    authority = bus.get_object("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority")
    subject = ("unix-session", {"session-id": dbus.String(options.session, variant_level=1)})
    authority.RegisterAuthenticationAgent(subject, "C.UTF-8", OBJECT_PATH,
                                          dbus_interface="org.freedesktop.PolicyKit1.Authority")
    agent.log(event="registered", session=options.session)
    print("registered", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
