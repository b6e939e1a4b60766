"""The guard of issue 10 guarded: `make fresh-check` must fail, naming the package, when
scripts/install-deps.sh stops installing something the harness needs.

A clone of this repository with python3-pytest dropped from install-deps.sh's list (no other
package of the bench profile depends on it, so nothing brings it back) runs
`scripts/fresh-check.sh --programs-only` in the minimal container: install-deps.sh, then the
program check, no build (about a minute once the minimal root filesystem is cached). The run must
fail with check-host-programs.sh's line for pytest and no other: every other program is
installed, so the check is not failing for an unrelated reason.
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DROPPED = "python3-pytest"


def _git(*args, cwd):
    return subprocess.run(["git", "-c", "user.name=fresh-check test",
                           "-c", "user.email=fresh-check@invalid", *args],
                          cwd=cwd, check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture
def clone_without_pytest(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("fresh-check boots a systemd-nspawn container and must run as root")
    clone = tmp_path / "liaison"
    _git("clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone), cwd=tmp_path)
    script = clone / "scripts" / "install-deps.sh"
    text = script.read_text()
    assert f" {DROPPED} " in text, f"install-deps.sh no longer lists {DROPPED}: update this test"
    script.write_text(text.replace(f" {DROPPED} ", " ", 1))
    _git("commit", "--quiet", "-am", f"drop {DROPPED}", cwd=clone)
    return clone


def test_fresh_check_names_a_dropped_package(clone_without_pytest):
    result = subprocess.run(
        [str(clone_without_pytest / "scripts" / "fresh-check.sh"), "--programs-only",
         "--repo", str(clone_without_pytest)],
        capture_output=True, text=True, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"fresh-check passed without {DROPPED}:\n{output}"
    missing = [line for line in output.splitlines() if " missing: install " in line]
    assert missing == [
        f"liaison: python3:pytest missing: install {DROPPED} "
        "(scripts/install-deps.sh profile 'test', needed by the e2e suite)"], output
    assert "fresh-check: FAILED after" in output, output
