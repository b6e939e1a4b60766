"""End-to-end tests of the Debian package (issue 6): `make deb`'s .deb installed with dpkg into a
booted Debian 12 container of its own, where nothing of liaison exists but what the package
brings (the shared container of the other modules has liaison installed from the build tree).

In order, one life of the package: the .deb is built from --liaison-build-dir by
scripts/build-deb.sh; `dpkg -i` creates group liaison, enables and starts liaison.service, and
alice's X11 desktop (dunst) gets an agent that delivers a notification; installing it again (an
upgrade) restarts the daemon and alice keeps one agent that still delivers; `dpkg -r` stops the
daemon and every agent and keeps the state; installing again brings the service back; `dpkg -P`
removes the state, /etc/liaison and every file of the package. Then once more under the launch-agent strategy, purged straight from
installed: the agent in alice's own service manager stops too and the user unit's files go.
"""

import os
import shutil
from pathlib import Path

import pytest

import rootfs
import runner
from container import Container
from liaison_cli import liaison, parse_json, wait_for_ready_agents
from notification_text import unique_title
from runner import CommandError, describe, observe_until

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DEB = REPO_ROOT / "scripts" / "build-deb.sh"
DEB_IN_CONTAINER = "/root/liaison.deb"
UNIT = "liaison.service"
CONFIG = "/etc/liaison/liaison.toml"
STATE_DIR = "/var/lib/liaison"
# What `liaison launch-agent install` writes (src/platform/linux/systemd_launch_agent.cpp).
LAUNCH_AGENT_FILES = ("/etc/systemd/user/liaison-agent.service.d",
                      "/etc/systemd/user/graphical-session.target.wants/liaison-agent.service")
# Every path the package or its use could leave behind, checked before the first install.
LIAISON_PATHS = ("/usr/bin/liaison", "/usr/lib/liaison", "/usr/lib/systemd/system/liaison.service",
                 "/usr/lib/systemd/user/liaison-agent.service", "/usr/lib/sysusers.d/liaison.conf",
                 "/usr/share/polkit-1/actions/dev.liaison.presence.policy",
                 "/etc/liaison", STATE_DIR, "/run/liaison", "/usr/share/doc/liaison",
                 "/etc/systemd/system/multi-user.target.wants/liaison.service",
                 "/etc/systemd/system/liaison.service", *LAUNCH_AGENT_FILES)
AGENT_GONE_TIMEOUT_S = 8  # the daemon's stop policy: SIGKILL 5 s after shutdown
READY_TIMEOUT_S = 15

# Every process whose executable is (or was, before dpkg replaced it) /usr/bin/liaison, or whose
# name is liaison, as "pid exe: command line"; run inside the container, so its PID namespace.
LIAISON_PROCESSES = r"""
for dir in /proc/[0-9]*; do
    exe=$(readlink "$dir/exe" 2>/dev/null) || exe=
    comm=$(cat "$dir/comm" 2>/dev/null) || continue
    case "$exe" in /usr/bin/liaison*) ;; *) [ "$comm" = liaison ] || continue ;; esac
    echo "${dir#/proc/} $exe: $(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)"
done
"""


# ---- fixtures and helpers ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def deb(liaison_build_dir, tmp_path_factory):
    """The .deb scripts/build-deb.sh makes of the build (the path it prints)."""
    if os.geteuid() != 0:
        pytest.skip("the e2e tests boot a systemd-nspawn container and must run as root")
    out = tmp_path_factory.mktemp("deb")
    try:
        result = runner.run([str(BUILD_DEB), str(liaison_build_dir), str(out)], timeout=300,
                            env=dict(os.environ, DEB_LINTIAN="no"))
    except CommandError as error:
        pytest.fail(f"scripts/build-deb.sh failed (is {liaison_build_dir} built?):\n{error}")
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.parent == out, describe(result)
    return path


@pytest.fixture(scope="module")
def machine():
    """A container booted for this module alone, from the same cached rootfs as the shared
    one: nothing of liaison is in it (test_the_container_has_nothing_of_liaison_before)."""
    if os.geteuid() != 0:
        pytest.skip("the e2e tests boot a systemd-nspawn container and must run as root")
    with Container.booted(rootfs.ensure_rootfs()) as box:
        yield box


