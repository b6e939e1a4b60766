"""Runs inside the bench container, as root: sends notifications to one user, alternately with
`liaison notify` and with `runuser -u USER -- env XDG_RUNTIME_DIR=... notify-send`, and prints
one JSON record per send: {kind, title, spawned, exited, status, error, warmup}. Between them it
spawns /bin/true the same way (kind "floor"): what spawning and reaping a command costs the
driver itself, a part of every time it takes.

`spawned` is time.time() taken just before the command is spawned and `exited` just after it
exits: the same CLOCK_REALTIME dbus-monitor stamps messages with. Every title is unique, so the
harness finds each send's Notify call in dbus-monitor's output.

    python3 notify_driver.py --user alice --uid 1001 --sends 50 --gap 0.2
"""

import argparse
import json
import subprocess
import sys
import time
import uuid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", required=True)
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--sends", type=int, default=50, help="sends per command")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between sends")
    args = parser.parse_args()
    runtime_dir = f"/run/user/{args.uid}"
    tag = uuid.uuid4().hex[:6]
    commands = {
        "liaison": lambda title: ["liaison", "notify", "--user", args.user, "--title", title,
                                  "--body", "bench"],
        "notify-send": lambda title: ["runuser", "-u", args.user, "--", "env",
                                      f"XDG_RUNTIME_DIR={runtime_dir}", "notify-send", title,
                                      "bench"],
        "floor": lambda title: ["/bin/true", title],
    }
    close_all = ["runuser", "-u", args.user, "--", "env", f"XDG_RUNTIME_DIR={runtime_dir}",
                 f"DBUS_SESSION_BUS_ADDRESS=unix:path={runtime_dir}/bus", "dunstctl", "close-all"]
    records = []

    def send(kind, index, warmup=False):
        title = f"bench {kind} {index} {tag}"
        argv = commands[kind](title)
        spawned = time.time()
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=30)
        exited = time.time()
        records.append({"kind": kind, "title": title, "spawned": spawned, "exited": exited,
                        "status": result.returncode, "error": result.stderr.strip()[-300:],
                        "warmup": warmup})
        time.sleep(args.gap)

    # The first send of each kind warms caches (and the agent asks GetCapabilities once).
    for kind in commands:
        send(kind, "warmup", warmup=True)
    for index in range(args.sends):
        kinds = list(commands)
        shift = index % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:  # rotate: none always follows another
            send(kind, index)
        if index % 10 == 9:  # keep the server's screen short; not timed
            subprocess.run(close_all, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=30)
            time.sleep(args.gap)
    json.dump(records, sys.stdout)


if __name__ == "__main__":
    main()
