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


class Swtpm:
    """A TPM 2.0 simulator on free loopback ports, its state kept across restart()."""

    def __init__(self):
        self.state = tempfile.mkdtemp(prefix="liaison-e2e-swtpm-")
        self.port = _free_port_pair()
        self.process = None

    @property
    def tcti(self):
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def start(self, new_ports=False, fresh_state=False):
        """Starts swtpm on its state; with new_ports, on fresh ports (its old ones may be held
        in TIME_WAIT for a minute after a stop); with fresh_state, as a brand-new TPM."""
        if new_ports:
            self.port = _free_port_pair()
        if fresh_state:
            shutil.rmtree(self.state, ignore_errors=True)
            os.makedirs(self.state)
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
