"""End-to-end tests of liaison.service's confinement (issue 11, "Confine the service").

Every other test of the suite runs against the installed unit file, packaging/systemd/
liaison.service, and so against its sandbox. These check what the sandbox must not reach: a
program the user starts from a notification (xdg-open, the browser it may start) is run by the
user's own service manager, so it inherits nothing of the daemon's namespaces, system call
filter, capability bounding set or no-new-privileges flag, although the exec-launched agent that
asked for it inherits all of them.
"""

import re
import uuid

import pytest

from liaison_cli import liaison
from notification_text import unique_title
from runner import describe, poll_until

STAND_IN = "/usr/local/bin/xdg-open"  # kAgentPath puts /usr/local/bin before /usr/bin
# What the opener finds itself with, written where the test reads it (the token is the URL's).
STAND_IN_SCRIPT = r"""#!/bin/sh
token=${1##*=}
out=/tmp/xdg-open-report-$token
{
  echo "uid=$(id -u)"
  grep -E '^(NoNewPrivs|Seccomp|CapBnd):' /proc/self/status | tr -d ' \t' | sed 's/:/=/'
  echo "cgroup=$(cut -d: -f3 /proc/self/cgroup)"
  echo "mntns=$(readlink /proc/self/ns/mnt)"
} > "$out.part"
mv "$out.part" "$out"
"""


@pytest.fixture
def xdg_open_stand_in(installed):
    """A stand-in xdg-open in the container that reports how it was started."""
    path = installed.path(STAND_IN)
    path.write_text(STAND_IN_SCRIPT)
    path.chmod(0o755)
    yield
    path.unlink()


def process_facts(container, pid):
    """The same facts the stand-in reports, of a process the test names (read as root)."""
    status = container.path(f"/proc/{pid}/status").read_text().splitlines()
    facts = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in status}
    return {"NoNewPrivs": facts["NoNewPrivs"], "Seccomp": facts["Seccomp"],
            "CapBnd": facts["CapBnd"],
            "mntns": container.exec(["readlink", f"/proc/{pid}/ns/mnt"]).stdout.strip()}


def test_a_clicked_url_opens_outside_the_daemons_sandbox(container, desktops, daemon,
                                                         xdg_open_stand_in):
    token = uuid.uuid4().hex[:12]
    title = unique_title("open the page")
    result = liaison(container, "notify", "--user", "alice", "--title", title,
                     "--action-url", f"https://it.example.com/page?t={token}")
    assert result.returncode == 0, describe(result)
    shown = container.wait_for_notification("alice", title)

    container.invoke_action("alice", shown["id"], "default")

    report_path = container.path(f"/tmp/xdg-open-report-{token}")
    poll_until(report_path.exists, timeout=10, what="the stand-in xdg-open's report")
    text = report_path.read_text()
    report_path.unlink()
    report = dict(line.partition("=")[::2] for line in text.splitlines())
    alice = container.account("alice")
    agent = process_facts(container, daemon[desktops["alice"]]["agent"]["pid"])
    manager_pid = container.exec(["systemctl", "show", "-p", "MainPID", "--value",
                                  f"user@{alice.uid}.service"]).stdout.strip()
    manager = process_facts(container, manager_pid)

    assert report["uid"] == str(alice.uid), text
    assert report["cgroup"].startswith(f"/user.slice/user-{alice.uid}.slice/"
                                       f"user@{alice.uid}.service/app.slice/app-liaison-open-"), \
        report
    # The agent carries the daemon's sandbox; what it opens carries the user's manager's.
    assert agent["NoNewPrivs"] == "1" and agent["Seccomp"] == "2", agent
    assert (report["NoNewPrivs"], report["Seccomp"], report["CapBnd"], report["mntns"]) == \
        (manager["NoNewPrivs"], manager["Seccomp"], manager["CapBnd"], manager["mntns"]), \
        (report, manager)


# What `systemd-analyze security liaison.service` said of the confined unit when it was written
# (docs/security.md has it beside the 8.6 of the unit before): a directive dropped raises it.
EXPOSURE_OF_THE_CONFINED_UNIT = 3.4


def test_the_installed_unit_is_confined_and_systemd_took_every_line(installed, daemon):
    result = installed.exec(["systemd-analyze", "security", "--no-pager", "liaison.service"],
                            check=False)
    found = re.search(r"Overall exposure level for liaison\.service: ([0-9.]+)", result.stdout)
    assert found, describe(result)
    assert float(found.group(1)) <= EXPOSURE_OF_THE_CONFINED_UNIT, result.stdout
    # PID 1 logs each line of a unit file it could not use; none may be about ours.
    complaints = installed.exec(["journalctl", "-b", "--no-pager", "-o", "cat", "_PID=1",
                                 "--grep", r"liaison\.service:[0-9]+:"], check=False)
    assert complaints.stdout.strip() in ("", "-- No entries --"), complaints.stdout
