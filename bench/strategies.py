#!/usr/bin/python3
"""The launch strategies' numbers (issue 3): login -> agent ready, kill -9 -> ready again, and
daemon restart -> every agent re-adopted, for `exec`, `asuser` and `launch-agent`; p50 and p95.

    sudo /usr/bin/python3 bench/strategies.py [--build-dir build] [--rounds 10]

Standalone it boots the e2e harness's throwaway container, installs liaison, logs alice in to
X11 and bob to Wayland, measures, and prints a markdown section. bench/run.py can call
measure(container, sessions, rounds, progress) on its own container (liaison installed and
running, alice and bob logged in) and put markdown(results) into docs/performance.md; it
leaves the container on [agent] launch = "exec" with launch-agent uninstalled.

Every time comes from the container's clock (the host's): a login starts at logind's Timestamp
of the session; kill and restart are stamped by `date` in the same shell, right before them; an
agent is ready at the journal timestamp of the daemon's LIAISON_EVENT=ready line for it.
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from common import (REPO_ROOT, BenchError, Container, entry_time, journal_entries, ms,
                    poll_until, rootfs, session_start, summary)

STRATEGIES = ("exec", "asuser", "launch-agent")
CONFIG = "/etc/liaison/liaison.toml"
LOGIN_USER = ("carol", 1003)  # has no other session: a user-scope strategy starts her agent
READY_TIMEOUT_S = 15


# ---- driving the container ---------------------------------------------------------------------

def _stamped(container, command):
    """Runs a shell command in the container; returns the time (s) `date` printed just before."""
    output = container.exec(["sh", "-c", f"date +%s%6N; {command}"], timeout=60).stdout
    return int(output.split()[0]) / 1e6


def _ready_events(container, uid, after):
    """Journal times of the daemon's `ready` lines for agents of `uid` logged after `after`."""
    entries = journal_entries(container, "LIAISON_EVENT=ready", f"LIAISON_UID={uid}",
                              unit="liaison.service")
    return [t for t in (entry_time(e) for e in entries) if t > after]


def _first_ready(container, uid, after, what):
    return poll_until(lambda: _ready_events(container, uid, after), timeout=READY_TIMEOUT_S,
                      what=what, interval=0.05)[0]


def _listing(container):
    result = container.exec(["liaison", "sessions", "--json"], timeout=15)
    return {entry["session"]: entry for entry in json.loads(result.stdout)}


def _all_ready(container, session_ids):
    return poll_until(lambda: _listing(container), timeout=READY_TIMEOUT_S,
                      until=lambda listed: all(listed.get(s, {}).get("agent", {}).get("state")
                                               == "ready" for s in session_ids),
                      what=f"ready agents for {sorted(session_ids)}")


def use_strategy(container, strategy, session_ids):
    """[agent] launch = strategy (the rest of the config kept), the daemon restarted, and for
    launch-agent the unit installed for everyone; returns once every agent is ready."""
    config = container.path(CONFIG)
    text = config.read_text() if config.exists() else ""
    kept = re.sub(r"(?ms)^\[agent\].*?(?=^\[|\Z)", "", text).strip()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[agent]\nlaunch = "{strategy}"\n' + (f"\n{kept}\n" if kept else ""))
    container.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
    container.exec(["systemctl", "restart", "liaison.service"], timeout=30)
    verb = "install" if strategy == "launch-agent" else "uninstall"
    container.exec(["liaison", "launch-agent", verb, "--all"], timeout=60)
    return _all_ready(container, session_ids)


def _restart(container):
    container.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
    return _stamped(container, "systemctl restart liaison.service")


# ---- the three measurements --------------------------------------------------------------------

def login_to_ready(container, rounds, progress):
    """carol logs in (X11) and out `rounds` times: session creation -> her agent ready."""
    user, uid = LOGIN_USER
    samples = []
    for index in range(rounds):
        session = container.login_x11(user)
        try:
            start = session_start(container, session)
            ready = _first_ready(container, uid, start, f"{user}'s agent after login {session}")
            samples.append(ready - start)
        finally:
            container.logout(session)
        # Her agent is gone before the next login (a user-scope agent goes with the session).
        poll_until(lambda: session not in _listing(container), timeout=10,
                   what=f"session {session} gone from liaison sessions")
        progress(f"login {index + 1}/{rounds}: {ms(samples[-1])}")
    return samples


