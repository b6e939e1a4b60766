#!/usr/bin/python3
"""`make bench`: liaison's numbers, each beside a baseline measured in the same run.

    sudo /usr/bin/python3 bench/run.py [--build-dir build] [--out docs/performance.md]

Boots the e2e harness's throwaway Debian 12 container (systemd + logind), logs alice in to an
X11 desktop (dunst) and bob in to a Wayland one (mako), installs liaison from the build
directory, starts it, and measures:

  1. login -> agent ready (warm logins and first logins), beside a real 5 s logind poller;
  2. `liaison notify` -> the notification server received it, beside runuser + notify-send;
     and both commands' wall time (hyperfine);
  3. agent idle RSS, beside the notification servers and `sleep`;
  4. daemon (and agent) wakeups per idle minute, beside a 5 s polling loop;
  5. per launch strategy: login -> ready, kill -9 -> ready again, restart -> re-adopted
     (bench/strategies.py);
  6. presence: request -> the prompt reaches the session's polkit agent, beside pkcheck
     (bench/presence.py);
  7. signatures per second through control.sock and the CLI, beside a raw Esys_Sign loop on the
     same swtpm and `openssl speed` (bench/keys.py, on the host).

It prints a table and writes the report (a generated file) to --out. About 5-7 minutes.
The container is always torn down; exit status 1 when a measurement fails.
"""

import datetime
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from common import (BENCH_DIR, REPO_ROOT, BenchError, Container, bench_parser, interrupt,
                    liaison_sessions, memory, poll_until, raise_rate_limit, rootfs)
import cold_build
import idle
import keys as key_bench
import login_ready
import storm
import strategies
import notify_latency
import presence
import report

DUNSTRC = "/usr/local/share/liaison-test/dunstrc"
READY_TIMEOUT_S = 10


def progress(message):
    print(f"  {message}", flush=True)


def phase(title):
    print(f"\n== {title}", flush=True)


# ---- setup -------------------------------------------------------------------------------------

def prepare(container, build_dir):
    """The bench's own changes to its throwaway container, then liaison and two desktops."""
    # dunst's harness hook runs a Python script for every notification: not part of a desktop,
    # and CPU the measured commands would compete with. dbus-monitor is the bench's witness.
    dunstrc = container.path(DUNSTRC)
    text, removed = re.subn(r"\[liaison_test_log\][^\[]*", "", dunstrc.read_text())
    if not removed:
        raise BenchError(f"{DUNSTRC} has no [liaison_test_log] section to switch off")
    dunstrc.write_text(text)
    hyperfine = shutil.which("hyperfine")
    if not hyperfine:
        raise BenchError("hyperfine is not installed (`make bench` installs it: "
                         "scripts/install-deps.sh bench)")
    shutil.copy2(hyperfine, container.path("/usr/local/bin/hyperfine"))

    container.install_liaison(build_dir)
    direct = build_dir / "tests/integration" / notify_latency.DIRECT
    if not direct.exists():
        raise BenchError(f"{direct} is not built (cmake --build {build_dir})")
    container.install_test_program(direct, notify_latency.DIRECT)
    raise_rate_limit(container)
    container.exec(["mkdir", "-p", BENCH_DIR], timeout=15)

    sessions = {"alice": container.login_x11("alice"), "bob": container.login_wayland("bob")}
    container.exec(["systemctl", "start", "liaison.service"], timeout=30)
    poll_until(lambda: liaison_sessions(container), timeout=READY_TIMEOUT_S,
               until=lambda listed: all(listed.get(s, {}).get("agent", {}).get("state") == "ready"
                                        for s in sessions.values()),
               what="ready agents for alice and bob")
    progress(f"alice: session {sessions['alice']} (X11, dunst); "
             f"bob: session {sessions['bob']} (Wayland, mako); both agents ready")
    return sessions


def fresh_memory(container, sessions):
    """The agents' memory right after they became ready (before any notification)."""
    time.sleep(1)
    return {f"agent ({user})": memory(container, pid)
            for user, pid in idle.agent_pids(container, sessions).items()}


# ---- facts about this run ------------------------------------------------------------------------

def _command(argv, cwd=None):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=cwd,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _load_average():
    """The 1-minute load average: how busy the shared machine was."""
    return Path("/proc/loadavg").read_text().split()[0]


