"""What every measurement of `make bench` shares: the e2e harness, container queries, statistics.

The bench runs in the e2e harness's throwaway container (tests/e2e/container.py); nothing here
changes the host. Times are CLOCK_REALTIME microseconds or seconds: the container shares the
host's clock, so logind's timestamps, the journal's and a process's time.time() compare directly.
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))

import rootfs  # noqa: E402  (the harness's modules: tests/e2e)
from container import Container, ContainerError  # noqa: E402
from runner import CommandError, poll_until  # noqa: E402

BENCH_DIR = "/run/liaison-bench"  # inside the container

__all__ = [  # the harness's names the bench uses come from here, with the bench's own
    "BENCH_DIR", "REPO_ROOT", "BenchError", "CommandError", "Container", "ContainerError",
    "bus_path_escape", "context_switches", "entry_time", "journal_entries", "liaison_sessions",
    "main_pid", "mb", "memory", "ms", "percentile", "poll_until", "process_ids_by_name",
    "bench_parser", "interrupt", "raise_rate_limit", "resident_by_file", "rootfs", "session_start", "start_ticks",
    "start_unit", "summary",
]

CONFIG = "/etc/liaison/liaison.toml"


def bench_parser(doc):
    """The arguments every bench script takes: the build to measure and the report to write."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--out", default="docs/performance.md")
    return parser


def interrupt(signum, _frame):
    """A SIGTERM handler: ends the bench the way Ctrl-C does, so the container is torn down."""
    raise KeyboardInterrupt(f"signal {signum}")


class BenchError(Exception):
    """A measurement could not be taken; the message says what was seen instead."""


# ---- the container -------------------------------------------------------------------------------

def raise_rate_limit(container):
    """The default 30 notifications a minute per user would refuse a bench's sends: raised in
    the container's liaison.toml (written with defaults if there is none yet)."""
    config = container.path(CONFIG)
    if config.exists():
        text, changed = re.subn(r"(?m)^per_user_per_minute\s*=\s*\d+",
                                "per_user_per_minute = 100000", config.read_text())
        if not changed:
            raise BenchError(f"{CONFIG} sets no per_user_per_minute to raise")
    else:  # defaults for everything else
        config.parent.mkdir(parents=True, exist_ok=True)
        text = "[notify]\nper_user_per_minute = 100000\n"
    config.write_text(text)


def start_unit(container, unit, argv):
    """Runs argv as a transient system service in the container; returns its main pid."""
    container.exec(["systemd-run", f"--unit={unit}", "--quiet", "--collect", *argv], timeout=30)
    return main_pid(container, unit)


def main_pid(container, unit):
    pid = container.exec(["systemctl", "show", unit, "--property=MainPID", "--value"],
                         timeout=15).stdout.strip()
    if not pid.isdigit() or pid == "0":
        raise BenchError(f"{unit} has no main process (MainPID={pid!r}):\n"
                         f"{container.journal(unit)}")
    return int(pid)


def journal_entries(container, *matches, unit=None):
    """Journal entries (dicts, oldest first) matching every FIELD=value given."""
    argv = ["journalctl", "--no-pager", "-o", "json", *([f"--unit={unit}"] if unit else []),
            *matches]
    output = container.exec(argv, timeout=30).stdout
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def entry_time(entry):
    """When an entry was logged, in seconds: the kernel's timestamp of the log datagram
    (_SOURCE_REALTIME_TIMESTAMP) when journald recorded one, else journald's own receive time."""
    return int(entry.get("_SOURCE_REALTIME_TIMESTAMP") or entry["__REALTIME_TIMESTAMP"]) / 1e6


def bus_path_escape(text):
    """sd_bus_path_encode's escaping of one path element ("295" -> "_3295")."""
    escaped = []
    for index, char in enumerate(text):
        plain = char.isascii() and (char.isalpha() or (char.isdigit() and index > 0))
        escaped.append(char if plain else f"_{ord(char):02x}")
    return "".join(escaped) or "_"


def session_start(container, session_id):
    """logind's Timestamp of a session (its creation), in seconds; read while it exists."""
    output = container.exec(
        ["busctl", "get-property", "org.freedesktop.login1",
         f"/org/freedesktop/login1/session/{bus_path_escape(session_id)}",
         "org.freedesktop.login1.Session", "Timestamp"], timeout=15).stdout.split()
    if len(output) != 2 or output[0] != "t" or not output[1].isdigit():
        raise BenchError(f"unexpected Timestamp of session {session_id}: {output}")
    return int(output[1]) / 1e6


def liaison_sessions(container):
    """`liaison sessions --json` as {session id: entry}."""
    result = container.exec(["liaison", "sessions", "--json"], timeout=15)
    return {entry["session"]: entry for entry in json.loads(result.stdout)}


def process_ids_by_name(container):
    """{command name: [pid, ...]} of every process in the container."""
    table = container.exec(["ps", "-eo", "pid=,comm="], timeout=15).stdout
    found = {}
    for line in table.splitlines():
        pid, _, name = line.strip().partition(" ")
        found.setdefault(name.strip(), []).append(int(pid))
    return found


def context_switches(container, pid):
    """Voluntary + involuntary context switches of every thread of a process, so far."""
    total = 0
    for task in container.path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                total += int(line.split()[1])
    return total


def start_ticks(container, pid):
    """The process's start time in clock ticks since boot: tells a restarted process apart."""
    stat = container.path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def memory(container, pid):
    """Resident memory of a process in kB: VmRSS and its parts (status), Pss (smaps_rollup),
    which charges shared pages to each sharer in proportion, and Uss: its private pages alone
    (Private_Clean + Private_Dirty), what the process would give back by exiting."""
    fields = {}
    for line in container.path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[key] = int(value.split()[0])
    fields["Uss"] = 0
    for line in container.path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            fields["Pss"] = int(line.split()[1])
        elif line.startswith(("Private_Clean:", "Private_Dirty:")):
            fields["Uss"] += int(line.split()[1])
    return fields


def resident_by_file(container, pid):
    """{mapped file's name (or [heap], [anon], ...): resident kB} from /proc/<pid>/smaps,
    largest first: which libraries an RSS figure is made of."""
    totals, name = {}, None
    for line in container.path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):  # a mapping's header
            name = Path(fields[5]).name if len(fields) > 5 else "[anon]"
        elif fields and fields[0] == "Rss:" and name is not None:
            totals[name] = totals.get(name, 0) + int(fields[1])
    return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))


# ---- statistics ----------------------------------------------------------------------------------

def percentile(values, fraction):
    """Linear interpolation between the closest ranks (numpy's default); values need not be
    sorted."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def summary(values):
    """n, mean, min, p50, p95, max of a list of numbers."""
    values = list(values)
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": sum(values) / len(values), "min": min(values),
            "p50": percentile(values, 0.50), "p95": percentile(values, 0.95), "max": max(values)}


def ms(seconds):
    """A duration for people: '4.2 ms', '17 ms', '2.46 s'."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    value = seconds * 1000
    return f"{value:.1f} ms" if value < 20 else f"{value:.0f} ms"


def mb(kilobytes):
    return f"{kilobytes / 1024:.1f} MB"
