"""Fixtures of the end-to-end tests: one container, booted once and shared by every test.

Run as root: `/usr/bin/python3 -m pytest tests/e2e [--liaison-build-dir build]`. The first
run builds the container's root filesystem (1-2 minutes, cached in /var/cache/liaison-e2e).
"""

import os
import signal
import subprocess
from pathlib import Path

import pytest

import rootfs
from container import Container
from liaison_cli import wait_for_ready_agents
from runner import CommandError

STACK_TESTS_MODULE = "test_stack.py"
REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    parser.addoption("--liaison-build-dir", default="build",
                     help="CMake build directory of liaison to install into the container "
                          "(default: build, relative to the directory pytest runs in)")


def pytest_sessionstart(session):
    """Every program the harness runs on the host must be there (scripts/host-programs.txt names
    each with its package); a missing one stops the run at once with that name. A SIGTERM (a CI
    job's timeout) ends the run the way Ctrl-C does, so the fixtures still tear the container
    down."""
    check = subprocess.run([str(REPO_ROOT / "scripts" / "check-host-programs.sh"), "test"],
                           capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        pytest.exit(f"the e2e harness cannot run:\n{check.stderr}", returncode=3)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_collection_modifyitems(items):
    """Runs the tests of the stack first: when they fail, failures of liaison's tests are noise."""
    items.sort(key=lambda item: item.path.name != STACK_TESTS_MODULE)


@pytest.fixture(scope="session")
def liaison_build_dir(request):
    """The liaison build to test (--liaison-build-dir), relative to where pytest was started."""
    option = Path(request.config.getoption("--liaison-build-dir"))
    return option if option.is_absolute() else request.config.invocation_params.dir / option


@pytest.fixture(scope="session")
def container(request):
    """A booted container with systemd, logind, users alice/bob/carol and their desktops
    installed (nobody logged in yet); torn down at the end of the run, whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("the e2e tests boot a systemd-nspawn container and must run as root")
    Container.reap_orphans()
    with Container.booted(rootfs.ensure_rootfs(announce=_terminal_printer(request))) as machine:
        yield machine


@pytest.fixture(scope="module")
def installed(container, liaison_build_dir):
    """liaison installed into the shared container (binary, units, sysusers entry, config)."""
    container.install_liaison(liaison_build_dir)
    return container


@pytest.fixture(scope="session")
def desktops(container):
    """alice logged in on X11 (dunst) and bob on Wayland (mako) for the whole run:
    {"alice": session id, "bob": session id}. Tests must not log these sessions out."""
    return {"alice": container.login_x11("alice"), "bob": container.login_wayland("bob")}


@pytest.fixture
def daemon(installed, desktops):
    """liaison.service running, with a ready agent in alice's and bob's desktops; returns the
    `liaison sessions --json` listing as {session id: entry}. Starting a running service is a
    no-op, so only the first test (and the one after a stop) pays for the start."""
    try:
        # Type=notify: systemctl returns once the daemon said READY=1.
        installed.exec(["systemctl", "start", "liaison.service"], timeout=30)
        return wait_for_ready_agents(installed, desktops.values())
    except (CommandError, TimeoutError) as error:
        pytest.fail(f"{error}\n--- journal of liaison.service ---\n"
                    f"{installed.journal('liaison.service')}")


def _terminal_printer(request):
    """Prints straight to the terminal, past pytest's output capture (a build takes a while
    and the user should know why)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def show(message):
        with capture.global_and_fixture_disabled():
            print(f"\n{message}", flush=True)
    return show
