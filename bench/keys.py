#!/usr/bin/python3
"""Signatures per second (issue 4), each beside its limit from the same run:

  - TPM: through control.sock (pipelined), through the CLI, and through TpmProvider in process,
    next to a raw Esys_Sign loop on the same swtpm (tpm_sign_bench);
  - software: through control.sock (pipelined), next to `openssl speed -elapsed ecdsap256`;
  - attestations (issue 14): key.attest on control.sock, one after another, next to a loop of
    tpm2-tools' `tpm2_certify` over the same kinds of keys on the same swtpm.

Runs on the host (daemon-context keys need no login session): its own swtpm on loopback, its own
`liaison daemon` with a throwaway runtime and state directory. Prints a markdown section.

    sudo /usr/bin/python3 bench/keys.py --build-dir build
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the e2e harness, tests/e2e, on sys.path)
from attestation_ca import AttestationCa  # noqa: E402
from swtpm import Swtpm  # noqa: E402

# Whose keys the bench makes: keys belong to user accounts, and root owns none (key_router.cpp);
# nobody has an account on every Debian machine. Daemon-context keys need no session.
KEY_USER = "nobody"
PIPELINE_WINDOW = 32  # requests in flight; the daemon takes 64 per connection


def raw_and_provider(build_dir, tcti, count):
    """tpm_sign_bench: a raw Esys_Sign loop and TpmProvider::sign_digest, taking turns."""
    out = subprocess.run([str(build_dir / "src/keys/tpm_sign_bench"), "--tcti", tcti,
                          "--count", str(count), "--json"], capture_output=True, text=True,
                         timeout=600, check=True).stdout
    return json.loads(out)


class Control:
    """A JSON-RPC client of control.sock."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.buffer = b""
        self.next_id = 1

    def send(self, method, params):
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                      "params": params}).encode() + b"\n")
        self.next_id += 1

    def receive(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("the daemon closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"daemon error: {message['error']}")
        return message["result"]

    def call(self, method, params):
        self.send(method, params)
        return self.receive()


def pipelined_signs(control, label, count):
    """`count` key.sign calls with at most PIPELINE_WINDOW in flight; signatures per second."""
    digest = base64.b64encode(hashlib.sha256(b"bench").digest()).decode()
    params = {"user": KEY_USER, "label": label, "digest": digest}
    began = time.monotonic()
    sent = received = 0
    while received < count:
        while sent < count and sent - received < PIPELINE_WINDOW:
            control.send("key.sign", params)
            sent += 1
        control.receive()
        received += 1
    return count / (time.monotonic() - began)


def cli_signs(liaison, runtime, label, count):
    digest_file = Path(runtime) / "digest"
    digest_file.write_bytes(hashlib.sha256(b"bench").digest())
    env = dict(os.environ, LIAISON_RUNTIME_DIR=runtime)
    began = time.monotonic()
    for _ in range(count):
        subprocess.run([liaison, "key", "sign", "--user", KEY_USER, "--label", label, "--digest",
                        "--in", str(digest_file), "--out", "/dev/null"], env=env, check=True,
                       timeout=60)
    return count / (time.monotonic() - began)


def openssl_speed():
    out = subprocess.run(["openssl", "speed", "-elapsed", "-seconds", "3", "ecdsap256"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    # "256 bits ecdsa (nistp256)   0.0000s   0.0001s  25000.1   9000.2"  -> sign/s, verify/s
    match = re.search(r"nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"cannot read `openssl speed`:\n{out}")
    return float(match.group(1))


def enroll_attestation_key(control):
    """What a CA and an admin do once: enroll, activate the CA's credential, install its
    certificate (tests/e2e/attestation_ca.py plays the CA)."""
    ca = AttestationCa()
    enrollment = control.call("attest.enroll", {})
    credential, _ = ca.challenge(enrollment)
    control.call("attest.activate", {"credential": base64.b64encode(credential).decode()})
    control.call("attest.install_cert", {"pem": ca.certify(enrollment) + ca.root_pem})


def socket_attestations(control, label, count):
    """key.attest --format tpm on one control.sock connection, one after another: per second."""
    started = time.perf_counter()
    for i in range(count):
        challenge = base64.b64encode(hashlib.sha256(str(i).encode()).digest()).decode()
        control.call("key.attest", {"user": KEY_USER, "label": label, "challenge": challenge,
                                    "format": "tpm"})
    return count / (time.perf_counter() - started)


def tpm2_certify_loop(tcti, work, count):
    """The shell-out baseline: tpm2-tools makes a P-256 key and a restricted ECDSA signing key
    (an AK) under an owner primary and makes both persistent, then runs `tpm2_certify` `count`
    times, one process each: per second."""
    directory = os.path.join(work, "tpm2-tools")
    os.makedirs(directory)

    def path(name):
        return os.path.join(directory, name)

    def tool(*argv):
        done = subprocess.run([argv[0], "-T", tcti, *argv[1:]], capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
        if argv[0] != "tpm2_certify":
            # swtpm has no resource manager: what a tool left loaded would fill its 3 slots.
            subprocess.run(["tpm2_flushcontext", "-T", tcti, "-t"], capture_output=True,
                           timeout=60)

    tool("tpm2_createprimary", "-C", "o", "-G", "ecc", "-c", path("primary.ctx"))
    tool("tpm2_create", "-C", path("primary.ctx"), "-G", "ecc256", "-u", path("key.pub"),
         "-r", path("key.priv"))
    tool("tpm2_create", "-C", path("primary.ctx"), "-G", "ecc256:ecdsa-sha256:null", "-a",
         "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign",
         "-u", path("ak.pub"), "-r", path("ak.priv"))
    tool("tpm2_load", "-C", path("primary.ctx"), "-u", path("key.pub"), "-r", path("key.priv"),
         "-c", path("key.ctx"))
    tool("tpm2_load", "-C", path("primary.ctx"), "-u", path("ak.pub"), "-r", path("ak.priv"),
         "-c", path("ak.ctx"))
    # Persistent handles: swtpm has no resource manager to flush what each tpm2_certify would
    # load from a context file and leave behind.
    tool("tpm2_evictcontrol", "-C", "o", "-c", path("key.ctx"), "0x81000100")
    tool("tpm2_evictcontrol", "-C", "o", "-c", path("ak.ctx"), "0x81000101")
    started = time.perf_counter()
    for i in range(count):
        tool("tpm2_certify", "-c", "0x81000100", "-C", "0x81000101", "-g", "sha256",
             "-o", path(f"attest{i % 2}"), "-s", path("signature"))
    return count / (time.perf_counter() - started)


def start_daemon(liaison, runtime, state, config):
    process = subprocess.Popen([liaison, "daemon", "--runtime-dir", runtime, "--state-dir", state,
                                "--config", config], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(runtime, "control.sock")):
            return process
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited: {process.stderr.read().decode()}")
        time.sleep(0.02)
    raise RuntimeError("the daemon did not come up")


def measure(build_dir, count, cli_count, progress=print):
    liaison = str(build_dir / "src/cli/liaison")
    work = tempfile.mkdtemp(prefix="liaison-bench-keys-")
    runtime, state = (os.path.join(work, d) for d in ("run", "state"))
    for d in (runtime, state):
        os.makedirs(d)
    swtpm = Swtpm()
    daemon = None
    results = {}
    try:
        swtpm.start()
        tcti = swtpm.tcti
        progress(f"raw Esys_Sign vs TpmProvider in process ({count} each)")
        results["in_process"] = raw_and_provider(build_dir, tcti, count)
        config = os.path.join(work, "liaison.toml")
        Path(config).write_text(f'[keys]\ntpm_tcti = "{tcti}"\n')
        daemon = start_daemon(liaison, runtime, state, config)
        control = Control(os.path.join(runtime, "control.sock"))
        control.call("key.create", {"user": KEY_USER, "label": "tpm", "backend": "tpm"})
        control.call("key.create", {"user": KEY_USER, "label": "soft", "backend": "software"})
        progress(f"control.sock, pipelined ({count} signatures each, TPM and software)")
        results["socket_tpm"] = pipelined_signs(control, "tpm", count)
        results["socket_software"] = pipelined_signs(control, "soft", count)
        progress(f"the CLI ({cli_count} signatures)")
        results["cli_tpm"] = cli_signs(liaison, runtime, "tpm", cli_count)
        progress("openssl speed -elapsed ecdsap256")
        results["openssl"] = openssl_speed()
        progress(f"attestations: key.attest on control.sock and tpm2_certify ({cli_count} each)")
        enroll_attestation_key(control)
        results["socket_attest"] = socket_attestations(control, "tpm", cli_count)
        results["tpm2_certify"] = tpm2_certify_loop(tcti, work, cli_count)
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait(timeout=15)
        swtpm.remove()
        shutil.rmtree(work, ignore_errors=True)
    return results


def markdown(results, count, cli_count):
    raw = results["in_process"]["raw_esys_sign_per_s"]
    provider = results["in_process"]["provider_sign_per_s"]

    def versus(value, limit):
        return f"{(1 - value / limit) * 100:.1f} % below" if value < limit else \
            f"{(value / limit - 1) * 100:.1f} % above"

    rows = [
        ("raw `Esys_Sign` loop (the limit)", raw, "—"),
        ("`TpmProvider::sign_digest`, in process", provider, versus(provider, raw)),
        ("`key.sign` on control.sock, pipelined", results["socket_tpm"],
         versus(results["socket_tpm"], raw)),
        ("`liaison key sign` (CLI, one process per signature)", results["cli_tpm"],
         versus(results["cli_tpm"], raw)),
    ]
    lines = [
        "## Signatures per second (keys)",
        "",
        f"*Method.* `bench/keys.py` on the host: its own swtpm on loopback and its own `liaison "
        f"daemon` (daemon-context keys need no session). TPM: `tpm_sign_bench` runs a raw "
        f"`Esys_Sign` loop and `TpmProvider::sign_digest` taking turns in batches ({count} each); "
        f"then {count} `key.sign` calls on one control.sock connection with {PIPELINE_WINDOW} in "
        f"flight, and {cli_count} runs of `liaison key sign --digest`. Software: the same "
        f"pipelined calls next to `openssl speed -elapsed ecdsap256` (elapsed, not CPU, time). "
        f"The swtpm TCTI opens a TCP connection per command, which is most of a TPM signature's "
        f"cost here.",
        "",
        "| TPM (swtpm) | signatures/s | vs the raw loop |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {value:.0f} | {note} |" for name, value, note in rows]
    lines += [
        "",
        "| software (OpenSSL, P-256) | signatures/s | vs `openssl speed` |",
        "|---|---|---|",
        f"| `openssl speed -elapsed ecdsap256` (the limit) | {results['openssl']:.0f} | — |",
        f"| `key.sign` on control.sock, pipelined | {results['socket_software']:.0f} | "
        f"{versus(results['socket_software'], results['openssl'])} |",
        "",
        "## Attestations per second (issue 14)",
        "",
        f"*Method.* The same daemon and swtpm, after the attestation key was enrolled, activated "
        f"and certified (a CA in Python, tests/e2e/attestation_ca.py): {cli_count} `key.attest "
        f"--format tpm` calls on one control.sock connection, one after another; each loads the "
        f"AK and the key (and the storage root key, derived again), certifies, and flushes them "
        f"all, leaving the TPM's object slots free. Baseline: {cli_count} runs of tpm2-tools' "
        f"`tpm2_certify` over a key and an AK of the same kinds made persistent (nothing to load), "
        f"one process per attestation (tpm2-tools 5.4 takes no qualifying data, so its "
        f"attestations carry none).",
        "",
        "| | attestations/s | vs `tpm2_certify` |",
        "|---|---|---|",
        f"| `tpm2_certify`, one process each (baseline) | {results['tpm2_certify']:.0f} | — |",
        f"| `key.attest` on control.sock | {results['socket_attest']:.0f} | "
        f"{results['socket_attest'] / results['tpm2_certify']:.1f}× |",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--cli-count", type=int, default=200)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/keys.py: run as root (the daemon starts as root)", file=sys.stderr)
        return 1
    results = measure(Path(args.build_dir).resolve(), args.count, args.cli_count)
    print(markdown(results, args.count, args.cli_count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
