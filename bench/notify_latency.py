"""`liaison notify` -> the notification server received it, next to runuser + notify-send.

dbus-monitor runs as the user on the user's session bus (BecomeMonitor), watching Notify calls
and the server's method returns; it stamps each message with CLOCK_REALTIME when the bus hands
it over, which the bus does for the monitor as it does for the server. notify_driver.py (in the
container) stamps each command just before spawning it, with the same clock. Per send:
received = Notify call stamped - spawned; replied = the server's return stamped - spawned;
wall = exited - spawned. hyperfine measures the two commands' wall time on its own, too.
"""

import json
import re
import shutil
import time
from pathlib import Path

from common import BENCH_DIR, BenchError, poll_until

DRIVER = Path(__file__).resolve().parent / "notify_driver.py"
# The raw library call the driver's "direct" kind runs (bench/notify_direct.cpp), and where.
DIRECT = "liaison-bench-notify-direct"
WALL_ONLY = ("floor", "version")  # kinds that send no notification
NOTIFICATIONS = "org.freedesktop.Notifications"
HEADER = re.compile(r"^(?P<type>method call|method return|signal|error) time=(?P<time>[\d.]+) "
                    r"sender=(?P<sender>\S+) -> destination=(?P<destination>\S+) "
                    r"serial=(?P<serial>\d+)(?: reply_serial=(?P<reply_serial>\d+))?")


def notification_server_owner(container, user):
    """The unique bus name of the user's notification server, e.g. ':1.3'."""
    reply = container.exec(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                            "--object-path", "/org/freedesktop/DBus", "--method",
                            "org.freedesktop.DBus.GetNameOwner", NOTIFICATIONS],
                           user=user, timeout=15).stdout
    found = re.search(r"'(:[\d.]+)'", reply)
    if not found:
        raise BenchError(f"no owner of {NOTIFICATIONS} on {user}'s bus: {reply!r}")
    return found.group(1)


def parse_monitor(text, titles):
    """{title: {"received": t, "replied": t|None}} from dbus-monitor's default output."""
    calls, returns = {}, {}
    blocks = re.split(r"\n(?=\S)", text)
    for block in blocks:
        header = HEADER.match(block)
        if not header:
            continue
        when = float(header["time"])
        if header["type"] == "method return":
            returns[(header["destination"], header["reply_serial"])] = when
        elif header["type"] == "method call" and "member=Notify" in block.splitlines()[0]:
            strings = set(re.findall(r'^\s+string "(.*)"$', block, re.MULTILINE))
            for title in titles & strings:
                calls.setdefault(title, (when, header["sender"], header["serial"]))
    return {title: {"received": when, "replied": returns.get((sender, serial))}
            for title, (when, sender, serial) in calls.items()}


def measure(container, user, sends, gap, progress):
    """Runs the driver under dbus-monitor; returns one record per timed send:
    {kind, received, replied, wall} in seconds (kinds "floor", /bin/true, and "version", a
    control.sock round trip: wall only)."""
    account = container.account(user)
    owner = notification_server_owner(container, user)
    monitor_file = f"{account.runtime_dir}/liaison-bench-monitor.txt"
    rules = [f"type='method_call',interface='{NOTIFICATIONS}',member='Notify'",
             f"type='method_return',sender='{owner}'"]
    monitor = container.start(["sh", "-c", f'exec dbus-monitor --session "$@" > {monitor_file}',
                               "sh", *rules], user=user, timeout=sends * 2 * (gap + 1) + 120)
    try:
        # dbus-monitor prints the NameAcquired/NameLost pair of its BecomeMonitor call first.
        poll_until(lambda: "NameLost" in _read(container, monitor_file), timeout=10,
                   what="dbus-monitor to start monitoring")
        shutil.copy(DRIVER, container.path(f"{BENCH_DIR}/notify_driver.py"))
        progress(f"{sends} sends each of `liaison notify`, `notify-send`, a control.sock line "
                 f"and a direct sd-bus call, {gap:.2f} s apart, under dbus-monitor")
        result = container.exec(["python3", f"{BENCH_DIR}/notify_driver.py", "--user", user,
                                 "--uid", str(account.uid), "--sends", str(sends),
                                 "--gap", str(gap)], timeout=sends * 4 * (gap + 5) + 60)
        time.sleep(0.2)  # the last messages reach the monitor's file
    finally:
        monitor.kill()
    records = json.loads(result.stdout)
    failed = [r for r in records if r["status"] != 0]
    if failed:
        raise BenchError(f"{len(failed)} sends failed, e.g. {failed[0]}")
    notifying = [r for r in records if r["kind"] not in WALL_ONLY]
    seen = parse_monitor(_read(container, monitor_file), {r["title"] for r in notifying})
    missing = [r["title"] for r in notifying if r["title"] not in seen]
    if missing:
        raise BenchError(f"dbus-monitor saw no Notify call for {len(missing)} sends, "
                         f"e.g. {missing[:3]}")
    timed = []
    for record in records:
        if record["warmup"]:
            continue
        if record["kind"] in WALL_ONLY:
            timed.append({"kind": record["kind"], "received": None, "replied": None,
                          "wall": record["exited"] - record["spawned"]})
            continue
        times = seen[record["title"]]
        replied = times["replied"]
        timed.append({"kind": record["kind"],
                      "received": times["received"] - record["spawned"],
                      "replied": None if replied is None else replied - record["spawned"],
                      "wall": record["exited"] - record["spawned"]})
    return timed


def hyperfine(container, user, runs, progress):
    """hyperfine's wall time of both commands (inside the container, no shell), and of
    `liaison --help` (the CLI starting and exiting without talking to the daemon): the
    "results" of its JSON export."""
    account = container.account(user)
    export = f"{BENCH_DIR}/hyperfine.json"
    commands = [f"liaison notify --user {user} --title hyperfine-liaison --body bench",
                f"runuser -u {user} -- env XDG_RUNTIME_DIR={account.runtime_dir} "
                f"notify-send hyperfine-notify-send bench",
                "liaison --help"]
    progress(f"hyperfine: {runs} runs of each of {len(commands)} commands "
             "(after 3 warm-up runs)")
    container.exec(["hyperfine", "--shell=none", "--warmup", "3", "--runs", str(runs),
                    "--style", "none", "--export-json", export, *commands], timeout=300)
    return json.loads(container.path(export).read_text())["results"]


def close_all(container, user):
    """Closes every notification on the user's dunst (the next measurement starts clean)."""
    container.exec(["dunstctl", "close-all"], user=user, timeout=15)


def _read(container, path):
    try:
        return container.path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""
