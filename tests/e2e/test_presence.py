"""End-to-end tests of `liaison presence` on Linux (issue 26): polkit decides, not our agent.

Real parts: polkitd 122 on the container's system bus, liaison's dev.liaison.presence policy as
`make install` puts it, alice's X11 session and bob's Wayland session, and an authentication
agent registered for a session (rootfs/usr/local/lib/liaison-test/polkit_agent.py) that answers
through polkit's own setuid helper, so PAM checks a real password. Each test starts the agents it
needs and stops them; the daemon runs the default `exec` strategy.
"""

import contextlib
import json
import time

import pytest

from liaison_cli import liaison, parse_json, run_with_default_config, wait_for_ready_agents
from runner import describe, poll_until

AGENT = "/usr/local/lib/liaison-test/polkit_agent.py"
PASSWORDS = {"alice": "alice-Pa55word", "bob": "bob-Pa55word"}
REASON = "Approve the VPN profile for Example Corp"


@pytest.fixture(scope="module")
def passwords(installed):
    """alice and bob get real passwords: PAM checks them."""
    lines = "".join(f"{user}:{password}\n" for user, password in PASSWORDS.items())
    installed.exec(["chpasswd"], input=lines)
    return PASSWORDS


@pytest.fixture
def daemon(installed, desktops, passwords):
    """The daemon with the default configuration and ready agents for both desktops."""
    run_with_default_config(installed)
    installed.exec(["systemctl", "start", "polkit.service"], timeout=30)
    return wait_for_ready_agents(installed, desktops.values())


class AgentLog:
    """The JSON lines the test authentication agent writes: what polkit asked it."""

    def __init__(self, container, session):
        self.container = container
        self.path = f"/tmp/polkit-agent-{session}.jsonl"

    def events(self, kind=None):
        host = self.container.path(self.path)
        if not host.exists():
            return []
        events = [json.loads(line) for line in host.read_text().splitlines() if line.strip()]
        return [e for e in events if kind is None or e["event"] == kind]

    def wait_for(self, kind, count=1, timeout=15):
        return poll_until(lambda: self.events(kind), until=lambda seen: len(seen) >= count,
                          timeout=timeout, what=f"{count} {kind!r} event(s) in {self.path}")


@contextlib.contextmanager
def auth_agent(container, user, session, *, mode="answer", password=None):
    """A polkit authentication agent of `user` registered for `session` while the block runs."""
    log = AgentLog(container, session)
    container.exec(["rm", "-f", log.path])
    argv = ["python3", AGENT, "--user", user, "--session", session, "--mode", mode,
            "--password", password if password is not None else PASSWORDS[user], "--log", log.path]
    with container.background(argv, timeout=300) as started:
        log.wait_for("registered")
        yield log
        started.kill()
    # polkit forgets an agent once its bus name is gone; the next test may need none.
    time.sleep(0.2)


def presence(container, *args, user=None, timeout=60):
    return liaison(container, "presence", "--reason", REASON, *args, user=user, timeout=timeout)


def check_result(result, expected_status):
    assert result.returncode == expected_status, describe(result)
    return parse_json(result)


def test_the_right_password_confirms_and_the_prompt_shows_the_reason(container, desktops, daemon):
    with auth_agent(container, "alice", desktops["alice"]) as log:
        answer = check_result(presence(container, "--user", "alice", "--json"), 0)
        assert answer == {"session": desktops["alice"], "uid": container.account("alice").uid,
                          "user": "alice", "result": "confirmed"}
        [begin] = log.events("begin")
        assert begin["action"] == "dev.liaison.presence"
        assert begin["message"] == REASON
        assert [e["outcome"] for e in log.events("helper")] == ["SUCCESS"]


def test_a_wrong_password_is_denied(container, desktops, daemon):
    with auth_agent(container, "alice", desktops["alice"], password="not-her-password") as log:
        answer = check_result(presence(container, "--user", "alice", "--json"), 1)
        assert answer["result"] == "denied", answer
        assert answer["detail"] == "authentication failed", answer
        assert [e["outcome"] for e in log.events("helper")] == ["FAILURE"]
    human = presence(container, "--user", "alice")
    assert human.returncode == 1, describe(human)
    assert "presence not confirmed" in human.stderr, describe(human)


