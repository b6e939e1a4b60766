#!/usr/bin/python3
"""The cost of a fresh machine's first build (issue 10), as `make fresh-check` last measured it.

A cold build takes about ten minutes on 2 cores, most of the bench's budget, so the bench does not
repeat it: `scripts/fresh-check.sh` records each run that compiled everything itself (no compiler
cache hit) in /var/cache/liaison-fresh/cold-build.json, and this section reports that record with
its commit and date. `CCACHE=no make fresh-check` makes a new one.
"""

import json
from pathlib import Path

RECORD = Path("/var/cache/liaison-fresh/cold-build.json")
# The record before issue 25 made the build faster (tests at -Og -g1, precompiled headers), kept
# for comparison: a newer record replaces the table, not this.
EARLIER = ("Before issue 25 (commit `c36b69c`, 2026-12-06, 2 CPUs, AMD EPYC): `make` cold took "
           "9 min 17 s for 181 steps, the whole check 10 min 32 s. On this machine, the same "
           "day, cold builds of both (docs/setup.md): 5 min 43 s before, 3 min 59 s after.")


def load(record=RECORD):
    try:
        return json.loads(record.read_text())
    except (OSError, ValueError):
        return None


def _minutes(seconds):
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def markdown(record):
    lines = ["## A fresh machine's first build", ""]
    if record is None:
        lines += [f"Not measured on this machine ({RECORD} is missing): run "
                  "`CCACHE=no make fresh-check` as root, then `make bench`.", ""]
        return "\n".join(lines)
    lines += [
        f"From `make fresh-check` (`scripts/fresh-check.sh`, not this bench run) at commit "
        f"`{record['commit']}` on {record['date']}: a minimal Debian 12 container "
        f"(debootstrap minbase + git, make, ca-certificates) on {record['cpus']} CPUs "
        f"({record['cpu_model']}), no compiler cache. Baseline: none a build could be compared "
        "with; the packages' time depends on the mirror.", "",
        "| step | time |", "|---|---|",
        f"| `scripts/install-deps.sh bench` (every package, from the mirror) | "
        f"{_minutes(record['install_deps_s'])} |",
        f"| `make`, cold ({record['build_steps']} build steps, -j{record['cpus']}) | "
        f"{_minutes(record['make_s'])} |",
        f"| `make unit` (ctest, the build already done) | {_minutes(record['make_unit_s'])} |",
        *([f"| the fuzzers as `make test` runs them (their clang build, cold, and 5 s each) | "
           f"{_minutes(record['fuzz_s'])} |"] if "fuzz_s" in record else []),
        f"| the whole check (with the container's start) | {_minutes(record['total_s'])} |", "",
        EARLIER, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(load()))
