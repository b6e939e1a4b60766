"""End-to-end tests of keys (issue 4) against a real TPM 2.0 simulator.

A swtpm started by these tests listens on 127.0.0.1 (the container shares the host's network),
and liaison reaches it through the `swtpm:` TCTI. Keys are made in both placements the config
allows — the TPM in the daemon (the Linux default) and in the user's session (the macOS shape:
the agent talks to the key store) — and every signature is checked with `openssl dgst -verify`
inside the container.
"""

import os

import pytest

from liaison_cli import liaison, parse_json, request_line, rpc_exchange, sessions, \
    CONTROL_SOCKET
from runner import describe, observe_until
from swtpm import Swtpm, configure, fresh_tpm, restart

MESSAGE = "/tmp/liaison-keys-message"


@pytest.fixture(scope="module")
def swtpm():
    simulator = Swtpm()
    try:
        simulator.start()
        yield simulator
    finally:
        simulator.remove()


@pytest.fixture
def tpm_in_daemon(installed, desktops, swtpm):
    return fresh_tpm(installed, desktops, swtpm, "daemon")


@pytest.fixture
def tpm_in_session(installed, desktops, swtpm):
    return fresh_tpm(installed, desktops, swtpm, "user-session")


def key(container, *args, **kwargs):
    return liaison(container, "key", *args, **kwargs)


def create(container, user, label, *extra):
    result = key(container, "create", "--user", user, "--label", label, "--json", *extra)
    assert result.returncode == 0, describe(result)
    return parse_json(result)


def public_pem(container, user, label):
    result = key(container, "public", "--user", user, "--label", label)
    assert result.returncode == 0, describe(result)
    return result.stdout


def sign_and_verify(container, user, label, message=b"a message to sign\n"):
    """Signs `message` through the CLI and checks it with openssl in the container, and that a
    tampered message is rejected."""
    container.path(MESSAGE).write_bytes(message)
    pem = f"/tmp/liaison-keys-{user}-{label}.pem"
    container.path(pem).write_text(public_pem(container, user, label))
    signature = f"/tmp/liaison-keys-{user}-{label}.sig"
    signed = key(container, "sign", "--user", user, "--label", label, "--in", MESSAGE,
                 "--out", signature)
    assert signed.returncode == 0, describe(signed)
    verify = container.exec(["openssl", "dgst", "-sha256", "-verify", pem, "-signature",
                             signature, MESSAGE], check=False)
    assert verify.returncode == 0 and "Verified OK" in verify.stdout, describe(verify)
    container.path(MESSAGE).write_bytes(message + b"tampered")
    tampered = container.exec(["openssl", "dgst", "-sha256", "-verify", pem, "-signature",
                               signature, MESSAGE], check=False)
    assert tampered.returncode != 0, "openssl accepted a signature over a tampered message"


def test_a_daemon_tpm_key_signs_and_survives_a_daemon_restart(installed, tpm_in_daemon):
    made = create(installed, "alice", "device-tpm", "--backend", "tpm")
    assert (made["backend"], made["hardware_backed"], made["context"]) == \
        ("tpm", True, "daemon"), made
    stored = installed.path("/var/lib/liaison/keys/1001/device-tpm.json")
    mode = stored.stat().st_mode & 0o777
    assert (stored.stat().st_uid, mode) == (0, 0o600), (stored.stat().st_uid, oct(mode))
    before = public_pem(installed, "alice", "device-tpm")
    sign_and_verify(installed, "alice", "device-tpm")

    restart(installed)
    assert public_pem(installed, "alice", "device-tpm") == before
    sign_and_verify(installed, "alice", "device-tpm")


def test_creating_an_existing_label_is_refused_unless_replace(installed, tpm_in_daemon):
    create(installed, "bob", "twice", "--backend", "software")
    again = key(installed, "create", "--user", "bob", "--label", "twice", "--backend", "software")
    assert again.returncode == 1 and "exists" in again.stderr, describe(again)
    before = public_pem(installed, "bob", "twice")
    create(installed, "bob", "twice", "--backend", "software", "--replace")
    assert public_pem(installed, "bob", "twice") != before


