"""Runs inside the bench container, as root: sends notifications to one user, in turn with
`liaison notify`, with `runuser -u USER -- env XDG_RUNTIME_DIR=... notify-send`, as one
JSON-RPC line on a control.sock connection it keeps open (kind "raw": liaison's own cost, with no
CLI start-up), and as one sd-bus Notify call by a process of the user's that keeps its session-bus
connection open (kind "direct", liaison-bench-notify-direct: the agent's last hop alone), and
prints one JSON record per send: {kind, title, spawned, exited, status, error, warmup}. Between
them it spawns /bin/true the same way (kind "floor"): what spawning and reaping a command costs
the driver itself, a part of every time it takes; and sends a `version` request on the kept
control.sock connection (kind "version"): a round trip to the daemon and back, no agent.

`spawned` is time.time() taken just before the command is spawned and `exited` just after it
exits: the same CLOCK_REALTIME dbus-monitor stamps messages with. Commands are spawned with
posix_spawn (vfork + exec) and reaped with waitpid, stdin and stdout /dev/null and stderr a file
read only when the command failed: subprocess.run's pipes and its read of stderr to EOF cost the
driver about 1.3 ms more a command (measured, /bin/true: p50 2.8 ms against 1.5 ms), a cost of the
driver's that every command's time would carry. Every title is unique, so the
harness finds each send's Notify call in dbus-monitor's output.

    python3 notify_driver.py --user alice --uid 1001 --sends 50 --gap 0.2
"""

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid


CONTROL_SOCKET = "/run/liaison/control.sock"
DIRECT_PROGRAM = "/usr/local/bin/liaison-bench-notify-direct"
COMMAND_TIMEOUT = 30  # seconds; a command still running then is killed and counts as failed


class open_pidfd:
    """A pidfd of a child, closed on leaving the with-block: readable once the child exits."""

    def __init__(self, pid):
        self.fd = os.pidfd_open(pid)

    def __enter__(self):
        return self.fd

    def __exit__(self, *_):
        os.close(self.fd)


class RawClient:
    """One control.sock connection, kept open: a request line, then its answer line."""

    def __init__(self, user):
        self.user = user
        self.ids = 0
        self.sock = None
        self.buffer = b""

    def __call__(self, title):
        """Sends one notify; returns (status, error) like a command's."""
        return self.call("notify", {"user": [self.user], "title": title, "body": "bench"})

    def call(self, method, params):
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(CONTROL_SOCKET)
            self.buffer = b""
        self.ids += 1
        request = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.sock = None
                return 1, "the daemon closed the connection"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        answer = json.loads(line)
        return (0, "") if "result" in answer else (1, json.dumps(answer.get("error"))[-300:])


class DirectClient:
    """liaison-bench-notify-direct running as the user in their session, kept open: a title
    line in, "ok" (after Notify returned) or "error: ..." out."""

    def __init__(self, user, runtime_dir):
        self.process = subprocess.Popen(
            ["runuser", "-u", user, "--", "env", f"XDG_RUNTIME_DIR={runtime_dir}",
             f"DBUS_SESSION_BUS_ADDRESS=unix:path={runtime_dir}/bus", DIRECT_PROGRAM,
             "liaison-bench"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def __call__(self, title):
        self.process.stdin.write(title + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        return (0, "") if answer == "ok" else (1, answer or "the program exited")

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


class Spawner:
    """Runs a command as cheaply as the driver can: posix_spawn, then waitpid. stdin and stdout
    are /dev/null; stderr goes to one scratch file, truncated at each spawn and read back only
    when the command failed."""

    def __init__(self):
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.stderr = tempfile.TemporaryFile()

    def __call__(self, argv):
        """Returns (status, error) of one run of argv; argv[0] is looked up in PATH."""
        self.stderr.seek(0)
        self.stderr.truncate()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, self.devnull, 0),
            (os.POSIX_SPAWN_DUP2, self.devnull, 1),
            (os.POSIX_SPAWN_DUP2, self.stderr.fileno(), 2),
        ])
        with open_pidfd(pid) as pidfd:
            if not select.select([pidfd], [], [], COMMAND_TIMEOUT)[0]:
                os.kill(pid, signal.SIGKILL)
        _, wait_status = os.waitpid(pid, 0)
        status = os.waitstatus_to_exitcode(wait_status)
        if status == 0:
            return 0, ""
        self.stderr.seek(0)
        return status, self.stderr.read().decode(errors="replace").strip()[-300:]


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
        "raw": None,  # not commands: the kept connections below
        "version": None,
        "direct": None,
    }
    raw = RawClient(args.user)
    direct = DirectClient(args.user, runtime_dir)
    kept = {"raw": raw, "version": lambda _title: raw.call("version", {}), "direct": direct}
    close_all = ["runuser", "-u", args.user, "--", "env", f"XDG_RUNTIME_DIR={runtime_dir}",
                 f"DBUS_SESSION_BUS_ADDRESS=unix:path={runtime_dir}/bus", "dunstctl", "close-all"]
    spawn = Spawner()
    records = []

    def send(kind, index, warmup=False):
        title = f"bench {kind} {index} {tag}"
        if kind in kept:
            spawned = time.time()
            status, error = kept[kind](title)
            exited = time.time()
        else:
            argv = commands[kind](title)
            spawned = time.time()
            status, error = spawn(argv)
            exited = time.time()
        records.append({"kind": kind, "title": title, "spawned": spawned, "exited": exited,
                        "status": status, "error": error, "warmup": warmup})
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
    direct.close()
    json.dump(records, sys.stdout)


if __name__ == "__main__":
    main()
