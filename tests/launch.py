"""Starting and stopping the servers that tests and benchmarks run: one launcher.

Standard library only and no pytest, so the benchmarks use it too. A server
is a subprocess on 127.0.0.1 whose output goes to a log file (never a pipe
that could fill up); it is ready when it prints a line (``REPLICA READY
<url>``) or when a URL of it answers, and it is stopped with SIGTERM, then
SIGKILL if it lingers, and always reaped. Every wait is bounded.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["ServerProcess", "StartError", "free_port", "stop_all"]

#: How long a server may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of ``host`` that nobody listens on right now (bound, then released:
    connecting to it is refused; another process may take it before a server binds it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class StartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


class ServerProcess:
    """A server in a subprocess of its own session (a Ctrl-C at the terminal
    reaches the test runner only, which stops its servers in order)."""

    def __init__(
        self,
        argv: Sequence[object],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        name: str = "server",
    ) -> None:
        self.name = name
        self.log_path = Path(log_path)
        self.argv = [str(part) for part in argv]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=None if env is None else dict(env),
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def wait_ready(
        self, *, line_prefix: str | None = None, url: str | None = None, timeout: float = 60.0
    ) -> str:
        """Wait until the server prints ``line_prefix`` (then return the rest of that
        line) or until ``url`` answers anything over HTTP (then return ``url``)."""
        deadline = time.monotonic() + timeout
        while True:
            if line_prefix is not None:
                for line in self.log_path.read_text(errors="replace").splitlines():
                    if line.startswith(line_prefix):
                        return line[len(line_prefix) :].strip()
            elif url is not None and _answers(url):
                return url
            if self.process.poll() is not None:
                problem = f"exited with status {self.process.returncode} before it was ready"
            elif time.monotonic() > deadline:
                problem = f"was not ready after {timeout:.0f} s"
            else:
                time.sleep(0.05 if line_prefix is not None else 0.2)
                continue
            raise StartError(
                f"{self.name} ({' '.join(self.argv)}) {problem}.\n"
                f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; reaped in every case. Idempotent."""
        stop_all(self)


def stop_all(*servers: ServerProcess | subprocess.Popen) -> None:
    """Stop several servers together: SIGTERM to all, one bounded wait, SIGKILL
    for the stragglers, and reap all (no zombie, no ResourceWarning from Popen)."""
    processes = [server.process if isinstance(server, ServerProcess) else server for server in servers]
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
        process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError as error:
        error.close()
        return True  # an error status is an answer: the server is up
    except OSError:
        return False
