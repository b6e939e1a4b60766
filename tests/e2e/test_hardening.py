"""Attacks on the root daemon by local users, performed against the installed daemon (issue 24).

Each test does what an unprivileged user could do, then checks what the issue asks: the
daemon's MainPID unchanged (no crash, no restart), `liaison version` answering within a second
throughout, other users served, and the attacker's own agent back once the hostile thing is
gone. docs/security.md lists these tests beside the unit and integration tests of each attack.
"""

import json
import time
from pathlib import Path

import pytest

from liaison_cli import (AGENT_SOCKET, agent_state, liaison, rpc_exchange, sessions,
                         wait_for_ready_agents)
from runner import CommandError, describe, observe_until, poll_until

NESTING = 500_000  # levels: the line that crashed the daemon before the bound (about 1 MB)


def service_property(container, name):
    return container.exec(["systemctl", "show", "-p", name, "--value", "liaison.service"]
                          ).stdout.strip()


def version_answers_within_a_second(container):
    """True when `liaison version` answered, successfully, within a second."""
    try:
        result = container.exec(["timeout", "1", "liaison", "version"], check=False, timeout=5)
    except CommandError:
        return False
    return result.returncode == 0


def assert_version_answers_throughout(container, seconds):
    """`liaison version` answers within a second, every quarter of a second for `seconds`."""
    answered = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answered.append(version_answers_within_a_second(container))
        time.sleep(0.25)
    assert all(answered), f"liaison version went unanswered: {answered}"


def kill_agent(container, listed, session):
    pid = listed[session]["agent"]["pid"]
    container.exec(["kill", "-9", str(pid)])
    return pid


def wait_for_new_ready_agent(container, session, old_pid, timeout=15):
    listed = observe_until(lambda: sessions(container),
                           until=lambda s: agent_state(s, session) == "ready"
                           and s[session]["agent"]["pid"] not in (old_pid, None),
                           timeout=timeout)
    assert agent_state(listed, session) == "ready", (
        f"{listed.get(session)}\n--- journal ---\n{container.journal('liaison.service', lines=40)}")
    return listed


def test_a_line_nested_half_a_million_deep_is_refused_and_the_daemon_lives_on(
        installed, desktops, daemon):
    main_pid = service_property(installed, "MainPID")
    restarts = service_property(installed, "NRestarts")
    line = ('{"jsonrpc":"2.0","id":1,"method":"agent.hello","params":{"a":'
            + "[" * NESTING + "]" * NESTING + "}}\n")

    report = rpc_exchange(installed, AGENT_SOCKET, line, user="alice", timeout=10)

    shown = json.dumps(report)[:600]
    assert len(report["responses"]) == 1, shown
    error = report["responses"][0].get("error", {})
    assert error.get("code") == -32600 and "64 levels" in error.get("message", ""), shown
    assert version_answers_within_a_second(installed)
    assert (service_property(installed, "MainPID"), service_property(installed, "NRestarts")) \
        == (main_pid, restarts), "the daemon crashed or restarted"
    listed = sessions(installed)
    assert all(agent_state(listed, s) == "ready" for s in desktops.values()), listed


# Opens COUNT connections to agent.sock, sends a hello without an id on each, and reports how many
# the daemon closed within two seconds (it must close them all: nothing is owed to them).
_IDLESS_HELLOS = r"""
import json, socket, sys, time
count = int(sys.argv[1])
line = b'{"jsonrpc":"2.0","method":"agent.hello","params":{}}\n'
sockets = []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("/run/liaison/agent.sock")
    s.sendall(line)
    sockets.append(s)
closed = 0
deadline = time.monotonic() + 2
for s in sockets:
    s.settimeout(max(deadline - time.monotonic(), 0.01))
    try:
        closed += s.recv(4096) == b""
    except OSError:
        pass
print(json.dumps({"closed": closed}))
"""


