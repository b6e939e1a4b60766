"""End-to-end tests of supervision and of the three launch strategies (issue 3).

In the shared container (alice on X11 with dunst, bob on Wayland with mako): an agent killed with
SIGKILL is replaced; a crash-looping agent shows `backoff` and recovers once fixed; twenty
daemon restarts in a row leave exactly one agent per session and no other; `exec`, `asuser` and
`launch-agent` each deliver to the right user; one user-level agent serves all of a user's
sessions and goes with the last one; launch-agent installs, reports and uninstalls per user and
never writes through a symlink a user planted; switching strategies converges.

The crash loop is made the honest way: the installed binary is replaced by one that exits at
once (what a broken upgrade or a missing library does), then put back. liaison has no test hook.
"""

import re

import pytest

from liaison_cli import (CONTROL_SOCKET, agent_state, liaison, parse_json, request_line,
                         rpc_exchange, sessions, wait_for_ready_agents)
from notification_text import titles, unique_title
from runner import describe, observe_until

CONFIG = "/etc/liaison/liaison.toml"
BINARY = "/usr/bin/liaison"
SET_ASIDE = "/usr/bin/liaison.set-aside-by-test"
UNIT_OF = {"asuser": "liaison-agent-asuser.service", "launch-agent": "liaison-agent.service"}
AGENT_GONE_TIMEOUT_S = 6
READY_TIMEOUT_S = 15


# ---- fixtures and helpers ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(container, liaison_build_dir):
    """liaison installed; on the way out, the container is left as the other modules expect it:
    their configuration back, launch-agent uninstalled, the daemon running."""
    container.install_liaison(liaison_build_dir)
    config = container.path(CONFIG)
    original = config.read_text() if config.exists() else None
    yield container
    if original is None:
        config.unlink(missing_ok=True)
    else:
        config.write_text(original)
    liaison(container, "launch-agent", "uninstall", "--all")
    restart(container)


def restart(container):
    """systemctl restart; the start limit's count is reset first, since the tests restart more
    often than an operator would."""
    container.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
    container.exec(["systemctl", "restart", "liaison.service"], timeout=30)


def use_strategy(container, strategy, session_ids):
    """Sets [agent] launch (keeping the rest of the config), restarts the daemon if that changed
    anything or it is not running, and waits for ready agents; returns the listing."""
    config = container.path(CONFIG)
    text = config.read_text() if config.exists() else ""
    kept = re.sub(r"(?ms)^\[agent\].*?(?=^\[|\Z)", "", text).strip()
    wanted = f'[agent]\nlaunch = "{strategy}"\n' + (f"\n{kept}\n" if kept else "")
    active = container.exec(["systemctl", "is-active", "liaison.service"], check=False)
    if text != wanted or active.stdout.strip() != "active":
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(wanted)
        restart(container)
    if strategy == "launch-agent":
        result = liaison(container, "launch-agent", "install", "--all")
        assert result.returncode == 0, describe(result)
    return ready(container, session_ids)


def ready(container, session_ids, timeout=READY_TIMEOUT_S):
    try:
        return wait_for_ready_agents(container, session_ids, timeout=timeout)
    except TimeoutError as error:
        pytest.fail(f"{error}\n--- journal of liaison.service ---\n"
                    f"{container.journal('liaison.service', lines=60)}")