def test_an_agent_that_never_answers_times_out_and_polkit_is_told_to_cancel(
        container, desktops, daemon):
    with auth_agent(container, "alice", desktops["alice"], mode="silent") as log:
        answer = check_result(presence(container, "--user", "alice", "--timeout", "2", "--json"), 1)
        assert answer["result"] == "timeout", answer
        assert "withdrawn" in answer["detail"], answer
        [begin] = log.events("begin")
        [cancel] = log.wait_for("cancel")
        assert cancel["cookie"] == begin["cookie"]


def test_without_an_authentication_agent_it_is_no_agent(container, desktops, daemon):
    answer = check_result(presence(container, "--user", "alice", "--json"), 1)
    assert answer["result"] == "no_agent", answer
    assert f"registered for session {desktops['alice']}" in answer["detail"], answer


def test_a_second_check_is_busy_and_a_caller_that_goes_away_withdraws_the_prompt(
        container, desktops, daemon):
    with auth_agent(container, "alice", desktops["alice"], mode="silent") as log:
        with container.background(["liaison", "presence", "--user", "alice", "--reason", REASON,
                                   "--timeout", "120"], timeout=150) as first:
            [begin] = log.wait_for("begin")
            second = check_result(presence(container, "--user", "alice", "--json"), 1)
            assert second["result"] == "busy", second
            first.kill()  # the operator's Ctrl-C: the connection closes
            [cancel] = log.wait_for("cancel")
            assert cancel["cookie"] == begin["cookie"]
        # The session is free again at once.
        answer = check_result(presence(container, "--user", "alice", "--timeout", "1", "--json"),
                              1)
        assert answer["result"] == "timeout", answer


def test_bob_cannot_answer_for_alice(container, desktops, daemon):
    # bob's own agent, in his own session, is never asked about alice's session.
    with auth_agent(container, "bob", desktops["bob"]) as bobs:
        answer = check_result(presence(container, "--user", "alice", "--json"), 1)
        assert answer["result"] == "no_agent", answer
        assert bobs.events("begin") == []
    # Nor can bob register an agent for alice's session: polkit wants a process of that session.
    register = container.exec(["python3", "-c", REGISTER_FOR_SESSION, desktops["alice"]],
                              user="bob", check=False)
    assert register.stdout.startswith("refused"), describe(register)
    # And a check names one user's session only.
    wrong = presence(container, "--user", "bob", "--session", desktops["alice"])
    assert wrong.returncode == 4, describe(wrong)
    assert f"session {desktops['alice']} is not bob's" in wrong.stderr, describe(wrong)


def test_no_user_process_can_fake_a_confirmation(container, desktops, daemon):
    with auth_agent(container, "alice", desktops["alice"], mode="silent") as log:
        with container.background(["liaison", "presence", "--user", "alice", "--reason", REASON,
                                   "--timeout", "4", "--json"], timeout=60) as check:
            [begin] = log.wait_for("begin")
            # alice's own process (her agent, hijacked) tells polkit "authenticated": only uid 0,
            # polkit's setuid helper after PAM said yes, may.
            forged = container.exec(["python3", "-c", RESPOND_FOR_COOKIE, begin["cookie"],
                                     str(container.account("alice").uid)],
                                    user="alice", check=False)
            assert forged.stdout.startswith("refused"), describe(forged)
            assert "uid 0" in forged.stdout, describe(forged)
            answer = json.loads(check.result(check=False).stdout)
        assert answer["result"] == "timeout", answer
    # Nor may a user outside group liaison ask the daemon anything.
    carols = presence(container, "--user", "alice", user="carol")
    assert carols.returncode == 3, describe(carols)


