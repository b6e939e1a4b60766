"""A terminal server's login storm, small enough for every run (issue 13; bench/storm.py runs
the 200-session one and measures it): STORM_USERS users log in at once, each to a session whose
only desktop part is a notification server of its own on the user's real session bus
(tests/e2e/storm/notification_sink.cpp, which logs each notification it receives). Every agent
becomes ready, one `liaison notify --all` reaches every server exactly once, and the logouts
leave no agent behind.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from liaison_cli import agent_state, liaison, parse_json, sessions, wait_for_ready_agents
from notification_text import unique_title
from runner import describe, observe_until

STORM_USERS = 40
FIRST_UID = 2001
PARALLEL_LOGINS = 8  # systemd-run calls in flight at once
SINK = "liaison-test-notification-sink"


@pytest.fixture(scope="module")
def storm_users(container, liaison_build_dir):
    """The storm's users, created once per run, and the notification sink in the container."""
    sink = liaison_build_dir / "tests/integration" / SINK
    if not sink.exists():
        pytest.fail(f"{sink} is missing: the e2e tests need a complete build")
    container.install_test_program(sink, SINK)
    names = [f"storm{i:03d}" for i in range(1, STORM_USERS + 1)]
    container.add_users(names, FIRST_UID)
    return names


def received(container, session):
    """The summaries a storm session's notification sink logged, in order."""
    log = container.path(container.login(session).status["notification_log"])
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.split(" ", 2)[2] for line in lines if line.count(" ") >= 2]


def test_a_login_storm_gets_every_agent_ready_and_one_broadcast_reaches_each_once(
        container, daemon, storm_users):
    with ThreadPoolExecutor(PARALLEL_LOGINS) as pool:
        storm = list(pool.map(container.login_light, storm_users))
    try:
        listed = wait_for_ready_agents(container, storm, timeout=60)
        agents = {session: listed[session]["agent"]["pid"] for session in storm}
        assert len(set(agents.values())) == STORM_USERS, agents

        title = unique_title("storm")
        sent = liaison(container, "notify", "--all", "--title", title, "--json", timeout=60)
        assert sent.returncode == 0, describe(sent)
        results = {r["session"]: r for r in parse_json(sent)["results"]}
        assert all(results[s].get("delivered") for s in storm), \
            [results.get(s) for s in storm if not results.get(s, {}).get("delivered")]

        # The sink logs before it answers, and the daemon answers after the agents did.
        counts = {session: received(container, session).count(title) for session in storm}
        assert set(counts.values()) == {1}, {s: n for s, n in counts.items() if n != 1}
    finally:
        with ThreadPoolExecutor(PARALLEL_LOGINS) as pool:
            list(pool.map(container.logout, storm))

    running = observe_until(
        lambda: [pid for pid in agents.values() if container.process_running(pid)],
        until=lambda pids: not pids, timeout=10)
    assert not running, f"agents of logged-out storm sessions still run: {running}"
    left = observe_until(lambda: sessions(container),
                         until=lambda now: not set(now) & set(storm), timeout=10)
    assert not set(left) & set(storm), {s: agent_state(left, s) for s in set(left) & set(storm)}
