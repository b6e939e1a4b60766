"""End-to-end tests of liaison against its public contract (docs: /work/shared/DESIGN.md).

liaison is installed into the shared container from --liaison-build-dir; alice is logged in on
X11 (dunst) and bob on Wayland (mako) for the whole run; carol has no session. With the default
configuration the daemon runs one agent per session with the `exec` strategy.
"""

import re
import uuid

import pytest

from liaison_cli import (AGENT_SOCKET, CONTROL_SOCKET, agent_state, error_codes, liaison,
                         parse_json, request_line, rpc_exchange, sessions, wait_for_ready_agents)
from notification_text import displayed_text, titles, unique_title
from runner import describe, observe_until

AGENT_EXIT_TIMEOUT_S = 5
MAX_LINE = 1024 * 1024  # the protocol's limit for one line


def notify(container, *args, timeout=30):
    return liaison(container, "notify", *args, timeout=timeout)


def test_sessions_lists_both_desktops_with_ready_exec_agents(container, desktops, daemon):
    expected = {"alice": (1001, "x11"), "bob": (1002, "wayland")}
    for user, (uid, session_type) in expected.items():
        entry = daemon[desktops[user]]
        seen = {key: entry.get(key) for key in ("user", "uid", "type", "class", "active", "remote")}
        assert seen == {"user": user, "uid": uid, "type": session_type, "class": "user",
                        "active": True, "remote": False}, entry
        agent = entry["agent"]
        assert (agent["state"], agent["strategy"]) == ("ready", "exec"), entry
        assert isinstance(agent["pid"], int) and agent["pid"] > 1, entry


def test_bobs_agent_runs_as_bob_in_his_wayland_context(container, desktops, daemon):
    pid = daemon[desktops["bob"]]["agent"]["pid"]
    ids = container.process_ids(pid)
    assert ids["Uid"] == [1002] * 4 and ids["Gid"] == [1002] * 4, ids

    env = container.environ(pid)
    wayland_display = container.user_manager_environment("bob").get("WAYLAND_DISPLAY")
    assert "DISPLAY" not in env, env
    assert env.get("WAYLAND_DISPLAY") == wayland_display, (wayland_display, env)
    assert env.get("XDG_RUNTIME_DIR") == "/run/user/1002", env
    assert env.get("DBUS_SESSION_BUS_ADDRESS") == "unix:path=/run/user/1002/bus", env
    assert env.get("XDG_SESSION_ID") == desktops["bob"], env
    assert env.get("XDG_SESSION_TYPE") == "wayland", env


def test_alices_agent_has_her_passwd_home_and_her_session(container, desktops, daemon):
    pid = daemon[desktops["alice"]]["agent"]["pid"]
    account = container.account("alice")
    display = container.login(desktops["alice"]).status["display"]

    env = container.environ(pid)
    assert container.process_ids(pid)["Uid"] == [account.uid] * 4
    seen = {key: env.get(key) for key in ("HOME", "USER", "LOGNAME", "XDG_SESSION_ID",
                                          "XDG_SESSION_TYPE", "DISPLAY", "XDG_RUNTIME_DIR")}
    assert seen == {"HOME": account.home, "USER": "alice", "LOGNAME": "alice",
                    "XDG_SESSION_ID": desktops["alice"], "XDG_SESSION_TYPE": "x11",
                    "DISPLAY": display, "XDG_RUNTIME_DIR": "/run/user/1001"}, env


def test_notify_user_reaches_her_desktop_only_and_shows_markup_literally(container, desktops,
                                                                          daemon):
    title = unique_title("to alice")
    result = notify(container, "--user", "alice", "--title", title, "--body", "<b>x</b>", "--json")

    assert result.returncode == 0, describe(result)
    results = parse_json(result)["results"]
    assert [(r["user"], r["uid"], r["session"], r["delivered"]) for r in results] == \
        [("alice", 1001, desktops["alice"], True)], results
    shown = container.wait_for_notification("alice", title)
    assert displayed_text(shown["body"]) == "<b>x</b>", (
        f"dunst received the body {shown['body']!r} and shows {displayed_text(shown['body'])!r}")
    assert title not in titles(container, "bob")


def test_notify_user_without_a_session_exits_4_naming_them(container, daemon):
    result = notify(container, "--user", "carol", "--title", unique_title("to carol"))

    assert result.returncode == 4, describe(result)
    assert "carol" in result.stderr, describe(result)