def agent_processes(container):
    """Every `liaison agent` process in the container: {pid, uid, unit} (the unit of its cgroup:
    liaison.service for exec, the strategy's unit in the user's manager otherwise)."""
    table = container.exec(["ps", "-eo", "pid=,uid=,args="], timeout=15).stdout
    found = []
    for line in table.splitlines():
        pid, uid, args = line.split(None, 2)
        if args.strip() != f"{BINARY} agent":
            continue
        try:
            cgroup = container.path(f"/proc/{pid}/cgroup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
        path = next((entry.split(":", 2)[2] for entry in cgroup.splitlines()
                     if entry.startswith("0::") or ":name=systemd:" in entry), "")
        found.append({"pid": int(pid), "uid": int(uid), "unit": path.rsplit("/", 1)[-1]})
    return found


def zombies(container):
    table = container.exec(["ps", "-eo", "pid=,stat=,comm="], timeout=15).stdout
    return [line for line in table.splitlines() if line.split()[1].startswith("Z")]


def journal_cursor(container):
    output = container.exec(["journalctl", "-u", "liaison.service", "-n", "0", "--show-cursor",
                             "--no-pager"], timeout=15).stdout
    return output.strip().rsplit("cursor: ", 1)[-1]


def journal_since(container, cursor):
    return container.exec(["journalctl", "-u", "liaison.service", "-o", "cat", "--no-pager",
                           f"--after-cursor={cursor}"], timeout=15).stdout


def raw_sessions(container):
    """sessions.list over the socket, not through the CLI (whose binary a test may have broken)."""
    report = rpc_exchange(container, CONTROL_SOCKET, request_line("sessions.list"))
    return {entry["session"]: entry for entry in report["responses"][0]["result"]}


def expect_one_agent_per_session(container, strategy, listed):
    """Exactly the agents the strategy should have and no other: one per session (exec) or per
    user (asuser, launch-agent), in the strategy's unit, and no zombie."""
    processes = agent_processes(container)
    pids = {entry["agent"]["pid"] for entry in listed.values()}
    expected_unit = UNIT_OF.get(strategy, "liaison.service")
    users = {entry["uid"] for entry in listed.values()}
    expected_count = len(listed) if strategy == "exec" else len(users)
    assert len(processes) == expected_count, (strategy, processes, listed)
    assert {p["pid"] for p in processes} == pids, (processes, listed)
    assert all(p["unit"] == expected_unit for p in processes), processes
    assert not zombies(container), zombies(container)


def notify_each_user(container, desktops):
    """notify --user for alice and bob: each reaches that user's notification server only."""
    for user, other in (("alice", "bob"), ("bob", "alice")):
        title = unique_title(f"for {user}")
        result = liaison(container, "notify", "--user", user, "--title", title, "--json")
        assert result.returncode == 0, describe(result)
        results = parse_json(result)["results"]
        assert {(r["user"], r["delivered"]) for r in results} == {(user, True)}, results
        container.wait_for_notification(user, title)
        assert title not in titles(container, other)


# ---- supervision (exec) ------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["exec", "asuser", "launch-agent"])
def test_each_strategy_delivers_to_the_right_user(installed, desktops, strategy):
    listed = use_strategy(installed, strategy, desktops.values())
    assert {entry["agent"]["strategy"] for entry in listed.values()} == {strategy}, listed
    expect_one_agent_per_session(installed, strategy, listed)
    notify_each_user(installed, desktops)


@pytest.mark.parametrize("strategy", ["exec", "asuser", "launch-agent"])
def test_an_agent_killed_with_sigkill_is_replaced_by_a_ready_one(installed, desktops, strategy):
    session = desktops["alice"]
    before = use_strategy(installed, strategy, desktops.values())[session]["agent"]["pid"]

    installed.exec(["kill", "-9", str(before)])

    listed = observe_until(lambda: sessions(installed),
                           until=lambda s: agent_state(s, session) == "ready"
                           and s[session]["agent"]["pid"] not in (before, None), timeout=10)
    assert agent_state(listed, session) == "ready" and listed[session]["agent"]["pid"] != before, \
        listed
    assert not installed.process_running(before)
    expect_one_agent_per_session(installed, strategy, ready(installed, desktops.values()))


@pytest.mark.parametrize("strategy", ["asuser", "launch-agent"])
def test_doctor_checks_the_user_manager_the_strategy_relies_on(installed, desktops, strategy):
    use_strategy(installed, strategy, desktops.values())
    result = liaison(installed, "doctor", "--user", "alice", "--json", timeout=60)
    assert result.returncode == 0, describe(result)
    report = parse_json(result)
    assert report["daemon"]["strategy"] == strategy
    for entry in report["sessions"]:
        checks = {f["check"]: f for f in entry["findings"]}
        manager = checks["user-manager"]
        assert manager["status"] == "ok", manager
        assert manager["facts"]["unit"] == UNIT_OF[strategy], manager
        assert manager["facts"]["active_state"] == "active", manager
        # The user-level agent examines the session from the user's own manager.
        assert checks["notification-server"]["facts"]["name"] == "dunst", checks


def test_a_crash_looping_agent_shows_backoff_and_recovers_when_fixed(installed, desktops):
    session = desktops["alice"]
    use_strategy(installed, "exec", desktops.values())
    restart(installed)  # a fresh count of failures: backoff starts at 0.5 s
    listed = ready(installed, desktops.values())
    crashed = listed[session]["agent"]["pid"]
    bobs = listed[desktops["bob"]]["agent"]["pid"]
    cursor = journal_cursor(installed)
    installed.exec(["sh", "-c", f"mv {BINARY} {SET_ASIDE} && printf '#!/bin/sh\\nexit 1\\n' "
                                f"> {BINARY} && chmod 755 {BINARY}"])
    try:
        installed.exec(["kill", "-9", str(crashed)])
        # 0.5 s, then 1 s: two relaunches that die at once, in about 1.6 s.
        states = []
        observe_until(lambda: states.append(agent_state(raw_sessions(installed), session)),
                      until=lambda _: False, timeout=2.0, interval=0.1)
    finally:
        installed.exec(["mv", "-f", SET_ASIDE, BINARY])
    assert "backoff" in states, states
    first = states.index("backoff")
    assert set(states[first:]) == {"backoff"}, f"a crash loop stays in backoff: {states}"

    listed = ready(installed, [session], timeout=10)  # the next try, 2 s later, works
    assert listed[session]["agent"]["pid"] != crashed
    assert listed[desktops["bob"]]["agent"]["pid"] == bobs, "bob's agent was not touched"
    journal = journal_since(installed, cursor)
    attempts = journal.count("cannot start the agent") + len(re.findall(
        rf"agent pid \d+ for session {session} of alice exited with status 1", journal))
    assert attempts >= 2, journal
    transitions = re.findall(rf"agent for session {session} of alice is (\w+)", journal)
    assert transitions.count("backoff") == 1, f"logged once per transition: {transitions}"


def test_twenty_daemon_restarts_leave_exactly_one_agent_per_session(installed, desktops):
    before = use_strategy(installed, "exec", desktops.values())
    pids = {session: entry["agent"]["pid"] for session, entry in before.items()}

    installed.exec(["sh", "-c", "systemctl reset-failed liaison.service; for i in $(seq 20); do "
                                "systemctl restart liaison.service || exit 1; done"], timeout=120)

    after = ready(installed, desktops.values())
    assert {session: entry["agent"]["pid"] for session, entry in after.items()} == pids, \
        "every agent was re-adopted, none replaced"
    expect_one_agent_per_session(installed, "exec", after)


def test_a_restart_keeps_user_agents_and_stopping_for_good_ends_them(installed, desktops):
    before = use_strategy(installed, "asuser", desktops.values())
    restart(installed)
    after = ready(installed, desktops.values())
    assert {s: e["agent"]["pid"] for s, e in after.items()} == \
        {s: e["agent"]["pid"] for s, e in before.items()}

    installed.exec(["systemctl", "stop", "liaison.service"], timeout=30)

    left = observe_until(lambda: agent_processes(installed), until=lambda p: not p,
                         timeout=AGENT_GONE_TIMEOUT_S)
    assert not left, f"agents still running after `systemctl stop liaison`: {left}"


# ---- one agent per user (asuser, launch-agent) -------------------------------------------------

def test_one_user_agent_serves_all_the_users_sessions_and_notifies_once(installed, desktops):
    use_strategy(installed, "asuser", desktops.values())
    first = desktops["alice"]
    second = installed.login_x11("alice")
    try:
        listed = ready(installed, [first, second])
        agent = listed[first]["agent"]["pid"]
        assert listed[second]["agent"]["pid"] == agent, listed
        title = unique_title("once for alice")
        result = liaison(installed, "notify", "--user", "alice", "--title", title, "--json")
        assert result.returncode == 0, describe(result)
        results = parse_json(result)["results"]
        assert {r["session"] for r in results} == {first, second}, results
        assert len({r["notification_id"] for r in results}) == 1, results
        installed.wait_for_notification("alice", title)
        shown = [n for n in installed.notifications("alice") if n["summary"] == title]
        assert len(shown) == 1, shown
    finally:
        installed.logout(second)
    listed = observe_until(lambda: sessions(installed), until=lambda s: second not in s,
                           timeout=AGENT_GONE_TIMEOUT_S)
    assert second not in listed and agent_state(listed, first) == "ready", listed
    assert listed[first]["agent"]["pid"] == agent, "the user's agent stays for her other session"


@pytest.mark.parametrize("strategy", ["asuser", "launch-agent"])
def test_logout_of_the_last_session_ends_the_users_agent(installed, desktops, strategy):
    use_strategy(installed, strategy, desktops.values())
    session = installed.login_x11("carol")
    try:
        agent = ready(installed, [session])[session]["agent"]["pid"]
        assert any(p["pid"] == agent and p["uid"] == 1003 for p in agent_processes(installed))
    finally:
        installed.logout(session)

    alive = observe_until(lambda: installed.process_running(agent), until=lambda a: not a,
                          timeout=AGENT_GONE_TIMEOUT_S)
    assert not alive, f"carol's agent {agent} still runs after her last logout"
    listed = observe_until(lambda: sessions(installed), until=lambda s: session not in s,
                           timeout=AGENT_GONE_TIMEOUT_S)
    assert session not in listed, listed[session]


def test_asuser_agent_runs_in_the_users_own_service_manager(installed, desktops):
    listed = use_strategy(installed, "asuser", desktops.values())
    pid = listed[desktops["bob"]]["agent"]["pid"]
    cgroup = installed.path(f"/proc/{pid}/cgroup").read_text()
    assert "/user.slice/user-1002.slice/user@1002.service/app.slice/liaison-agent-asuser.service" \
        in cgroup, cgroup
    env = installed.environ(pid)
    manager = installed.user_manager_environment("bob")
    assert env.get("WAYLAND_DISPLAY") == manager.get("WAYLAND_DISPLAY"), (env, manager)
    assert env.get("XDG_RUNTIME_DIR") == "/run/user/1002", env
    assert installed.process_ids(pid)["Uid"] == [1002] * 4


# ---- launch-agent: install, status, uninstall --------------------------------------------------

def launch_agent(container, *args):
    result = liaison(container, "launch-agent", *args, "--json")
    assert result.returncode == 0, describe(result)
    return parse_json(result)


def test_launch_agent_is_installed_reported_and_removed_per_user(installed, desktops):
    use_strategy(installed, "exec", desktops.values())
    launch_agent(installed, "uninstall", "--all")
    use_strategy(installed, "launch-agent", [])  # restarts into launch-agent, installs --all
    launch_agent(installed, "uninstall", "--all")
    alice, bob = desktops["alice"], desktops["bob"]
    listed = observe_until(lambda: sessions(installed),
                           until=lambda s: {agent_state(s, alice), agent_state(s, bob)} == {"stopped"},
                           timeout=AGENT_GONE_TIMEOUT_S)
    assert {agent_state(listed, alice), agent_state(listed, bob)} == {"stopped"}, listed

    first = launch_agent(installed, "install", "--user", "alice")
    again = launch_agent(installed, "install", "--user", "alice")
    listed = ready(installed, [alice])

    assert (first["changed"], again["changed"]) == (True, False), (first, again)
    assert agent_state(listed, bob) == "stopped", listed
    status = {s["session"]: s for s in launch_agent(installed, "status")["sessions"]}
    assert (status[alice]["installed"], status[alice]["unit"]["active_state"],
            status[alice]["unit"]["pid"]) == (True, "active", listed[alice]["agent"]["pid"]), status
    assert (status[bob]["installed"], status[bob]["agent"]["state"]) == (False, "stopped"), status
    dropin = installed.path("/etc/systemd/user/liaison-agent.service.d/50-liaison-install.conf")
    assert "ConditionUser=|1001" in dropin.read_text()

    pid = listed[alice]["agent"]["pid"]
    launch_agent(installed, "uninstall", "--user", "alice")
    gone = observe_until(lambda: installed.process_running(pid), until=lambda a: not a,
                         timeout=AGENT_GONE_TIMEOUT_S)
    assert not gone, f"alice's agent {pid} runs on after uninstall"
    assert not dropin.exists()
    launch_agent(installed, "install", "--all")
    ready(installed, [alice, bob])


def test_launch_agent_install_never_writes_through_a_symlink_the_user_planted(installed, desktops):
    use_strategy(installed, "launch-agent", desktops.values())
    launch_agent(installed, "uninstall", "--all")
    victim = "/var/lib/liaison-test-victim"
    installed.exec(["install", "-d", "-m", "0755", "-o", "root", "-g", "root", victim])
    home = installed.account("alice").home
    # Where a per-user installation would write (~/.config/systemd/user), alice points at a
    # directory of root's: a root write that followed it would land there.
    installed.exec(["sh", "-c", f"mkdir -p {home}/.config/systemd && "
                                f"ln -sfn {victim} {home}/.config/systemd/user"], user="alice")
    try:
        result = launch_agent(installed, "install", "--user", "alice")
        listed = ready(installed, [desktops["alice"]])
    finally:
        installed.exec(["rm", "-rf", f"{home}/.config/systemd"], user="alice")
    assert result["installed"]["users"] == [{"uid": 1001, "user": "alice"}], result
    assert agent_state(listed, desktops["alice"]) == "ready", listed
    assert installed.exec(["find", victim, "-mindepth", "1"]).stdout == "", "written into the victim"
    # What install wrote is root's, under /etc/systemd/user, and no symlink but the enablement.
    written = installed.exec(["find", "/etc/systemd/user", "-newer", victim, "-printf",
                              "%u %y %p\n"]).stdout.splitlines()
    assert written and all(line.startswith("root ") for line in written), written
    links = [line for line in written if line.split()[1] == "l"]
    assert all(line.endswith("graphical-session.target.wants/liaison-agent.service")
               for line in links), written
    launch_agent(installed, "install", "--all")


# ---- switching strategies ----------------------------------------------------------------------

def test_switching_strategies_converges_to_one_agent_per_session(installed, desktops):
    for strategy in ("exec", "asuser", "launch-agent", "asuser", "exec"):
        listed = use_strategy(installed, strategy, desktops.values())
        # Agents of the previous strategy may take a moment to go: converged means only ours.
        observe_until(lambda: len(agent_processes(installed)),
                      until=lambda n: n == (len(listed) if strategy == "exec" else 2), timeout=5)
        expect_one_agent_per_session(installed, strategy, ready(installed, desktops.values()))