def start_time(container, pid):
    """Field 22 of /proc/PID/stat: with the pid, one process for good."""
    stat = container.path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def pkcheck(container, pid, uid):
    return container.exec(["pkcheck", "--action-id", "dev.liaison.presence", "--process",
                           f"{pid},{start_time(container, pid)},{uid}",
                           "--allow-user-interaction"], check=False, timeout=30)


def test_a_process_outside_every_session_is_asked_about_in_the_users_display_session(
        container, desktops, daemon):
    """What polkit does with a subject outside every session, as liaison's agent is under
    asuser and launch-agent (it runs in user@UID.service): polkitd 122 falls back to the user's
    display session (logind's Display, sd_uid_get_display) and asks that session's agent. For a
    user with several sessions that is not necessarily the one asked, so the daemon names the
    session's leader, which belongs to exactly that session."""
    uid = container.account("alice").uid
    manager = int(container.exec(["systemctl", "show", "--property=MainPID", "--value",
                                  f"user@{uid}.service"]).stdout)
    display = container.exec(["loginctl", "show-user", "alice", "--property=Display",
                              "--value"]).stdout.strip()
    assert display == desktops["alice"]
    leader = int(container.session_properties(desktops["alice"])["Leader"])
    with auth_agent(container, "alice", desktops["alice"]) as log:
        outside = pkcheck(container, manager, uid)
        assert outside.returncode == 0, describe(outside)
        assert len(log.events("begin")) == 1, "the display session's agent was asked"
        inside = pkcheck(container, leader, uid)
        assert inside.returncode == 0, describe(inside)
        assert len(log.events("begin")) == 2


def authentication_agent_finding(container, session):
    result = liaison(container, "doctor", "--user", "alice", "--json", timeout=60)
    report = parse_json(result)
    [entry] = [e for e in report["sessions"] if e["session"] == session]
    [finding] = [f for f in entry["findings"] if f["check"] == "authentication-agent"]
    return finding


def test_doctor_says_whether_the_session_has_an_authentication_agent(container, desktops, daemon):
    with auth_agent(container, "alice", desktops["alice"]):
        finding = authentication_agent_finding(container, desktops["alice"])
        assert finding["status"] == "ok", finding
        assert "polkit_agent.py" in finding["facts"]["program"], finding
        assert finding["facts"]["bus_name"].startswith(":1."), finding
    finding = poll_until(lambda: authentication_agent_finding(container, desktops["alice"]),
                         until=lambda f: f["status"] != "ok", timeout=10,
                         what="doctor noticing the agent is gone")
    assert finding["status"] == "warn", finding
    assert "no_agent" in finding["detail"], finding
    assert finding["facts"] == {"registered": False}


def test_a_reason_that_is_not_one_line_of_text_is_refused(container, desktops, daemon):
    result = liaison(container, "presence", "--user", "alice", "--reason", "two\nlines")
    assert result.returncode == 2, describe(result)
    assert "plain text on one line" in result.stderr, describe(result)


# bob's attempt to register an authentication agent for another user's session.
REGISTER_FOR_SESSION = r"""
import sys
import dbus
bus = dbus.SystemBus()
authority = bus.get_object("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority")
subject = ("unix-session", {"session-id": dbus.String(sys.argv[1], variant_level=1)})
try:
    authority.RegisterAuthenticationAgent(subject, "C", "/x",
                                          dbus_interface="org.freedesktop.PolicyKit1.Authority")
    print("accepted")
except dbus.DBusException as error:
    print("refused", error.get_dbus_name(), error.get_dbus_message())
"""

# A user's process answering polkit's challenge itself, with the cookie its agent was given.
RESPOND_FOR_COOKIE = r"""
import sys
import dbus
bus = dbus.SystemBus()
authority = bus.get_object("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority")
identity = ("unix-user", {"uid": dbus.UInt32(int(sys.argv[2]), variant_level=1)})
try:
    authority.AuthenticationAgentResponse2(dbus.UInt32(int(sys.argv[2])), sys.argv[1], identity,
                                           dbus_interface="org.freedesktop.PolicyKit1.Authority")
    print("accepted")
except dbus.DBusException as error:
    print("refused", error.get_dbus_name(), error.get_dbus_message())
"""
