"""Talking to liaison inside the container: its command line, and raw JSON-RPC on its sockets.

Everything here runs inside the container (the daemon's sockets live in the container's /run,
and the daemon judges peers by their credentials there).
"""

import json

import pytest

import runner
from runner import describe

CONTROL_SOCKET = "/run/liaison/control.sock"
AGENT_SOCKET = "/run/liaison/agent.sock"
AGENT_READY_TIMEOUT_S = 10
CONFIG = "/etc/liaison/liaison.toml"

# A newline-delimited JSON-RPC client run with the container's python3: it sends stdin as is,
# then reads up to EXPECTED response lines, for at most TIMEOUT seconds, and prints a report:
# {"responses": [...], "closed": bool, "send_error"?, "recv_error"?, "connect_error"?}.
# Send failures are recorded, not fatal: a server may close a connection it refuses early.
_RPC_CLIENT = r"""
import json, socket, sys, time
path, expected, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
payload = sys.stdin.buffer.read()
report = {"responses": [], "closed": False}
deadline = time.monotonic() + timeout
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(timeout)
try:
    sock.connect(path)
except OSError as error:
    report["connect_error"] = str(error)
    print(json.dumps(report))
    sys.exit(0)
try:
    sock.sendall(payload)
except OSError as error:
    report["send_error"] = str(error)
buffer = b""
while len(report["responses"]) < expected:
    sock.settimeout(max(deadline - time.monotonic(), 0.01))
    try:
        chunk = sock.recv(65536)
    except socket.timeout:
        break
    except OSError as error:
        report["recv_error"] = str(error)
        break
    if not chunk:
        report["closed"] = True
        break
    buffer += chunk
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        try:
            report["responses"].append(json.loads(line))
        except ValueError:
            report["responses"].append({"unparsable": line.decode(errors="replace")})
print(json.dumps(report))
"""


def liaison(container, *args, user=None, timeout=30):
    """Runs the liaison CLI in the container (as root, or as `user`); never raises on failure."""
    return container.exec(["liaison", *args], user=user, check=False, timeout=timeout)


def parse_json(result):
    """The command's stdout as JSON, or a test failure showing the command and its output."""
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"stdout is not JSON ({error}):\n{describe(result)}")


def sessions(container):
    """`liaison sessions --json`, as {session id: entry}."""
    result = liaison(container, "sessions", "--json")
    assert result.returncode == 0, describe(result)
    return {entry["session"]: entry for entry in parse_json(result)}


def agent_state(listed, session_id):
    return listed.get(session_id, {}).get("agent", {}).get("state")


def wait_for_ready_agents(container, session_ids, timeout=AGENT_READY_TIMEOUT_S):
    """Polls `liaison sessions --json` (an agent's registration is no event a test can see)
    until every given session has a ready agent; returns the last listing."""
    wanted = list(session_ids)
    return runner.poll_until(
        lambda: sessions(container),
        until=lambda listed: all(agent_state(listed, s) == "ready" for s in wanted),
        timeout=timeout, what=f"ready agents for sessions {wanted} in `liaison sessions --json`")


def run_with_default_config(container):
    """The daemon running with the default configuration: an empty liaison.toml, the daemon
    restarted if the file said anything else (another test's strategy or keys)."""
    config = container.path(CONFIG)
    if config.exists() and config.read_text().strip():
        config.write_text("")
        container.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
        container.exec(["systemctl", "restart", "liaison.service"], timeout=30)
    container.exec(["systemctl", "start", "liaison.service"], timeout=30)


def rpc_exchange(container, socket_path, payload, *, user=None, expected=1, timeout=5):
    """Connects to a liaison socket in the container (as root or `user`), sends `payload`
    (bytes or str, sent as is) and returns the client's report (see _RPC_CLIENT)."""
    data = payload.decode() if isinstance(payload, bytes) else payload
    client = ["python3", "-c", _RPC_CLIENT, socket_path, str(expected), str(timeout)]
    result = container.exec(client, user=user, input=data, timeout=timeout + 15)
    return json.loads(result.stdout)


def request_line(method, params=None, request_id=1):
    """One JSON-RPC 2.0 request as a compact line."""
    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message, separators=(",", ":")) + "\n"


def error_codes(report):
    """The error codes of every response in a report (a batch answer counts per element)."""
    flat = []
    for response in report["responses"]:
        flat.extend(response if isinstance(response, list) else [response])
    return [r.get("error", {}).get("code") if isinstance(r, dict) else None for r in flat]
