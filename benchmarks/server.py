"""The server every network section measures against: ``tests/replica.py`` in a subprocess.

The replica is real Gradio with a fake model; here it runs with zero work
per step, so what is measured is the clients and Gradio's queue, not a model.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import REPLICA, ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Replica:
    """``tests/replica.py`` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 180.0) -> "Replica":
        """Start it and wait until it announces ``REPLICA READY <url>``."""
        port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(REPLICA), "--port", str(port), "--sleep", "0",
             "--concurrency-limit", str(self.concurrency)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        deadline = time.monotonic() + timeout
        ready: list[str] = []

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                if line.startswith("REPLICA READY"):
                    ready.append(line.split()[-1])
                    break
            # Keep draining so the replica never blocks on a full pipe.
            for _ in self.process.stdout:
                pass

        threading.Thread(target=read, daemon=True).start()
        while not ready:
            if self.process.poll() is not None:
                raise RuntimeError("the replica exited before it was ready")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the replica did not start in time")
            time.sleep(0.05)
        self.url = ready[0].rstrip("/")
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
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
