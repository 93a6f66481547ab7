"""The server every network section measures against: ``tests/replica.py`` in a subprocess.

The replica is real Gradio with a fake model; here it runs with zero work
per step, so what is measured is the clients and Gradio's queue, not a model.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import REPLICA, ROOT

from launch import ServerProcess, free_port  # tests/launch.py: one launcher for tests and benchmarks


class Replica:
    """``tests/replica.py`` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.server: ServerProcess | None = None
        self.process = None
        self.url = ""
        self._logs = tempfile.TemporaryDirectory(prefix="bench-replica-")

    def start(self, timeout: float = 180.0) -> "Replica":
        """Start it and wait until it announces ``REPLICA READY <url>``."""
        port = free_port()
        self.server = ServerProcess(
            [sys.executable, REPLICA, "--port", port, "--sleep", "0", "--concurrency-limit", self.concurrency],
            log_path=Path(self._logs.name) / "replica.log", cwd=ROOT, name="replica",
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.process = self.server.process
        try:
            self.url = self.server.wait_ready(line_prefix="REPLICA READY ", timeout=timeout).rstrip("/")
        except Exception:
            self.stop()
            raise
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU time of the replica process so far."""
        if self.process is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return float("nan")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers. Idempotent."""
        if self.server is not None:
            self.server.stop()
        self.server = self.process = None
        self._logs.cleanup()
