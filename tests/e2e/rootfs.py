"""The cached root filesystem the e2e containers boot from.

scripts/e2e-rootfs.sh builds it (debootstrap, 1-2 minutes) into
/var/cache/liaison-e2e/rootfs-<hash>, where <hash> covers the script and every file it copies
in from tests/e2e/rootfs/: change either and the next run builds a fresh one. Containers never
write to it (they boot an overlay on top), so one build serves every run.
"""

import fcntl
import hashlib
import shutil
import sys
import time
from pathlib import Path

import runner

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "e2e-rootfs.sh"
ROOTFS_FILES = REPO_ROOT / "tests" / "e2e" / "rootfs"
CACHE_DIR = Path("/var/cache/liaison-e2e")
BUILD_TIMEOUT_S = 15 * 60
LOCK_TIMEOUT_S = BUILD_TIMEOUT_S + 60


def content_hash():
    """Hashes the build script and every file it installs (path, mode and content)."""
    digest = hashlib.sha256()
    # Python's bytecode caches are not inputs: a clean checkout must hash like a used one.
    inputs = [BUILD_SCRIPT, *sorted(p for p in ROOTFS_FILES.rglob("*")
                                    if p.is_file() and "__pycache__" not in p.parts)]
    for path in inputs:
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
        digest.update(oct(path.stat().st_mode & 0o7777).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_rootfs(announce=lambda message: print(message, file=sys.stderr)):
    """Returns the cached rootfs for the current inputs, building it first if needed.

    A lock serialises concurrent test runs: the second one waits for the first one's build.
    `announce` receives a line for the user before a build starts (it takes a while).
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    rootfs = CACHE_DIR / f"rootfs-{content_hash()}"
    with _exclusive_lock(CACHE_DIR / "lock"):
        if not rootfs.is_dir():
            announce(f"building e2e rootfs (about 1-2 minutes, once): {rootfs}")
            _build(rootfs)
            _remove_stale_builds(keep=rootfs)
    return rootfs


class _exclusive_lock:
    """flock() on a file, giving up after LOCK_TIMEOUT_S (flock itself has no timeout)."""

    def __init__(self, path):
        self.path = path
        self.file = None

    def __enter__(self):
        self.file = open(self.path, "w")
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.file.close()
                    raise TimeoutError(f"{self.path} held by another run for {LOCK_TIMEOUT_S} s")
                time.sleep(0.5)

    def __exit__(self, *exc):
        self.file.close()  # releases the lock


def _build(rootfs):
    """Runs the build script; on failure raises with the end of its log."""
    log = rootfs.with_name(rootfs.name + ".log")
    try:
        result = runner.run([str(BUILD_SCRIPT), str(rootfs)], timeout=BUILD_TIMEOUT_S, check=False)
    except runner.CommandError as error:
        log.write_text(error.stdout + error.stderr)
        raise
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise RuntimeError(f"{BUILD_SCRIPT} failed (exit status {result.returncode}); "
                           f"full log in {log}:\n{tail}")


def _remove_stale_builds(keep):
    """Deletes rootfs builds of older inputs that no mounted overlay uses any more."""
    mounts = Path("/proc/self/mountinfo").read_text()
    for old in CACHE_DIR.glob("rootfs-*"):
        if old == keep or old.suffix == ".log" or str(old) in mounts:
            continue
        shutil.rmtree(old, ignore_errors=True)
        old.with_name(old.name + ".log").unlink(missing_ok=True)