def kill_to_ready(container, sessions, rounds, progress):
    """SIGKILL to alice's agent -> a ready agent again. A restart of the daemon before each round
    (its agents are re-adopted) makes each kill a healthy agent's first crash: backoff 0.5 s;
    under launch-agent the user's manager restarts it sooner itself (Restart=on-failure)."""
    samples = []
    alice = sessions["alice"]
    for index in range(rounds):
        _restart(container)
        pid = _all_ready(container, sessions.values())[alice]["agent"]["pid"]
        killed = _stamped(container, f"kill -9 {pid}")
        samples.append(_first_ready(container, 1001, killed, "alice's agent after kill -9") - killed)
        _all_ready(container, sessions.values())
        progress(f"kill {index + 1}/{rounds}: {ms(samples[-1])}")
    return samples


def restart_to_readopted(container, sessions, rounds, progress):
    """`systemctl restart liaison` -> every agent ready again (re-adopted, none replaced)."""
    samples = []
    for index in range(rounds):
        before = {s: e["agent"]["pid"] for s, e in _all_ready(container, sessions.values()).items()}
        restarted = _restart(container)
        last = max(_first_ready(container, uid, restarted, f"uid {uid} re-adopted")
                   for uid in (1001, 1002))
        after = {s: e["agent"]["pid"] for s, e in _all_ready(container, sessions.values()).items()}
        if after != before:
            raise BenchError(f"a restart replaced agents instead of re-adopting: {before} -> {after}")
        samples.append(last - restarted)
        progress(f"restart {index + 1}/{rounds}: {ms(samples[-1])}")
    return samples


def measure(container, sessions, rounds, progress):
    """{strategy: {"login": [s], "kill": [s], "restart": [s]}}; leaves the daemon on exec."""
    results = {}
    try:
        for strategy in STRATEGIES:
            progress(f"[agent] launch = \"{strategy}\"")
            use_strategy(container, strategy, sessions.values())
            results[strategy] = {
                "login": login_to_ready(container, rounds, progress),
                "kill": kill_to_ready(container, sessions, rounds, progress),
                "restart": restart_to_readopted(container, sessions, rounds, progress),
            }
    finally:
        use_strategy(container, "exec", sessions.values())
    return results


# ---- the report --------------------------------------------------------------------------------

ROWS = (
    ("login", "login → agent ready", "logind creates carol's session → the daemon accepts her "
     "agent's hello (she has no other session; her service manager may linger from her last one)"),
    ("kill", "kill -9 → ready again", "SIGKILL to alice's healthy agent → a new agent's hello "
     "accepted (first crash: 0.5 s backoff; launch-agent: systemd's Restart=on-failure, 100 ms)"),
    ("restart", "daemon restart → all re-adopted", "`systemctl restart liaison` → alice's and "
     "bob's agents (the same processes) accepted again"),
)


def markdown(results):
    lines = ["## Launch strategies: supervision and restarts", "",
             "`bench/strategies.py`: each strategy in turn in the same container; p50 and p95 of "
             "the rounds (all times from the container's clock).", "",
             "| measurement | strategy | n | p50 | p95 | max |", "|---|---|---|---|---|---|"]
    for key, title, _ in ROWS:
        for strategy in STRATEGIES:
            stats = summary(results.get(strategy, {}).get(key, []))
            if stats["n"] == 0:
                continue
            lines.append(f"| {title} | `{strategy}` | {stats['n']} | {ms(stats['p50'])} | "
                         f"{ms(stats['p95'])} | {ms(stats['max'])} |")
    lines += ["", *[f"- **{title}**: {how}." for _, title, how in ROWS], ""]
    return "\n".join(lines)


# ---- standalone --------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--rounds", type=int, default=10, help="samples per measurement")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: must run as root (it boots a systemd-nspawn container)", file=sys.stderr)
        return 1
    progress = lambda message: print(f"  {message}", file=sys.stderr, flush=True)  # noqa: E731
    Container.reap_orphans()
    container = Container(rootfs.ensure_rootfs(announce=progress))
    began = time.monotonic()
    try:
        container.boot()
        container.install_liaison(Path(args.build_dir).resolve())
        sessions = {"alice": container.login_x11("alice"), "bob": container.login_wayland("bob")}
        container.exec(["systemctl", "start", "liaison.service"], timeout=30)
        results = measure(container, sessions, args.rounds, progress)
    except (BenchError, TimeoutError) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        container.teardown()
    print(markdown(results))
    progress(f"done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    sys.exit(main())