def test_a_software_key_says_it_is_not_hardware_backed(installed, tpm_in_daemon):
    made = key(installed, "create", "--user", "bob", "--label", "soft", "--backend", "software")
    assert made.returncode == 0, describe(made)
    assert "NOT hardware-backed" in made.stdout and "warning" in made.stderr, describe(made)
    listed = key(installed, "list", "--user", "bob")
    assert "NO (software)" in listed.stdout, describe(listed)
    signed = key(installed, "sign", "--user", "bob", "--label", "soft", "--in", "/etc/hostname",
                 "--out", "/dev/null")
    assert "NOT hardware-backed" in signed.stderr, describe(signed)


def test_a_session_tpm_key_lives_in_the_users_session(installed, tpm_in_session):
    made = create(installed, "bob", "session-tpm", "--backend", "tpm")
    assert (made["backend"], made["hardware_backed"], made["context"]) == \
        ("tpm", True, "user-session"), made
    stored = installed.path("/home/bob/.local/share/liaison/keys/session-tpm.json")
    assert stored.exists(), "the key is not in bob's XDG_DATA_HOME"
    assert (stored.stat().st_uid, stored.stat().st_mode & 0o777) == (1002, 0o600)
    sign_and_verify(installed, "bob", "session-tpm")


def doctor_findings(container, *args):
    result = liaison(container, "doctor", "--json", *args, timeout=60)
    assert result.returncode in (0, 1), describe(result)
    return parse_json(result)


def test_doctor_describes_the_tpm_the_daemon_uses(installed, tpm_in_daemon, swtpm):
    report = doctor_findings(installed)
    tpm = {f["check"]: f for f in report["daemon"]["findings"]}["tpm"]
    assert tpm["status"] == "ok", tpm
    assert tpm["facts"]["manufacturer"] == "IBM", tpm  # libtpms
    assert tpm["facts"]["tcti"] == swtpm.tcti, tpm
    assert tpm["facts"]["in_lockout"] is False, tpm
    assert "from the daemon" in tpm["detail"], tpm


def test_doctor_asks_each_session_about_a_tpm_placed_there(installed, desktops, tpm_in_session):
    report = doctor_findings(installed, "--user", "alice")
    assert "tpm" not in {f["check"] for f in report["daemon"]["findings"]}
    for entry in report["sessions"]:
        tpm = {f["check"]: f for f in entry["findings"]}["tpm"]
        assert tpm["status"] == "ok", tpm
        assert tpm["facts"]["manufacturer"] == "IBM", tpm
        assert "alice's session" in tpm["detail"], tpm


def test_doctor_fails_a_tpm_that_does_not_answer(installed, tpm_in_daemon, swtpm):
    swtpm.stop()
    try:
        config = installed.path("/etc/liaison/liaison.toml")
        config.write_text(config.read_text().replace('backend = "auto"', 'backend = "tpm"'))
        restart(installed)
        result = liaison(installed, "doctor", "--json", timeout=60)
        assert result.returncode == 1, describe(result)
        tpm = {f["check"]: f for f in parse_json(result)["daemon"]["findings"]}["tpm"]
        assert tpm["status"] == "fail", tpm
        assert "tpm_tcti" in tpm["hint"], tpm
    finally:
        swtpm.start(new_ports=True, fresh_state=True)


def test_a_session_key_survives_an_agent_restart(installed, desktops, tpm_in_session):
    create(installed, "alice", "survivor", "--backend", "tpm")
    before = public_pem(installed, "alice", "survivor")
    agent_pid = tpm_in_session[desktops["alice"]]["agent"]["pid"]
    installed.exec(["kill", "-9", str(agent_pid)])
    listed = observe_until(lambda: sessions(installed), timeout=15, until=lambda s: (
        s[desktops["alice"]]["agent"]["state"] == "ready"
        and s[desktops["alice"]]["agent"]["pid"] != agent_pid))
    assert listed[desktops["alice"]]["agent"]["pid"] != agent_pid, listed
    assert public_pem(installed, "alice", "survivor") == before
    sign_and_verify(installed, "alice", "survivor")