@pytest.fixture(scope="module")
def alice(machine):
    """alice logged in on X11 (Xvfb + dunst) for the whole module; her session id."""
    return machine.login_x11("alice")


@pytest.fixture(scope="module")
def files_of_the_package():
    """What `dpkg -L liaison` listed while the package was installed (filled in by a test)."""
    return []


def dpkg(container, *args, timeout=120):
    """Runs dpkg in the container; a failure shows its output and liaison.service's journal."""
    result = container.exec(["dpkg", *args], check=False, timeout=timeout)
    assert result.returncode == 0, (f"{describe(result)}\n--- journal of {UNIT} ---\n"
                                    f"{container.journal(UNIT, lines=40)}")
    return result


def install(container, deb):
    shutil.copyfile(deb, container.path(DEB_IN_CONTAINER))
    return dpkg(container, "-i", DEB_IN_CONTAINER)


def unit_property(container, name):
    return container.exec(["systemctl", "show", UNIT, f"--property={name}", "--value"],
                          timeout=15).stdout.strip()


def systemctl_says(container, verb):
    """`systemctl is-active` / `is-enabled` of the unit: what it prints, whatever its status."""
    return container.exec(["systemctl", verb, UNIT], check=False, timeout=15).stdout.strip()


def package_status(container):
    """dpkg's status of liaison ("install ok installed", "deinstall ok config-files"), or None."""
    result = container.exec(["dpkg-query", "-W", "-f=${Status}", "liaison"], check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def liaison_processes(container):
    return container.exec(["sh", "-c", LIAISON_PROCESSES], timeout=30).stdout.splitlines()


def no_liaison_process_left(container):
    """Waits (the stop policy's bound) until no liaison process runs; returns what still does."""
    return observe_until(lambda: liaison_processes(container), until=lambda found: not found,
                         timeout=AGENT_GONE_TIMEOUT_S)


def ready(container, session, timeout=READY_TIMEOUT_S):
    try:
        return wait_for_ready_agents(container, [session], timeout=timeout)
    except TimeoutError as error:
        pytest.fail(f"{error}\n--- journal of {UNIT} ---\n{container.journal(UNIT, lines=60)}")


def notify_alice(container):
    """notify --user alice: delivered, and dunst on her desktop really received it."""
    title = unique_title("from the package")
    result = liaison(container, "notify", "--user", "alice", "--title", title, "--json")
    assert result.returncode == 0, describe(result)
    results = parse_json(result)["results"]
    assert [(r["user"], r["delivered"]) for r in results] == [("alice", True)], results
    return container.wait_for_notification("alice", title)


def journal_cursor(container):
    output = container.exec(["journalctl", "-u", UNIT, "-n", "0", "--show-cursor", "--no-pager"],
                            timeout=15).stdout
    return output.strip().rsplit("cursor: ", 1)[-1]


def journal_since(container, cursor):
    return container.exec(["journalctl", "-u", UNIT, "-o", "cat", "--no-pager",
                           f"--after-cursor={cursor}"], timeout=15).stdout


def existing(container, paths):
    return [path for path in paths if os.path.lexists(container.path(path))]


# ---- the package itself ------------------------------------------------------------------------

def test_the_package_holds_a_stripped_binary_and_declares_its_libraries(deb, tmp_path):
    """Depends comes from dpkg-shlibdeps (the libraries the binary links), the version from the
    CMake project, and the binary in the package carries no debug info."""
    fields = {field: runner.run(["dpkg-deb", "--field", str(deb), field], timeout=30).stdout.strip()
              for field in ("Package", "Version", "Depends")}
    assert fields["Package"] == "liaison", fields
    assert fields["Version"].startswith("0.") and "-" in fields["Version"], fields
    for library in ("libc6", "libstdc++6", "libsystemd0", "libssl3"):
        assert library in fields["Depends"], fields
    runner.run(["dpkg-deb", "--extract", str(deb), str(tmp_path)], timeout=60)
    sections = runner.run(["readelf", "--section-headers", "--wide",
                           str(tmp_path / "usr/bin/liaison")], timeout=30).stdout
    assert ".debug_info" not in sections and ".symtab" not in sections, sections


# ---- one life of the package: install, use, upgrade, remove, purge ---------------------------

def test_the_container_has_nothing_of_liaison_before(machine):
    """Everything the later tests see comes from the .deb: no file, unit, group, process or
    dpkg record of liaison exists before it is installed."""
    assert existing(machine, LIAISON_PATHS) == []
    assert package_status(machine) is None
    group = machine.exec(["getent", "group", "liaison"], check=False)
    assert group.returncode == 2, describe(group)
    assert liaison_processes(machine) == []
    assert machine.exec(["sh", "-c", "command -v liaison || true"]).stdout == ""


def test_dpkg_install_creates_the_group_and_enables_and_starts_the_service(machine, deb, alice):
    install(machine, deb)

    assert package_status(machine) == "install ok installed"
    group = machine.exec(["getent", "group", "liaison"], check=False)
    assert group.returncode == 0, describe(group)
    assert (systemctl_says(machine, "is-enabled"), systemctl_says(machine, "is-active")) == \
        ("enabled", "active"), machine.journal(UNIT, lines=40)
    conffiles = machine.exec(["dpkg-query", "-W", "-f=${Conffiles}", "liaison"]).stdout
    assert CONFIG in conffiles.split(), conffiles
    owner = machine.exec(["stat", "-c", "%U:%G %a", "/run/liaison/control.sock"]).stdout.strip()
    assert owner == "root:liaison 660", owner
    # polkitd reads the presence action the package installs (issue 26): asks every time.
    action = machine.exec(["pkaction", "--action-id", "dev.liaison.presence", "--verbose"])
    for line in ("implicit any:      auth_self", "implicit inactive: auth_self",
                 "implicit active:   auth_self"):
        assert line in action.stdout, action.stdout


def test_a_desktop_login_gets_an_agent_that_delivers_a_notification(machine, alice):
    listed = ready(machine, alice)

    assert (listed[alice]["user"], listed[alice]["agent"]["strategy"]) == ("alice", "exec"), listed
    notify_alice(machine)


def test_installing_again_restarts_the_daemon_and_alice_keeps_one_agent(machine, deb, alice):
    """dpkg -i of the installed version is an upgrade: postinst restarts the service (a restart
    job, not a stop: the old daemon hands its agent over instead of stopping it). dpkg replaced
    /usr/bin/liaison, so the new daemon does not adopt the agent of the old binary but has it
    leave and starts one of the new binary (docs/architecture.md, "Daemon restarts"): alice ends
    up with exactly one agent, and it delivers."""
    daemon_before = unit_property(machine, "MainPID")
    agent_before = ready(machine, alice)[alice]["agent"]["pid"]
    cursor = journal_cursor(machine)

    install(machine, deb)

    assert systemctl_says(machine, "is-active") == "active"
    assert unit_property(machine, "MainPID") not in (daemon_before, "0")
    journal = journal_since(machine, cursor)
    assert "restarting: the agents stay for the next daemon" in journal, journal
    listed = observe_until(lambda: ready(machine, alice),
                           until=lambda s: s[alice]["agent"]["pid"] != agent_before,
                           timeout=READY_TIMEOUT_S)
    agent_after = listed[alice]["agent"]["pid"]
    assert agent_after != agent_before, listed
    running = observe_until(lambda: liaison_processes(machine),
                            until=lambda found: len(found) == 2, timeout=AGENT_GONE_TIMEOUT_S)
    assert sorted(line.split()[0] for line in running) == \
        sorted([unit_property(machine, "MainPID"), str(agent_after)]), running
    assert not machine.process_running(agent_before)
    notify_alice(machine)


def test_dpkg_remove_stops_the_daemon_and_every_agent_and_keeps_the_state(
        machine, alice, files_of_the_package):
    files_of_the_package.extend(dpkg(machine, "-L", "liaison").stdout.splitlines())
    agent = ready(machine, alice)[alice]["agent"]["pid"]

    dpkg(machine, "-r", "liaison")

    assert package_status(machine) == "deinstall ok config-files"
    assert systemctl_says(machine, "is-active") in ("inactive", "unknown")
    assert systemctl_says(machine, "is-enabled") == "masked", "nothing can start it any more"
    assert no_liaison_process_left(machine) == []
    assert not machine.process_running(agent)
    assert existing(machine, ["/usr/bin/liaison", "/run/liaison"]) == []
    assert existing(machine, [STATE_DIR, CONFIG]) == [STATE_DIR, CONFIG], \
        "dpkg -r keeps the state and the configuration"


def test_installing_after_a_removal_enables_and_starts_it_again(machine, deb, alice):
    """dpkg -r kept the enablement and masked the unit; installing again unmasks it, so the
    service is enabled and running again and alice gets an agent. Then it is removed again."""
    install(machine, deb)

    assert (systemctl_says(machine, "is-enabled"), systemctl_says(machine, "is-active")) == \
        ("enabled", "active"), machine.journal(UNIT, lines=40)
    ready(machine, alice)
    dpkg(machine, "-r", "liaison")
    assert no_liaison_process_left(machine) == []


def test_dpkg_purge_removes_the_state_the_config_and_every_file_of_the_package(
        machine, files_of_the_package):
    assert "/usr/bin/liaison" in files_of_the_package, files_of_the_package
    # Directories the package shares with others (/usr, /etc, ...) stay; its own ones go.
    shared = {path for path in files_of_the_package
              if machine.path(path).is_dir() and "liaison" not in path}

    dpkg(machine, "-P", "liaison")

    assert package_status(machine) is None
    assert existing(machine, [STATE_DIR, "/etc/liaison"]) == []
    assert existing(machine, [p for p in files_of_the_package if p not in shared]) == []
    assert existing(machine, LIAISON_PATHS) == []
    assert liaison_processes(machine) == []
    group = machine.exec(["getent", "group", "liaison"], check=False)
    assert group.returncode == 0, "group liaison is kept on purge (postrm says why)"


# ---- the launch-agent strategy, purged from installed ------------------------------------------

def test_purging_stops_launch_agent_agents_and_removes_their_user_unit(machine, deb, alice):
    """Under launch-agent alice's agent runs in her own service manager, started by her
    desktop, not by the daemon: purging the installed package (prerm remove, then purge)
    uninstalls that user unit, stops her agent, and leaves nothing behind, even though the
    configuration (a conffile) was changed."""
    install(machine, deb)
    assert (systemctl_says(machine, "is-enabled"), systemctl_says(machine, "is-active")) == \
        ("enabled", "active"), "a reinstall after a purge is a first install"
    machine.path(CONFIG).write_text('[agent]\nlaunch = "launch-agent"\n')
    machine.exec(["systemctl", "restart", UNIT], timeout=30)
    result = liaison(machine, "launch-agent", "install", "--all")
    assert result.returncode == 0, describe(result)
    listed = observe_until(lambda: ready(machine, alice),
                           until=lambda s: s[alice]["agent"]["strategy"] == "launch-agent",
                           timeout=READY_TIMEOUT_S)
    agent = listed[alice]["agent"]["pid"]
    assert listed[alice]["agent"]["strategy"] == "launch-agent", listed
    cgroup = machine.path(f"/proc/{agent}/cgroup").read_text()
    assert "user@1001.service" in cgroup and "liaison-agent.service" in cgroup, cgroup
    assert len(existing(machine, LAUNCH_AGENT_FILES)) == 2
    notify_alice(machine)

    dpkg(machine, "-P", "liaison")

    assert no_liaison_process_left(machine) == []
    assert existing(machine, LIAISON_PATHS) == []
    assert package_status(machine) is None
    unit = machine.exec(["systemctl", "--user", "--machine=alice@", "show",
                         "liaison-agent.service", "--property=LoadState,ActiveState"],
                        timeout=15).stdout.split()
    assert unit == ["LoadState=not-found", "ActiveState=inactive"], unit