def test_hellos_without_an_id_do_not_lock_their_user_out(installed, desktops, daemon):
    main_pid = service_property(installed, "MainPID")
    session = desktops["alice"]

    result = installed.exec(["python3", "-c", _IDLESS_HELLOS, "20"], user="alice", timeout=20)

    assert json.loads(result.stdout)["closed"] == 20, result.stdout
    killed = kill_agent(installed, daemon, session)
    listed = wait_for_new_ready_agent(installed, session, killed)
    assert listed[desktops["bob"]]["agent"]["pid"] == daemon[desktops["bob"]]["agent"]["pid"]
    assert service_property(installed, "MainPID") == main_pid


# Mounts a FUSE file system over a home (as the user's own fusermount3 would: the mount belongs
# to them) whose server never answers: this process holds /dev/fuse and never reads it. Every
# access to the home blocks until the process is killed.
_HOME_THAT_NEVER_ANSWERS = r"""
import ctypes, os, sys, time
home, uid, gid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fuse = os.open("/dev/fuse", os.O_RDWR)
options = f"fd={fuse},rootmode=40000,user_id={uid},group_id={gid},allow_other".encode()
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"liaison-e2e", home.encode(), b"fuse.liaison-e2e", 6, options) != 0:
    sys.exit(f"mount: {os.strerror(ctypes.get_errno())}")
while True:
    time.sleep(3600)
"""


def test_a_home_that_never_answers_holds_only_its_users_agent(installed, desktops, daemon):
    """Issue 11 attack 2: carol's agent is relaunched while her home hangs; the daemon once
    waited for the child (already carol, in chdir) for good."""
    if installed.exec(["test", "-c", "/dev/fuse"], check=False).returncode != 0:
        pytest.fail("the container has no /dev/fuse: this attack cannot be performed here")
    main_pid = service_property(installed, "MainPID")
    carol = installed.account("carol")
    session = installed.login_x11("carol")
    try:
        listed = wait_for_ready_agents(installed, [session, *desktops.values()])
        holder = installed.start(["python3", "-c", _HOME_THAT_NEVER_ANSWERS, carol.home,
                                  str(carol.uid), str(carol.gid)], timeout=120)
        try:
            mounted = observe_until(
                lambda: installed.exec(["grep", "-c", "liaison-e2e", "/proc/mounts"],
                                       check=False).stdout.strip(),
                until=lambda count: count == "1", timeout=10)
            assert mounted == "1", "the FUSE mount did not appear"
            killed = kill_agent(installed, listed, session)
            assert_version_answers_throughout(installed, 8)
            during = sessions(installed)
            assert agent_state(during, session) != "ready", during.get(session)
            for user in ("alice", "bob"):
                assert agent_state(during, desktops[user]) == "ready", during
                sent = liaison(installed, "notify", "--user", user, "--title", "still served")
                assert sent.returncode == 0, describe(sent)
        finally:
            holder.kill()
            installed.exec(["umount", "-l", carol.home], check=False)
        wait_for_new_ready_agent(installed, session, killed)
        assert service_property(installed, "MainPID") == main_pid
    finally:
        installed.logout(session)


CONFIG = "/etc/liaison/liaison.toml"


@pytest.fixture
def asuser(installed, desktops):
    """The daemon with [agent] launch = "asuser" and ready agents for alice and bob; the config
    and the daemon are put back afterwards."""
    config = installed.path(CONFIG)
    original = config.read_text() if config.exists() else None
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[agent]\nlaunch = "asuser"\n')
    installed.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
    installed.exec(["systemctl", "restart", "liaison.service"], timeout=30)
    try:
        yield wait_for_ready_agents(installed, desktops.values(), timeout=15)
    finally:
        if original is None:
            config.unlink(missing_ok=True)
        else:
            config.write_text(original)
        installed.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
        installed.exec(["systemctl", "restart", "liaison.service"], timeout=30)
        wait_for_ready_agents(installed, desktops.values(), timeout=15)


# Listens at PATH (alice's own runtime dir: she may) and accepts every connection without ever
# answering, as a service manager that hangs, or a user who wants the daemon to hang, would.
_MANAGER_THAT_NEVER_ANSWERS = r"""
import socket, sys, time
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1])
server.listen(64)
held = []
server.settimeout(1)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        held.append(server.accept()[0])
    except socket.timeout:
        pass
"""


