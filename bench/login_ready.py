"""Login -> agent ready, for liaison and for a peer that polls logind every 5 s, in one run.

Session start is logind's Timestamp of the session (set when logind creates it, read over D-Bus
with busctl); liaison's agent is ready when the daemon logs LIAISON_EVENT=ready for the session
(agent.hello accepted). The baseline runs for real beside it: a shell loop that runs
`loginctl list-sessions --output=json` every 5 s (what Kolide's launcher does) and stamps each
answer; it notices a session at the first answer that lists it.

Warm logins: extra X11 desktop logins of alice (Xvfb; her dunst and user manager already run),
started on a fixed schedule whose period is not a multiple of 5 s, so the logins fall on every
phase of the poller's cycle; each is logged out once liaison and the poller both saw it.
Cold logins: carol logs in with no user manager running (stopped before each login), the first
login of the day, when logind also starts user@.service before the session is usable.
"""

import json
import time

from common import (BENCH_DIR, BenchError, entry_time, journal_entries, poll_until,
                    session_start)

POLLER_UNIT = "liaison-bench-kolide-poller"
POLL_LOG = f"{BENCH_DIR}/poller.log"
POLL_INTERVAL_S = 5
# Each iteration stamps the moment loginctl's answer is in (date runs after it), then sleeps.
POLLER_SCRIPT = ("while :; do s=$(loginctl list-sessions --output=json); "
                 f'echo "$(date +%s%6N) $s" >> {POLL_LOG}; sleep {POLL_INTERVAL_S}; done')
# 5 s x 0.618: consecutive logins land 3.09 s apart in the poller's 5 s cycle, which spreads
# them evenly over it (a golden-ratio sequence) instead of always hitting the same phase.
LOGIN_PERIOD_S = POLL_INTERVAL_S * 0.618
READY_TIMEOUT_S = 15
COLD_USER = ("carol", 1003)


def _poll_observations(container):
    """[(time, {session ids})] for every answer the poller has stamped so far."""
    try:
        text = container.path(POLL_LOG).read_text()
    except FileNotFoundError:
        return []
    observations = []
    for line in text.splitlines():
        stamp, _, listing = line.partition(" ")
        try:
            observations.append((int(stamp) / 1e6, {s["session"] for s in json.loads(listing)}))
        except ValueError:
            continue  # the line being written right now
    return observations


def _liaison_times(container, session_id):
    """(agent spawned, agent ready) times from the daemon's journal; None for what is missing."""
    entries = journal_entries(container, f"LIAISON_SESSION={session_id}", unit="liaison.service")
    spawned = next((entry_time(e) for e in entries
                    if e.get("MESSAGE", "").startswith("started agent for session")), None)
    ready = next((entry_time(e) for e in entries if e.get("LIAISON_EVENT") == "ready"), None)
    return spawned, ready


def measure_warm(container, logins, progress):
    """`logins` extra X11 logins of alice, with the 5 s poller running; one sample per login:
    {session, start, spawned, ready, polled} (times in seconds)."""
    container.exec(["mkdir", "-p", BENCH_DIR], timeout=15)
    container.exec(["systemd-run", f"--unit={POLLER_UNIT}", "--quiet", "--collect",
                    "sh", "-c", POLLER_SCRIPT], timeout=30)
    samples, alive = [], {}
    begin = time.monotonic()
    try:
        for index in range(logins):
            while time.monotonic() < begin + index * LOGIN_PERIOD_S:
                _retire_seen(container, alive, samples)
                time.sleep(0.05)
            session = container.login_x11("alice")
            alive[session] = {"since": time.monotonic(), "next_query": 0.0}
            progress(f"login {index + 1}/{logins}: session {session}")
        deadline = time.monotonic() + 2 * POLL_INTERVAL_S + READY_TIMEOUT_S
        while alive:
            if time.monotonic() > deadline:
                raise BenchError(f"sessions never seen by both liaison and the poller: "
                                 f"{sorted(alive)}; poller log:\n"
                                 f"{container.path(POLL_LOG).read_text()[-2000:]}")
            _retire_seen(container, alive, samples)
            time.sleep(0.05)
    finally:
        container.exec(["systemctl", "stop", POLLER_UNIT], check=False, timeout=30)
    return sorted(samples, key=lambda sample: sample["start"])


def _retire_seen(container, alive, samples):
    """Logs out every session both the poller and liaison have seen, recording its sample.
    The journal is asked only once the poller saw the session (liaison is long ready by then),
    so the bench's own queries do not run while an agent starts."""
    observations = _poll_observations(container)
    for session, state in list(alive.items()):
        polled = next((when for when, ids in observations if session in ids), None)
        if polled is None or time.monotonic() < state["next_query"]:
            continue
        spawned, ready = _liaison_times(container, session)
        if ready is None:
            if time.monotonic() - state["since"] > READY_TIMEOUT_S:
                raise BenchError(f"no LIAISON_EVENT=ready for session {session} after "
                                 f"{READY_TIMEOUT_S} s:\n{container.journal('liaison.service')}")
            state["next_query"] = time.monotonic() + 0.25
            continue
        start = session_start(container, session)
        samples.append({"session": session, "start": start, "spawned": spawned, "ready": ready,
                        "polled": polled})
        container.logout(session)
        del alive[session]


def measure_cold(container, logins, progress):
    """`logins` first-of-the-day logins of carol (no user manager running before each one):
    {session, start, manager_started, spawned, ready}."""
    user, uid = COLD_USER
    samples = []
    for index in range(logins):
        container.exec(["systemctl", "stop", f"user@{uid}.service",
                        f"user-runtime-dir@{uid}.service"], timeout=60)
        session = container.login_x11(user)
        spawned, ready = poll_until(lambda: _liaison_times(container, session),
                                    until=lambda times: times[1] is not None,
                                    timeout=READY_TIMEOUT_S, interval=0.1,
                                    what=f"LIAISON_EVENT=ready for session {session}")
        start = session_start(container, session)
        manager = [entry_time(e) for e in journal_entries(
            container, "_PID=1", f"UNIT=user@{uid}.service", "JOB_TYPE=start", "JOB_RESULT=done")]
        manager_started = next((when for when in manager if when >= start), None)
        samples.append({"session": session, "start": start, "manager_started": manager_started,
                        "spawned": spawned, "ready": ready})
        container.logout(session)
        progress(f"first login {index + 1}/{logins}: session {session}")
    container.exec(["systemctl", "stop", f"user@{uid}.service"], check=False, timeout=60)
    return samples