def test_notify_without_a_target_is_a_usage_error(container, daemon):
    result = notify(container, "--title", unique_title("to nobody"))

    assert result.returncode == 2, describe(result)


def test_notify_with_the_same_id_replaces_the_notification(container, desktops, daemon):
    title = unique_title("replaced")
    dedup = f"dedup-{uuid.uuid4().hex[:8]}"
    for body in ("first", "second"):
        result = notify(container, "--user", "alice", "--title", title, "--body", body,
                        "--id", dedup)
        assert result.returncode == 0, describe(result)

    # Give the second one time to show up; if it never does, the assert shows what did.
    observe_until(lambda: container.wait_for_notification("alice", title)["body"],
                  until=lambda body: body == "second", timeout=5)
    on_screen = [n for n in container.notifications("alice") if n["summary"] == title and n["open"]]
    assert [n["body"] for n in on_screen] == ["second"], on_screen


@pytest.mark.parametrize("user", ["alice", "bob"])  # dunst and mako
def test_wait_action_returns_the_action_the_user_clicked(container, desktops, daemon, user):
    title = unique_title(f"restart now, {user}?")
    command = ["liaison", "notify", "--user", user, "--title", title,
               "--action", "restart=Restart", "--action", "later=Later",
               "--wait-action", "5", "--json"]
    with container.background(command, timeout=30) as answer:
        shown = container.wait_for_notification(user, title)
        container.invoke_action(user, shown["id"], "restart")
    result = answer.result(check=False)

    assert result.returncode == 0, describe(result)
    results = parse_json(result)["results"]
    assert [(r["user"], r["delivered"], r.get("action")) for r in results] == \
        [(user, True, "restart")], results


def test_control_socket_refuses_a_user_outside_group_liaison(container, daemon):
    result = liaison(container, "sessions", user="carol")

    assert result.returncode == 3, describe(result)
    assert "not permitted" in result.stderr.lower(), describe(result)


def test_agent_socket_refuses_bob_claiming_alices_session(container, desktops, daemon):
    alice_agent = daemon[desktops["alice"]]["agent"]
    hello = request_line("agent.hello", {"session": desktops["alice"], "token": "x",
                                         "version": "0.1.0"})

    report = rpc_exchange(container, AGENT_SOCKET, hello, user="bob")

    assert "connect_error" not in report, f"bob could not even connect: {report}"
    accepted = [r for r in report["responses"] if not isinstance(r, dict) or "error" not in r]
    assert not accepted and (report["responses"] or report["closed"]), report
    after = sessions(container)[desktops["alice"]]["agent"]
    assert (after["state"], after["pid"]) == ("ready", alice_agent["pid"]), after


@pytest.mark.parametrize("payload, expected_code", [
    ("not json\n", -32700),  # parse error
    ("[1,2]\n", -32600),     # not a request object (answered as one error, or one per element)
], ids=["not-json", "array"])
def test_control_socket_answers_malformed_lines_with_jsonrpc_errors(container, daemon, payload,
                                                                    expected_code):
    report = rpc_exchange(container, CONTROL_SOCKET, payload)

    codes = error_codes(report)
    assert codes and all(code == expected_code for code in codes), report
    still = liaison(container, "sessions")
    assert still.returncode == 0, describe(still)


def test_control_socket_refuses_an_oversized_line_and_keeps_serving(container, daemon):
    padding = "x" * (2 * MAX_LINE)
    oversized = request_line("version", {"padding": padding})

    report = rpc_exchange(container, CONTROL_SOCKET, oversized, timeout=10)

    codes = error_codes(report)
    shown = dict(report, responses=[str(r)[:300] for r in report["responses"]])
    assert codes and all(isinstance(code, int) for code in codes), shown
    still = liaison(container, "sessions")
    assert still.returncode == 0, describe(still)


def test_logout_stops_the_agent_of_that_session_only(container, desktops, daemon):
    """A second X11 login of alice gets its own agent; its logout ends that agent and its
    listing, and leaves the agent of her first session alone."""
    first_agent = daemon[desktops["alice"]]["agent"]
    second = container.login_x11("alice")
    try:
        second_pid = wait_for_ready_agents(container, [second])[second]["agent"]["pid"]
    finally:
        container.logout(second)

    alive = observe_until(lambda: container.process_running(second_pid), until=lambda a: not a,
                          timeout=AGENT_EXIT_TIMEOUT_S)
    assert not alive, f"agent {second_pid} of the ended session {second} still runs"
    listed = observe_until(lambda: sessions(container), until=lambda s: second not in s,
                           timeout=AGENT_EXIT_TIMEOUT_S)
    assert second not in listed, listed[second]
    assert (agent_state(listed, desktops["alice"]),
            listed[desktops["alice"]]["agent"]["pid"]) == ("ready", first_agent["pid"]), listed


