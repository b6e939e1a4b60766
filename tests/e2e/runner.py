"""Host commands with a hard deadline, and waiting where nothing can be waited on.

Every command the e2e harness runs goes through `run`: it starts the command in its own process
group and, when the deadline passes, kills the whole group (nsenter forks into the container's
PID namespace, so killing only the direct child would leave the real command running).
"""

import os
import shlex
import signal
import subprocess
import time


class CommandError(Exception):
    """A command failed or timed out; the message shows the command and everything it said."""

    def __init__(self, summary, argv, stdout="", stderr=""):
        self.argv = list(argv)
        self.stdout = stdout or ""
        self.stderr = stderr or ""
        super().__init__(
            f"{summary}: {shlex.join(self.argv)}\n"
            f"--- stdout ---\n{self.stdout.rstrip()}\n--- stderr ---\n{self.stderr.rstrip()}")


def describe(result):
    """One readable block with a finished command, its exit status and its output (for asserts)."""
    return (f"$ {shlex.join(result.args)}\n(exit status {result.returncode})\n"
            f"--- stdout ---\n{(result.stdout or '').rstrip()}\n"
            f"--- stderr ---\n{(result.stderr or '').rstrip()}")


def run(argv, *, timeout, check=True, input=None, env=None, cwd=None):
    """Runs argv to completion or kills its process group after `timeout` seconds.

    Returns a subprocess.CompletedProcess with text stdout/stderr. Raises CommandError on a
    timeout, and on a non-zero exit status when `check` is true.
    """
    return Started(argv, timeout=timeout, input=input, env=env, cwd=cwd).result(check=check)


class Started:
    """A command running in its own process group, with a deadline counted from its start.

    `shown_as` is how messages name the command (the argv a reader cares about, without the
    plumbing that runs it).
    """

    def __init__(self, argv, *, timeout, input=None, env=None, cwd=None, shown_as=None):
        self.shown_as = list(shown_as or argv)
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._input = input
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
            start_new_session=True)

    def result(self, check=True):
        """Waits for the command until its deadline; see run()."""
        try:
            stdout, stderr = self._process.communicate(
                self._input, timeout=max(self._deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            stdout, stderr = self.kill()
            raise CommandError(f"timed out after {self.timeout} s", self.shown_as,
                               stdout, stderr) from None
        result = subprocess.CompletedProcess(self.shown_as, self._process.returncode,
                                             stdout, stderr)
        if check and result.returncode != 0:
            raise CommandError(f"exit status {result.returncode}", self.shown_as, stdout, stderr)
        return result

    def kill(self):
        """Kills the whole process group and reaps the command; returns what it had written."""
        kill_group(self._process.pid)
        try:
            return self._process.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a descendant left the group, holding the pipes
            self._process.wait()
            return "", ""


def kill_group(pgid):
    """SIGKILLs every process in the group, tolerating a group that is already gone."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def observe_until(observe, *, until=bool, timeout, interval=0.05):
    """Calls observe() until until(observation) holds or `timeout` seconds passed; returns the
    last observation either way (for an assert that shows what was seen).

    Only for states that announce themselves through no event the harness can wait on (a
    process appearing in another PID namespace, a daemon's view catching up).
    """
    deadline = time.monotonic() + timeout
    while True:
        observation = observe()
        if until(observation) or time.monotonic() >= deadline:
            return observation
        time.sleep(interval)


def poll_until(observe, *, until=bool, timeout, interval=0.05, what):
    """Like observe_until, but raises TimeoutError naming `what` (and showing the last
    observation) when until() never held."""
    observation = observe_until(observe, until=until, timeout=timeout, interval=interval)
    if not until(observation):
        raise TimeoutError(f"{what}: not within {timeout} s; last seen:\n{observation!r}")
    return observation
