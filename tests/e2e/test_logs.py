"""End-to-end tests of liaison's logs (issue 6): journald entries with structured fields.

The daemon runs under systemd with `[log] level = "debug"`, so everything it and its agents
write reaches the journal. `journalctl -u liaison LIAISON_SESSION=N` must tell one session's
story from both sides (daemon and agent), and nothing secret may appear in the journal: not the
payload a key signed, not key material, not an agent token.
"""

import base64
import json
import uuid

import pytest

import runner
from liaison_cli import (AGENT_READY_TIMEOUT_S, AGENT_SOCKET, liaison, request_line,
                         rpc_exchange, wait_for_ready_agents)
from runner import describe

CONFIG = "/etc/liaison/liaison.toml"


@pytest.fixture(scope="module")
def debug_daemon(container, liaison_build_dir, desktops):
    """The daemon restarted at debug level; the config is emptied again on the way out."""
    container.install_liaison(liaison_build_dir)
    config = container.path(CONFIG)
    config.write_text('[log]\nlevel = "debug"\n')
    container.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
    container.exec(["systemctl", "restart", "liaison.service"], timeout=30)
    # The agents a restart hands over are adopted; new ones learn the level at their hello.
    # Until the daemon sees a killed agent go, it still lists it as ready: wait for new pids.
    killed = {}
    for session in desktops.values():
        listed = wait_for_ready_agents(container, [session])
        killed[session] = listed[session]["agent"]["pid"]
        container.exec(["kill", str(killed[session])])
    yield runner.poll_until(
        lambda: wait_for_ready_agents(container, desktops.values()),
        until=lambda listed: all(listed[s]["agent"]["pid"] != pid for s, pid in killed.items()),
        timeout=AGENT_READY_TIMEOUT_S, what="new agents in place of the killed ones")
    config.write_text("")
    container.exec(["systemctl", "restart", "liaison.service"], timeout=30)


def journal_entries(container, *matches):
    result = container.exec(["journalctl", "--no-pager", "-o", "json", *matches], timeout=30)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_one_sessions_story_comes_from_the_daemon_and_its_agent(container, desktops,
                                                                  debug_daemon):
    session = desktops["alice"]
    agent_pid = debug_daemon[session]["agent"]["pid"]
    title = f"story-{uuid.uuid4().hex[:8]}"
    result = liaison(container, "notify", "--session", session, "--title", title)
    assert result.returncode == 0, describe(result)

    entries = journal_entries(container, "-u", "liaison.service", f"LIAISON_SESSION={session}")
    assert entries, "no entry carries LIAISON_SESSION"
    pids = {int(e["_PID"]) for e in entries}
    daemon_pid = int(container.exec(["systemctl", "show", "-p", "MainPID", "--value",
                                     "liaison.service"]).stdout)
    assert daemon_pid in pids, "the daemon's side is missing"
    assert agent_pid in pids, f"the agent's side is missing (agent {agent_pid}, seen {pids})"
    agent_entries = [e for e in entries if int(e["_PID"]) == agent_pid]
    assert any(e.get("LIAISON_EVENT") == "agent-ready" for e in agent_entries), agent_entries
    assert all(e.get("LIAISON_SESSION") == session for e in entries)
    # Other fields name the uid and the agent, so `LIAISON_UID=` and `LIAISON_AGENT_PID=` work.
    uid = str(container.account("alice").uid)
    assert journal_entries(container, "-u", "liaison.service", f"LIAISON_UID={uid}")
    assert journal_entries(container, "-u", "liaison.service", f"LIAISON_AGENT_PID={agent_pid}")


def test_no_signed_payload_or_key_material_reaches_the_journal(container, debug_daemon):
    marker = f"payload-{uuid.uuid4().hex}"
    container.path("/tmp/liaison-log-payload").write_text(marker)
    label = f"log-{uuid.uuid4().hex[:8]}"
    made = liaison(container, "key", "create", "--user", "alice", "--label", label,
                   "--backend", "software", "--json")
    assert made.returncode == 0, describe(made)
    signed = liaison(container, "key", "sign", "--user", "alice", "--label", label,
                     "--in", "/tmp/liaison-log-payload", "--out", "/tmp/liaison-log-sig")
    assert signed.returncode == 0, describe(signed)
    stored = json.loads(container.path(
        f"/var/lib/liaison/keys/{container.account('alice').uid}/{label}.json").read_text())

    journal = container.exec(["journalctl", "--no-pager", "-o", "export"], timeout=30).stdout
    assert marker not in journal, "a signed payload reached the journal"
    secrets = [value for value in stored.values() if isinstance(value, str) and len(value) > 40]
    assert secrets, stored
    for secret in secrets:
        assert secret not in journal, "stored key material reached the journal"
    signature = base64.b64encode(container.path("/tmp/liaison-log-sig").read_bytes()).decode()
    assert signature not in journal
    liaison(container, "key", "delete", "--user", "alice", "--label", label)


def test_a_presented_token_never_reaches_the_journal(container, desktops, debug_daemon):
    """An agent.hello with a wrong token is refused and logged as refused, at debug level,
    without the token it presented."""
    token = uuid.uuid4().hex * 2
    hello = request_line("agent.hello", {"session": desktops["alice"], "token": token,
                                         "version": "0"})
    report = rpc_exchange(container, AGENT_SOCKET, hello, user="alice")
    assert report["responses"] and "error" in report["responses"][0], report
    entries = journal_entries(container, "-u", "liaison.service", "LIAISON_EVENT=hello-refused")
    assert entries, "the refusal is not in the journal"
    journal = container.exec(["journalctl", "--no-pager", "-o", "export"], timeout=30).stdout
    assert token not in journal, "a presented agent token reached the journal"


def test_an_agent_writes_to_a_journal_stream_of_its_own(container, desktops, debug_daemon):
    """Issue 11, attack 6: exec agents inherited the daemon's own journal stream on fd 2, so
    whatever a hijacked agent wrote there was recorded as the daemon's words. Each agent has a
    stream of its own now, identified as liaison-agent (journald keeps each stream's identifier
    in /run/systemd/journal/streams/, one file a stream)."""
    daemon_pid = container.exec(["systemctl", "show", "-p", "MainPID", "--value",
                                 "liaison.service"]).stdout.strip()
    daemon_stream = container.environ(int(daemon_pid)).get("JOURNAL_STREAM")
    assert daemon_stream, "the daemon runs under journald"
    for session in desktops.values():
        agent_pid = debug_daemon[session]["agent"]["pid"]
        agent_stream = container.environ(agent_pid).get("JOURNAL_STREAM")
        assert agent_stream and agent_stream != daemon_stream, (agent_stream, daemon_stream)
        stderr = container.exec(["readlink", f"/proc/{agent_pid}/fd/2"]).stdout.strip()
        assert stderr == f"socket:[{agent_stream.split(':')[1]}]", (stderr, agent_stream)
    streams = container.path("/run/systemd/journal/streams")
    identifiers = [line for state in streams.iterdir()
                   for line in state.read_text().splitlines() if line.startswith("IDENTIFIER=")]
    assert identifiers.count("IDENTIFIER=liaison-agent") >= len(desktops), identifiers
