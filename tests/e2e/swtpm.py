"""A TPM 2.0 simulator (swtpm) on free loopback ports, for the e2e tests and the benchmarks.

liaison reaches it through the `swtpm:` TCTI; the container shares the host's network.
"""

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

from liaison_cli import wait_for_ready_agents


class Swtpm:
    """A TPM 2.0 simulator on free loopback ports, its state kept across restart()."""

    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="liaison-e2e-swtpm-")
        self.port = _free_port_pair()
        self.process = None

    @property
    def tcti(self):
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def start(self, new_ports=False, fresh_state=False, manufactured=False):
        """Starts swtpm on its state; with new_ports, on fresh ports (its old ones may be held
        in TIME_WAIT for a minute after a stop); with fresh_state, as a brand-new TPM; with
        manufactured too, one swtpm_setup gave EKs and their certificates (manufacture())."""
        if new_ports:
            self.port = _free_port_pair()
        if fresh_state:
            shutil.rmtree(self.state, ignore_errors=True)
            os.makedirs(self.state)
            if manufactured:
                self.manufacture()
        self.process = subprocess.Popen(
            ["swtpm", "socket", "--tpm2",
             "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
             "--tpmstate", f"dir={self.state}", "--flags", "not-need-init,startup-clear"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"swtpm exited: {self.process.stderr.read().decode()}")
            time.sleep(0.02)
        raise TimeoutError("swtpm did not listen within 10 s")

    @property
    def ca_dir(self):
        return os.path.join(self.state, "ca")

    @property
    def ek_root_certificate(self):
        """The manufacturer's root CA certificate (PEM) of manufacture()'s EK certificates."""
        return os.path.join(self.ca_dir, "swtpm-localca-rootca-cert.pem")

    @property
    def ek_issuer_certificate(self):
        """The intermediate that signed the EK certificates (PEM)."""
        return os.path.join(self.ca_dir, "issuercert.pem")

    def manufacture(self):
        """Does what a TPM vendor does, with swtpm_setup (swtpm-tools) and a CA of this
        simulator's own in <state>/ca (never the machine's /var/lib/swtpm-localca): an RSA 2048
        EK with its certificate at NV 0x01c00002 and an ECC P-384 one at 0x01c00016
        (../shared/notes/tpm-attestation-facts.md). About 2 s."""
        os.makedirs(self.ca_dir, exist_ok=True)
        localca = os.path.join(self.state, "localca.conf")
        with open(localca, "w") as conf:
            conf.write(f"statedir = {self.ca_dir}\nsigningkey = {self.ca_dir}/signkey.pem\n"
                       f"issuercert = {self.ek_issuer_certificate}\n"
                       f"certserial = {self.ca_dir}/certserial\n")
        setup = os.path.join(self.state, "swtpm_setup.conf")
        with open(setup, "w") as conf:
            conf.write("create_certs_tool = /usr/bin/swtpm_localca\n"
                       f"create_certs_tool_config = {localca}\n"
                       "create_certs_tool_options = /etc/swtpm-localca.options\n"
                       "active_pcr_banks = sha256\n")
        log = os.path.join(self.state, "swtpm_setup.log")
        result = subprocess.run(
            ["swtpm_setup", "--tpm2", "--tpmstate", self.state, "--create-ek-cert",
             "--create-platform-cert", "--config", setup, "--overwrite", "--logfile", log],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if result.returncode != 0:
            with open(log, errors="replace") as text:
                raise RuntimeError(f"swtpm_setup failed: {result.stdout}{text.read()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.state, ignore_errors=True)


def configure(container, swtpm, tpm_context):
    """Writes liaison.toml for this placement of the TPM and restarts the daemon; returns the
    ready session listing."""
    config = (f'[keys]\nbackend = "auto"\ntpm_tcti = "{swtpm.tcti}"\n'
              f'tpm_context = "{tpm_context}"\n')
    path = container.path("/etc/liaison/liaison.toml")
    running = container.exec(["systemctl", "is-active", "liaison.service"], check=False)
    if path.read_text() == config and running.stdout.strip() == "active":
        return
    path.write_text(config)
    restart(container)


def restart(container):
    """Restarts the daemon. The tests restart it more often than systemd's start limit allows
    a real service (5 in 10 s), so the limit's count is reset first."""
    container.exec(["systemctl", "reset-failed", "liaison.service"], check=False)
    container.exec(["systemctl", "restart", "liaison.service"], timeout=30)


def fresh_tpm(container, desktops, swtpm, tpm_context, manufactured=False):
    """Gives every test a brand-new simulator (manufactured: with EK certificates), and points
    liaison at it. swtpm has no resource manager: objects a process left loaded (an agent a test
    killed) would fill its three object slots for the tests after it (on a real machine
    /dev/tpmrm0 keeps processes apart), and each stop without TPM2_Shutdown counts as a failed
    authorization, so a reused state would end in dictionary-attack lockout after a few tests."""
    swtpm.stop()
    swtpm.start(new_ports=True, fresh_state=True, manufactured=manufactured)
    configure(container, swtpm, tpm_context)
    return wait_for_ready_agents(container, desktops.values())


def _free_port_pair():
    """Two consecutive free ports on 127.0.0.1 (server, control), below the ephemeral range.

    The swtpm TCTI opens a connection per command, so a used port sits in TIME_WAIT for a
    minute; only a bind (which TIME_WAIT blocks, as it blocks swtpm's) proves a port free."""
    for _ in range(200):
        port = random.randrange(20000, 32000, 2)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair on 127.0.0.1")