def test_a_user_manager_that_never_answers_stalls_only_its_users_agent(installed, desktops,
                                                                       asuser):
    """Issue 11 attack 1, the stall: under asuser alice moves her manager's socket aside and
    listens at its path herself; every call of a launch once held the daemon's only loop 3 s."""
    main_pid = service_property(installed, "MainPID")
    alice = installed.account("alice")
    private = f"/run/user/{alice.uid}/systemd/private"
    aside = private + ".aside"
    session = desktops["alice"]
    installed.exec(["mv", private, aside], user="alice")
    try:
        listener = installed.start(["python3", "-c", _MANAGER_THAT_NEVER_ANSWERS, private, "30"],
                                   user="alice", timeout=60)
        try:
            observe_until(lambda: installed.exec(["test", "-S", private], check=False).returncode,
                          until=lambda code: code == 0, timeout=5)
            killed = kill_agent(installed, asuser, session)
            assert_version_answers_throughout(installed, 10)
            during = sessions(installed)
            assert agent_state(during, desktops["bob"]) == "ready", during
            sent = liaison(installed, "notify", "--user", "bob", "--title", "still served")
            assert sent.returncode == 0, describe(sent)
        finally:
            listener.kill()
    finally:
        installed.exec(["mv", "-f", aside, private], user="alice")
    wait_for_new_ready_agent(installed, session, killed, timeout=30)
    assert service_property(installed, "MainPID") == main_pid


FAKE_USER_MANAGER = Path(__file__).parent / "attackers" / "fake_user_manager.py"


def test_a_fake_user_manager_cannot_aim_root_at_another_users_process(installed, desktops,
                                                                      asuser):
    """Issue 11 attack 1, the aim: under asuser carol serves her own D-Bus on her manager's
    socket, naming a process of bob's as her agent's MainPID and refusing StopUnit. Root once
    adopted it, listed it as her agent, and at her logout sent it SIGTERM, then SIGKILL."""
    main_pid = service_property(installed, "MainPID")
    carol = installed.account("carol")
    private = f"/run/user/{carol.uid}/systemd/private"
    session = installed.login_x11("carol")
    victim_process = installed.start(["sleep", "600"], user="bob", timeout=700)
    try:
        listed = wait_for_ready_agents(installed, [session], timeout=15)
        victim = int(poll_until(
            lambda: installed.exec(["pgrep", "-u", "bob", "-x", "-n", "sleep"],
                                   check=False).stdout.strip(),
            until=str.isdigit, timeout=5, what="bob's sleep"))
        fake = f"/run/user/{carol.uid}/liaison-test-fake-manager.py"
        installed.path(fake).write_text(FAKE_USER_MANAGER.read_text())
        installed.exec(["mv", private, private + ".aside"], user="carol")
        server = installed.start(["python3", fake, private, str(victim), "60"], user="carol",
                                 timeout=90)
        try:
            observe_until(lambda: installed.exec(["test", "-S", private], check=False).returncode,
                          until=lambda code: code == 0, timeout=5)
            kill_agent(installed, listed, session)
            seen = []
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                seen.append(sessions(installed).get(session, {}).get("agent", {}).get("pid"))
                assert version_answers_within_a_second(installed)
                time.sleep(0.3)
            assert victim not in seen, f"bob's pid {victim} was taken as carol's agent: {seen}"
            journal = installed.journal("liaison.service", lines=300)
            assert f"names pid {victim} as the agent" in journal, journal[-3000:]
            installed.logout(session)
            session = None
            time.sleep(2)  # past the stop escalation's SIGKILL, had her agent been bob's process
            assert installed.process_running(victim), "root signalled bob's process"
        finally:
            server.kill()
            # Her manager outlives her logout for a while (UserStopDelaySec): put its socket back.
            installed.exec(["mv", "-f", private + ".aside", private], user="carol", check=False)
        # The hostile thing gone, her next login gets her agent back.
        session = installed.login_x11("carol")
        wait_for_ready_agents(installed, [session], timeout=15)
        assert service_property(installed, "MainPID") == main_pid
    finally:
        victim_process.kill()
        if session is not None:
            installed.exec(["mv", "-f", private + ".aside", private], user="carol", check=False)
            installed.logout(session)