def machine_facts(container, build_dir):
    cpu = next((line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    dirty = _command(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT)
    flags = ""
    commands = build_dir / "compile_commands.json"
    if commands.exists():
        first = re.search(r'"command":\s*"([^"]*)"', commands.read_text())
        if first:
            flags = " ".join(w for w in shlex.split(first.group(1))
                             if w.startswith(("-O", "-g", "-DNDEBUG", "-march", "-flto")))
    systemd = container.exec(["systemctl", "--version"], timeout=15).stdout.splitlines()[0]
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "commit": _command(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT) or "unknown",
            "dirty": " plus uncommitted changes to tracked files" if dirty else "",
            "build_dir": (os.path.relpath(build_dir, REPO_ROOT)
                          if build_dir.is_relative_to(REPO_ROOT) else str(build_dir)),
            "flags": flags or "unknown flags", "systemd": systemd,
            "login_period": login_ready.LOGIN_PERIOD_S}


# ---- main ----------------------------------------------------------------------------------------

def main():
    parser = bench_parser(__doc__)
    parser.add_argument("--logins", type=int, default=20, help="warm logins (default 20)")
    parser.add_argument("--first-logins", type=int, default=3,
                        help="first-of-the-day logins (default 3)")
    parser.add_argument("--sends", type=int, default=50, help="sends per command (default 50)")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between sends")
    parser.add_argument("--hyperfine-runs", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--strategy-rounds", type=int, default=10,
                        help="rounds per launch strategy (default 10)")
    parser.add_argument("--presence-rounds", type=int, default=20,
                        help="presence checks per contender (default 20)")
    parser.add_argument("--signatures", type=int, default=2000,
                        help="signatures per contender in the keys bench (default 2000)")
    parser.add_argument("--cli-signatures", type=int, default=200,
                        help="`liaison key sign` runs in the keys bench (default 200)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: must run as root (it boots a systemd-nspawn container)", file=sys.stderr)
        return 1
    check = subprocess.run([str(REPO_ROOT / "scripts" / "check-host-programs.sh"), "bench"],
                           capture_output=True, text=True, timeout=60)
    if check.returncode != 0:  # each missing program named with its package
        print(f"bench: cannot run:\n{check.stderr}", file=sys.stderr, end="")
        return 1
    build_dir = Path(args.build_dir).resolve()
    out = Path(args.out)
    signal.signal(signal.SIGTERM, interrupt)
    began = time.monotonic()
    load_before = _load_average()

    print("liaison bench: every number beside a baseline from the same run, "
          "in a throwaway container")
    Container.reap_orphans()
    image = rootfs.ensure_rootfs(announce=lambda message: print(message, flush=True))
    container = Container(image)
    results = {}
    current = "boot"
    try:
        phase("boot the container, log in alice (X11) and bob (Wayland), start liaison")
        container.boot()
        sessions = prepare(container, build_dir)
        meta = machine_facts(container, build_dir)
        results["fresh_memory"] = fresh_memory(container, sessions)

        current = "login -> agent ready"
        phase(f"{current} (the 5 s poller runs beside it)")
        results["warm"] = login_ready.measure_warm(container, args.logins, progress)
        results["cold"] = login_ready.measure_cold(container, args.first_logins, progress)

        current = "liaison notify -> server received"
        phase(current)
        results["notify"] = notify_latency.measure(container, "alice", args.sends, args.gap,
                                                   progress)
        notify_latency.close_all(container, "alice")
        results["hyperfine"] = notify_latency.hyperfine(container, "alice", args.hyperfine_runs,
                                                        progress)
        notify_latency.close_all(container, "alice")

        current = "idle minute"
        phase(f"{current}: wakeups and resident memory")
        results["idle"] = idle.measure(container, sessions, args.idle_seconds, progress)

        current = "presence"
        phase(f"{current}: request -> the prompt reaches the authentication agent")
        presence_results = presence.measure(container, sessions, args.presence_rounds, progress)

        current = "launch strategies"
        phase(f"{current}: login -> ready, kill -9 -> ready, restart -> re-adopted")
        strategy_results = strategies.measure(container, sessions, rounds=args.strategy_rounds,
                                              progress=progress)
    except KeyboardInterrupt:
        print(f"\nbench interrupted during: {current}", file=sys.stderr)
        return 130
    except Exception as error:  # every failure ends the same way: named, then torn down
        what = str(error) if isinstance(error, BenchError) else f"{type(error).__name__}: {error}"
        print(f"\nbench FAILED during {current}: {what}", file=sys.stderr)
        for note in getattr(error, "__notes__", []):
            print(note, file=sys.stderr)
        return 1
    finally:
        container.teardown()

    try:
        phase("signatures per second (keys), on the host: swtpm and a daemon of the bench's own")
        key_results = key_bench.measure(build_dir, args.signatures, args.cli_signatures, progress)
    except Exception as error:
        print(f"\nbench FAILED during signatures per second: {error}", file=sys.stderr)
        return 1
    meta.update(duration=time.monotonic() - began, gap=args.gap, load_before=load_before,
                load_after=_load_average())
    derived = report.derive(results)
    print(f"\n{report.terminal_table(results, derived)}\n")
    keys_section = key_bench.markdown(key_results, args.signatures, args.cli_signatures)
    print(keys_section)
    out.parent.mkdir(parents=True, exist_ok=True)
    strategies_section = strategies.markdown(strategy_results)
    print(strategies_section)
    presence_section = presence.markdown(presence_results)
    print(presence_section)
    build_section = cold_build.markdown(cold_build.load())
    print(build_section)
    # The storm section is make bench-storm's: kept as the last run of it wrote it.
    storm_section = storm.existing_section(out.read_text() if out.exists() else "")
    out.write_text(report.markdown(results, derived, meta).rstrip("\n") + "\n\n" +
                   strategies_section.rstrip("\n") + "\n\n" + presence_section.rstrip("\n") +
                   "\n\n" + keys_section.rstrip("\n") +
                   "\n\n" + build_section.rstrip("\n") + "\n" +
                   ("\n" + storm_section if storm_section else ""))
    print(f"bench done in {meta['duration']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