def context_switches(container, pid):
    """Voluntary context switches of every thread of `pid`: one for each wake-up from a wait."""
    status = container.exec(["sh", "-c", f"cat /proc/{pid}/task/*/status"], timeout=15).stdout
    return sum(int(line.split()[1]) for line in status.splitlines()
               if line.startswith("voluntary_ctxt_switches:"))


def test_an_idle_agent_sleeps_through_other_users_logins(container, desktops, daemon):
    """An agent wakes for its own session and its daemon, never because someone else logged in or
    out: it watches its own session's record, not all of logind's (issue 13; watching them all
    woke every agent for every login, N^2 wake-ups in a login storm). Carol logs in and out three
    times, each time until her agent is ready; alice's agent must not run once meanwhile."""
    pid = daemon[desktops["alice"]]["agent"]["pid"]
    before = context_switches(container, pid)
    for _ in range(3):
        session = container.login_x11("carol")
        try:
            wait_for_ready_agents(container, [session])
        finally:
            container.logout(session)
    woke = context_switches(container, pid) - before
    assert woke == 0, f"alice's idle agent woke {woke} times while carol came and went"


def test_an_agent_leaves_when_its_session_ends_even_with_the_daemon_frozen(container, daemon):
    """The agent's own watch on its session's record (not the daemon) ends it at logout: with the
    daemon stopped (SIGSTOP) so it cannot stop the agent, carol logs out; her agent must see its
    record go, say so in the journal, and leave while the daemon is still frozen."""
    session = container.login_x11("carol")
    pid = wait_for_ready_agents(container, [session])[session]["agent"]["pid"]
    daemon_pid = container.exec(["systemctl", "show", "-p", "MainPID", "--value",
                                 "liaison.service"], timeout=15).stdout.strip()
    container.exec(["kill", "-STOP", daemon_pid], timeout=15)
    try:
        container.logout(session)
        alive = observe_until(lambda: container.process_running(pid), until=lambda a: not a,
                              timeout=AGENT_EXIT_TIMEOUT_S)
        said = container.exec(["journalctl", "--no-pager", "-o", "cat", "LIAISON_EVENT=session-ended",
                               f"LIAISON_SESSION={session}"], timeout=15).stdout
    finally:
        container.exec(["kill", "-CONT", daemon_pid], timeout=15)
    assert not alive, f"carol's agent {pid} outlived her session {session}"
    assert "this agent's session ended" in said, said


def test_no_token_reaches_the_journal(container, daemon):
    """Agent tokens are 64 hex digits; after every launch, hello and refusal above, none of the
    daemon's or the agents' log lines (they share liaison.service's journal) may hold one."""
    journal = container.exec(["journalctl", "-u", "liaison.service", "-o", "cat", "--no-pager"],
                             timeout=30).stdout
    assert "agent for session" in journal, "the journal holds no liaison lines at all"
    leaked = re.findall(r"\b[0-9a-f]{64}\b", journal)
    assert not leaked, f"token-like strings in the journal: {leaked[:3]}"


def test_stopping_the_daemon_stops_every_agent(container, daemon):
    """KillMode=process: systemd signals the daemon alone, so that a restart leaves the agents to
    the next daemon (test_strategies.py). Stopping for good is then the daemon's own job: it asks
    every agent to leave, terminates and kills the rest, so within the stop policy (5 s) nothing
    of liaison.service is left, not even the adoption records (the runtime dir goes with it)."""
    agents = {entry["agent"]["pid"] for entry in daemon.values() if entry["agent"].get("pid")}
    assert agents, daemon

    container.exec(["systemctl", "stop", "liaison.service"], timeout=30)

    running = observe_until(lambda: [pid for pid in agents if container.process_running(pid)],
                            until=lambda pids: not pids, timeout=AGENT_EXIT_TIMEOUT_S)
    assert not running, f"agents still running after `systemctl stop liaison`: {running}"
    in_unit = container.exec(["sh", "-c", "grep -l '/liaison.service$' /proc/[0-9]*/cgroup || true"],
                             timeout=15).stdout.split()
    assert not in_unit, f"processes left in liaison.service's cgroup: {in_unit}"
    assert not container.path("/run/liaison").exists(), "the adoption records outlived the stop"
