"""End-to-end tests of `liaison doctor` (issue 6) in the shared container.

alice is logged in on X11 (dunst) and bob on Wayland (mako); the daemon runs the default `exec`
strategy. Each test reads what doctor says about a real situation: both desktops healthy, a
session whose desktop has no notification server, a daemon that is down, a caller outside group
liaison, a configuration file broken on disk, and one user's report.
"""

import re

import pytest

from liaison_cli import CONFIG, liaison, parse_json, run_with_default_config, wait_for_ready_agents
from runner import describe, poll_until


@pytest.fixture
def daemon(installed, desktops):
    """The daemon running with the default configuration and ready agents for both desktops."""
    run_with_default_config(installed)
    return wait_for_ready_agents(installed, desktops.values())


def doctor(container, *args, user=None):
    return liaison(container, "doctor", *args, user=user, timeout=60)


def findings_by_check(findings):
    return {f["check"]: f for f in findings}


def session_report(report, session_id):
    for entry in report["sessions"]:
        if entry["session"] == session_id:
            return entry
    pytest.fail(f"no session {session_id} in {report}")


def test_both_desktops_are_healthy_and_doctor_names_their_servers(container, desktops, daemon):
    result = doctor(container, "--json")
    assert result.returncode == 0, describe(result)
    report = parse_json(result)
    assert report["ok"] is True, report
    assert report["daemon"]["strategy"] == "exec"
    daemon_checks = findings_by_check(report["daemon"]["findings"])
    assert daemon_checks["daemon"]["status"] == "ok"
    assert daemon_checks["config"]["status"] == "ok", daemon_checks["config"]
    # sysusers made group liaison, so the control socket is shared with it.
    assert daemon_checks["control-socket"]["status"] == "ok", daemon_checks["control-socket"]
    assert daemon_checks["control-socket"]["facts"]["mode"] == "0660"

    for user, server in (("alice", "dunst"), ("bob", "mako")):
        entry = session_report(report, desktops[user])
        checks = findings_by_check(entry["findings"])
        assert entry["agent"]["state"] == "ready", entry
        assert checks["agent"]["status"] == "ok", checks["agent"]
        assert checks["session-bus"]["status"] == "ok", checks["session-bus"]
        uid = container.account(user).uid
        assert checks["session-bus"]["facts"]["address"] == f"unix:path=/run/user/{uid}/bus"
        notification = checks["notification-server"]
        assert notification["status"] == "ok", notification
        assert notification["facts"]["name"] == server, notification
        assert "actions" in notification["facts"]["capabilities"], notification
        assert notification["facts"]["spec_version"], notification
        # What a root daemon that only setuid()s would get: no session bus at all.
        child = checks["setuid-only-child"]
        assert child["status"] == "info", child
        assert f"only setuid()s to {user} (uid {uid})" in child["detail"], child
        assert "No medium found" in child["detail"], child


def test_the_human_report_is_aligned_plain_text_off_a_terminal(container, desktops, daemon):
    result = doctor(container)
    assert result.returncode == 0, describe(result)
    assert "\x1b[" not in result.stdout, "colour codes on a pipe"
    assert re.search(r"^  ✓ agent\s+ready: pid \d+ \(exec\)", result.stdout, re.M), result.stdout
    assert re.search(rf"^session {desktops['alice']}  alice \(uid \d+\)  x11  agent ready",
                     result.stdout, re.M), result.stdout
    assert "· setuid-only-child" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("all checks passed"), result.stdout


def test_colour_only_on_a_terminal_and_never_with_no_color(container, desktops, daemon):
    """`script` gives doctor a real pseudo-terminal as stdout."""
    on_tty = container.exec(["script", "-qec", "liaison doctor", "/dev/null"], check=False,
                            timeout=60, env={"TERM": "xterm"})
    assert on_tty.returncode == 0, describe(on_tty)
    assert "\x1b[32m✓\x1b[0m agent" in on_tty.stdout, on_tty.stdout
    no_color = container.exec(["script", "-qec", "liaison doctor", "/dev/null"], check=False,
                              timeout=60, env={"TERM": "xterm", "NO_COLOR": "1"})
    assert no_color.returncode == 0, describe(no_color)
    assert "\x1b[" not in no_color.stdout, no_color.stdout
    assert "✓ agent" in no_color.stdout


