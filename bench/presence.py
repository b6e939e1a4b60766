#!/usr/bin/python3
"""Presence checks (issue 26): time from the request to the prompt reaching the session's
polkit authentication agent, beside `pkcheck --allow-user-interaction` asking polkit the same
question about the same process in the same run.

Runs in make bench's container: alice's session gets the e2e tests' authentication agent
(tests/e2e/rootfs/usr/local/lib/liaison-test/polkit_agent.py) in its silent mode, which logs
each BeginAuthentication with its CLOCK_MONOTONIC time and never answers. Each round starts
one command (`liaison presence`, or pkcheck) through the same nsenter path, takes the time the
agent logged, then kills the command and waits for polkit's CancelAuthentication before the next
round. The two kinds take turns.
"""

import json
import statistics
import time

from common import BenchError, poll_until

AGENT = "/usr/local/lib/liaison-test/polkit_agent.py"
PASSWORD = "bench-Pa55word"
REASON = "make bench: presence"


class _AgentLog:
    def __init__(self, container, session):
        self.container = container
        self.path = f"/tmp/polkit-agent-bench-{session}.jsonl"

    def events(self, kind):
        host = self.container.path(self.path)
        if not host.exists():
            return []
        lines = host.read_text().splitlines()
        return [e for e in map(json.loads, filter(None, lines)) if e["event"] == kind]

    def wait_for(self, kind, count):
        return poll_until(lambda: self.events(kind), until=lambda seen: len(seen) >= count,
                          timeout=15, interval=0.002, what=f"{count} {kind!r} events")


def _leader_subject(container, session):
    leader = int(container.session_properties(session)["Leader"])
    stat = container.path(f"/proc/{leader}/stat").read_text()
    start = int(stat.rsplit(")", 1)[1].split()[19])
    return leader, start


def _one(container, log, argv, begun):
    """Starts argv, returns seconds until the agent saw the prompt, then withdraws it."""
    started_at = time.monotonic()
    command = container.start(argv, timeout=60)
    try:
        [*_, begin] = log.wait_for("begin", begun + 1)
    finally:
        command.kill()
    log.wait_for("cancel", begun + 1)
    return begin["at"] - started_at


def measure(container, sessions, rounds, progress):
    """{"liaison": [s...], "pkcheck": [s...]}: request -> the agent's BeginAuthentication."""
    session = sessions["alice"]
    uid = container.account("alice").uid
    container.exec(["chpasswd"], input=f"alice:{PASSWORD}\n")
    container.exec(["systemctl", "start", "polkit.service"], timeout=30)
    log = _AgentLog(container, session)
    container.exec(["rm", "-f", log.path])
    agent = container.start(["python3", AGENT, "--user", "alice", "--session", session,
                             "--mode", "silent", "--log", log.path], timeout=600)
    try:
        log.wait_for("registered", 1)
        leader, start = _leader_subject(container, session)
        kinds = {
            "liaison": ["liaison", "presence", "--user", "alice", "--session", session,
                        "--reason", REASON, "--timeout", "30"],
            "pkcheck": ["pkcheck", "--action-id", "dev.liaison.presence", "--process",
                        f"{leader},{start},{uid}", "--allow-user-interaction",
                        "--detail", "polkit.message", REASON],
        }
        results = {kind: [] for kind in kinds}
        begun = 0
        for i in range(rounds):
            for kind, argv in kinds.items():
                results[kind].append(_one(container, log, argv, begun))
                begun += 1
            if (i + 1) % 5 == 0:
                progress(f"presence round {i + 1}/{rounds}")
        if any(len(v) != rounds for v in results.values()):
            raise BenchError(f"presence: rounds missing: {results}")
        return results
    finally:
        agent.kill()


def _ms(values, q):
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def markdown(results):
    rounds = len(results["liaison"])
    rows = []
    for kind, what in (("liaison", "`liaison presence` (CLI -> daemon -> polkitd, two calls)"),
                       ("pkcheck", "`pkcheck --allow-user-interaction` (one call to polkitd)")):
        values = results[kind]
        rows.append(f"| {what} | {1000 * statistics.median(values):.1f} | {_ms(values, 0.9):.1f} "
                    f"| {1000 * min(values):.1f} |")
    return "\n".join([
        "## Presence: request -> the prompt reaches the session's authentication agent",
        "",
        f"{rounds} rounds each, taking turns, in alice's X11 session: from starting the command",
        "(through nsenter, as for every bench command) to the test authentication agent's",
        "BeginAuthentication (its CLOCK_MONOTONIC time); each prompt is withdrawn before the",
        "next. liaison's path adds the CLI, the daemon, and the first, non-interactive",
        "CheckAuthorization that refuses to go on when a rule decides without asking.",
        "",
        "| path | p50 ms | p90 ms | min ms |",
        "|---|---|---|---|",
        *rows,
    ]) + "\n"
