"""Idle cost: wakeups per idle minute and resident memory, next to a 5 s poller and a floor.

Wakeups: the context switches (voluntary + involuntary, summed over every thread, from
/proc/<pid>/task/*/status) of the daemon and of each agent over one idle minute with two agents
connected; a process that sleeps in epoll_wait with nothing to do has none. The baseline runs in
the same minute: `sh -c 'while sleep 5; do loginctl list-sessions >/dev/null; done'`, whose shell
wakes at least once per iteration (12 a minute) to reap each child, and whose 24 child processes
a minute (sleep, loginctl) come on top. /proc is read from the host: nothing runs in the
container during the minute.
"""

import time

from common import (BenchError, context_switches, liaison_sessions, main_pid, memory,
                    process_ids_by_name, resident_by_file, start_ticks, start_unit)

POLLER_UNIT = "liaison-bench-idle-poller"
POLLER = "while sleep 5; do loginctl list-sessions >/dev/null; done"
FLOOR_UNIT = "liaison-bench-floor"
# The queries before the minute wake the daemon; asio also leaves its timerfd armed for a
# cancelled timer (a 5 s call or hello deadline), which fires once, finds nothing and re-arms
# for asio's maximum of 5 minutes. Idle starts once that is over.
SETTLE_S = 6


def agent_pids(container, sessions):
    """{user: agent pid} of the given {user: session id}, all ready."""
    listed = liaison_sessions(container)
    pids = {}
    for user, session in sessions.items():
        agent = listed.get(session, {}).get("agent", {})
        if agent.get("state") != "ready":
            raise BenchError(f"{user}'s session {session} has no ready agent: {listed}")
        pids[user] = agent["pid"]
    return pids


def measure(container, sessions, seconds, progress):
    """One idle minute (or `seconds`): {"seconds", "wakeups": {name: count},
    "memory": {name: {VmRSS, RssAnon, RssFile, RssShmem, Pss}} (kB), "agent_files": one agent's
    resident kB by mapped file}; memory is read at the minute's end."""
    processes = {"daemon": main_pid(container, "liaison.service")}
    for user, pid in agent_pids(container, sessions).items():
        processes[f"agent ({user})"] = pid
    by_name = process_ids_by_name(container)
    for server in ("dunst", "mako"):
        if len(by_name.get(server, [])) != 1:
            raise BenchError(f"expected one {server} process, found {by_name.get(server)}")
        processes[server] = by_name[server][0]
    processes["poller (sh)"] = start_unit(container, POLLER_UNIT, ["sh", "-c", POLLER])
    processes["sleep"] = start_unit(container, FLOOR_UNIT, ["sleep", "infinity"])
    counted = ["daemon", *[name for name in processes if name.startswith("agent")], "poller (sh)"]

    time.sleep(SETTLE_S)
    progress(f"{seconds} s of idleness: nothing runs in the container but its own processes")
    started = {name: start_ticks(container, pid) for name, pid in processes.items()}
    before = {name: context_switches(container, processes[name]) for name in counted}
    begin = time.monotonic()
    time.sleep(seconds)
    after = {name: context_switches(container, processes[name]) for name in counted}
    elapsed = time.monotonic() - begin
    restarted = [name for name, pid in processes.items()
                 if not container.process_running(pid)
                 or start_ticks(container, pid) != started[name]]
    if restarted:
        raise BenchError(f"{', '.join(restarted)} exited or restarted during the idle minute")
    first_agent = next(name for name in processes if name.startswith("agent"))
    return {"seconds": elapsed,
            "wakeups": {name: after[name] - before[name] for name in counted},
            "memory": {name: memory(container, pid) for name, pid in processes.items()},
            "agent_files": {"agent": first_agent,
                            "rss": resident_by_file(container, processes[first_agent])}}