def test_one_users_report_and_a_user_without_a_session(container, desktops, daemon):
    bobs = doctor(container, "--user", "bob", "--json")
    assert bobs.returncode == 0, describe(bobs)
    assert [s["user"] for s in parse_json(bobs)["sessions"]] == ["bob"]

    carols = doctor(container, "--user", "carol", "--json")
    assert carols.returncode == 4, describe(carols)
    assert parse_json(carols)["sessions"] == []

    unknown = doctor(container, "--user", "nosuchuser")
    assert unknown.returncode != 0, describe(unknown)
    assert 'no user "nosuchuser"' in unknown.stderr, describe(unknown)


def test_a_session_without_a_notification_server_fails_with_a_fix(container, desktops, daemon):
    """carol logs in to a graphical session that runs no notification server (a bare PAM session
    of type x11): her agent starts, her bus works, and doctor says what is missing."""
    unit = "desk-carol-bare"
    container.exec(["systemd-run", f"--unit={unit}", "--collect", "--quiet",
                    "--property=PAMName=login", "--property=Environment=XDG_SESSION_TYPE=x11",
                    "--property=Environment=XDG_SESSION_CLASS=user", "--uid=carol",
                    "sleep", "infinity"], timeout=30)
    try:
        session = poll_until(
            lambda: container.exec(["loginctl", "show-user", "carol", "--property=Sessions",
                                    "--value"], check=False).stdout.split(),
            until=lambda ids: len(ids) == 1, timeout=15, what="carol's session")[0]
        wait_for_ready_agents(container, [session])
        result = doctor(container, "--user", "carol", "--json")
        assert result.returncode == 1, describe(result)
        report = parse_json(result)
        assert report["ok"] is False
        checks = findings_by_check(session_report(report, session)["findings"])
        assert checks["session-bus"]["status"] == "ok", checks
        server = checks["notification-server"]
        assert server["status"] == "fail", server
        assert "start a notification server" in server["hint"], server

        human = doctor(container, "--user", "carol")
        assert human.returncode == 1
        assert re.search(r"^  ✗ notification-server .*\n    fix: start a notification server",
                         human.stdout, re.M), human.stdout
        assert "1 check failed" in human.stdout, human.stdout
    finally:
        container.exec(["systemctl", "stop", unit], check=False, timeout=30)


def test_a_config_file_broken_on_disk_is_caught_before_the_next_restart(container, daemon):
    config = container.path(CONFIG)
    config.write_text("[agent]\nlaunch = \"exec\"\nlunch = 1\n")
    try:
        result = doctor(container, "--json")
        assert result.returncode == 1, describe(result)
        checks = findings_by_check(parse_json(result)["daemon"]["findings"])
        assert checks["daemon"]["status"] == "ok"  # still running on what it read at start
        assert checks["config"]["status"] == "fail", checks["config"]
        assert "lunch" in checks["config"]["detail"], checks["config"]
        assert "would not start again" in checks["config"]["hint"], checks["config"]
    finally:
        config.write_text("")


def test_a_stopped_daemon_is_a_finding_with_the_command_that_starts_it(container, daemon):
    container.exec(["systemctl", "stop", "liaison.service"], timeout=30)
    try:
        result = doctor(container, "--json")
        assert result.returncode == 3, describe(result)
        report = parse_json(result)
        assert report["ok"] is False and report["sessions"] == []
        checks = findings_by_check(report["daemon"]["findings"])
        assert checks["daemon"]["status"] == "fail"
        assert "unreachable" in checks["daemon"]["detail"], checks["daemon"]
        assert "systemctl start liaison" in checks["daemon"]["hint"], checks["daemon"]
        assert checks["config"]["status"] == "ok"
    finally:
        container.exec(["systemctl", "start", "liaison.service"], timeout=30)


def test_a_caller_outside_group_liaison_is_told_how_to_get_in(container, daemon):
    result = doctor(container, user="carol")
    assert result.returncode == 3, describe(result)
    assert "✗ daemon" in result.stdout, result.stdout
    assert "join group liaison" in result.stdout, result.stdout
