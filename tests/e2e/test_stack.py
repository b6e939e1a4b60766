"""Tests of the test stack itself, and the regression guard of why liaison exists.

They prove the container gives real logind desktop sessions, that a notification sent in a
user's real context reaches that user's server and nobody else's, and that the setuid-only
spawn other agents use fails to notify. If this file fails, liaison's own e2e tests mean
nothing.
"""

from notification_text import titles, unique_title
from runner import describe

AUTOLAUNCH_FAILURE = "Cannot autolaunch D-Bus without X11 $DISPLAY"


def notify_in_user_context(container, user, title, body):
    """notify-send as a unit of the user's own service manager: the user's real context."""
    container.exec(["systemd-run", "--user", f"--machine={user}@.host", "--wait", "--collect",
                    "--quiet", "notify-send", title, body], timeout=30)


def test_desktop_logins_are_active_user_sessions_of_their_type(container, desktops):
    for user, session_type in (("alice", "x11"), ("bob", "wayland")):
        properties = container.session_properties(desktops[user])
        seen = {key: properties.get(key) for key in ("Name", "Type", "Class", "State", "Active",
                                                     "Remote")}
        assert seen == {"Name": user, "Type": session_type, "Class": "user", "State": "active",
                        "Active": "yes", "Remote": "no"}, f"session {desktops[user]}: {properties}"


def test_wayland_session_and_user_manager_have_wayland_display_and_no_display(container, desktops):
    session = desktops["bob"]
    assert container.session_properties(session).get("Display", "") == ""

    processes = container.session_processes(session)
    environments = {f"{pid} {comm}": container.environ(pid) for pid, comm in processes.items()}
    with_display = [name for name, env in environments.items() if "DISPLAY" in env]
    assert not with_display, f"DISPLAY set in bob's session processes: {with_display}"
    mako = [env for name, env in environments.items() if name.endswith(" mako")]
    assert mako and mako[0].get("WAYLAND_DISPLAY"), f"bob's session processes: {environments}"

    manager = container.user_manager_environment("bob")
    assert manager.get("WAYLAND_DISPLAY") == mako[0]["WAYLAND_DISPLAY"], manager
    assert "DISPLAY" not in manager, manager


def test_x11_session_user_manager_has_the_display(container, desktops):
    """logind records no Display for these logins (systemd-run has no way to set
    PAM_XDISPLAY; a display manager would): the user's service manager has it."""
    display = container.login(desktops["alice"]).status["display"]
    manager = container.user_manager_environment("alice")
    assert manager.get("DISPLAY") == display, (display, manager)


def test_notify_send_in_alices_context_reaches_her_dunst_only(container, desktops):
    title = unique_title("for alice")
    notify_in_user_context(container, "alice", title, "body for alice")

    shown = container.wait_for_notification("alice", title)
    assert (shown["server"], shown["body"], shown["open"]) == ("dunst", "body for alice", True), \
        shown
    assert title not in titles(container, "bob")


def test_notify_send_in_bobs_context_reaches_his_mako_only(container, desktops):
    title = unique_title("for bob")
    notify_in_user_context(container, "bob", title, "body for bob")

    shown = container.wait_for_notification("bob", title)
    assert (shown["server"], shown["body"], shown["open"]) == ("mako", "body for bob", True), \
        shown
    assert title not in titles(container, "alice")


def test_setuid_only_spawn_cannot_notify(container, desktops):
    """What agents that merely setuid() to the user do (no XDG_RUNTIME_DIR, no session bus):
    libnotify cannot find the user's bus, and nothing reaches the user."""
    title = unique_title("setuid only")
    result = container.exec(["setpriv", "--reuid=1001", "--regid=1001", "--init-groups",
                             "--reset-env", "notify-send", title, "never shown"], check=False)

    assert result.returncode != 0, describe(result)
    assert AUTOLAUNCH_FAILURE in result.stderr, describe(result)
    assert title not in titles(container, "alice")


def test_actions_can_be_clicked_on_both_servers(container, desktops):
    """The harness can click a notification action the way a user does, under dunst and mako;
    notify-send --wait prints the key of the action that was invoked."""
    for user in ("alice", "bob"):
        title = unique_title(f"question for {user}")
        command = ["systemd-run", "--user", f"--machine={user}@.host", "--wait", "--collect",
                   "--quiet", "--pipe", "notify-send", "--wait", "--action=yes=Yes",
                   "--action=no=No", title, "Proceed?"]
        with container.background(command, timeout=20) as answer:
            shown = container.wait_for_notification(user, title)
            container.invoke_action(user, shown["id"], "no")
        result = answer.result(check=False)
        assert result.stdout.strip() == "no", describe(result)


def test_logout_ends_the_session(container, desktops):
    session = container.login_x11("carol")
    assert container.session_properties(session)["Name"] == "carol"

    container.logout(session)

    listed = container.exec(["loginctl", "list-sessions", "--no-legend"], timeout=15).stdout
    assert session not in [line.split()[0] for line in listed.splitlines()], listed
    assert container.session_processes(session) == {}