def test_a_session_key_for_a_user_without_a_session_is_a_clear_error(installed, tpm_in_session):
    result = key(installed, "create", "--user", "carol", "--label", "nowhere", "--backend", "tpm")
    assert result.returncode == 4, describe(result)
    assert "carol" in result.stderr and "session" in result.stderr, describe(result)


def test_eight_parallel_signers_make_a_thousand_valid_signatures(installed, tpm_in_daemon):
    create(installed, "alice", "busy", "--backend", "tpm")
    installed.path("/tmp/busy.pem").write_text(public_pem(installed, "alice", "busy"))
    # Each signer signs 125 distinct messages and verifies every signature with openssl.
    script = r"""
set -e
worker() {
  for i in $(seq 1 125); do
    echo "message $1-$i" > /tmp/busy-$1.msg
    liaison key sign --user alice --label busy --in /tmp/busy-$1.msg --out /tmp/busy-$1.sig
    openssl dgst -sha256 -verify /tmp/busy.pem -signature /tmp/busy-$1.sig /tmp/busy-$1.msg \
      >/dev/null || { echo "worker $1 signature $i invalid"; exit 1; }
  done
}
pids=""
for w in 1 2 3 4 5 6 7 8; do worker $w & pids="$pids $!"; done
failed=0
for p in $pids; do wait $p || failed=1; done
exit $failed
"""
    result = installed.exec(["sh", "-c", script], check=False, timeout=240)
    assert result.returncode == 0, describe(result)


def test_bad_input_gets_clear_errors(installed, tpm_in_daemon):
    bad_label = key(installed, "create", "--user", "alice", "--label", "../etc")
    assert bad_label.returncode == 2 and "label" in bad_label.stderr, describe(bad_label)
    too_long = key(installed, "create", "--user", "alice", "--label", "x" * 65)
    assert too_long.returncode == 2, describe(too_long)
    unknown_backend = rpc_exchange(installed, CONTROL_SOCKET, request_line(
        "key.create", {"user": "alice", "label": "k", "backend": "quantum"}))
    error = unknown_backend["responses"][0]["error"]
    assert error["code"] == -32602 and "quantum" in error["message"], unknown_backend

    create(installed, "alice", "inputs", "--backend", "software")
    installed.path("/tmp/empty").write_bytes(b"")
    installed.path("/tmp/huge").write_bytes(os.urandom(8 * 1024 * 1024))
    for name in ("/tmp/empty", "/tmp/huge"):
        signed = key(installed, "sign", "--user", "alice", "--label", "inputs", "--in", name,
                     "--out", name + ".sig")
        assert signed.returncode == 0, describe(signed)
    wrong_digest = key(installed, "sign", "--user", "alice", "--label", "inputs", "--digest",
                       "--in", "/tmp/empty")
    assert wrong_digest.returncode == 2 and "32-byte" in wrong_digest.stderr, describe(wrong_digest)


def test_a_key_file_with_the_wrong_owner_is_refused(installed, tpm_in_daemon):
    create(installed, "alice", "tampered", "--backend", "software")
    stored = installed.path("/var/lib/liaison/keys/1001/tampered.json")
    os.chown(stored, 1002, 1002)
    try:
        result = key(installed, "public", "--user", "alice", "--label", "tampered")
        assert result.returncode != 0, describe(result)
        assert "owned by" in result.stderr or "owner" in result.stderr, describe(result)
    finally:
        os.chown(stored, 0, 0)


def test_a_tpm_that_vanishes_mid_use_gives_a_clear_error_and_recovers(installed, swtpm,
                                                                      tpm_in_daemon):
    create(installed, "alice", "fragile", "--backend", "tpm")
    sign_and_verify(installed, "alice", "fragile")
    swtpm.stop()
    try:
        gone = key(installed, "sign", "--user", "alice", "--label", "fragile", "--in",
                   "/etc/hostname", "--out", "/dev/null")
        assert gone.returncode == 1 and "unavailable" in gone.stderr.lower() or \
            "tpm" in gone.stderr.lower(), describe(gone)
    finally:
        # The same TPM state behind a new address: the key is still that TPM's key. (Recovery
        # on the same address without a restart is covered by tpm_provider_test.)
        swtpm.start(new_ports=True)
        configure(installed, swtpm, "daemon")
    sign_and_verify(installed, "alice", "fragile")
