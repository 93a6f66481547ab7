"""The server every network section measures against: ``tests/replica.py`` in a subprocess.

The replica is real Gradio with a fake model; here it runs with zero work
per step, so what is measured is the clients and Gradio's queue, not a model.

On a machine with two CPUs or more, the replica runs on the last CPU and the
benchmark (with every process it starts) on the others: in use, the Space and
its client are on different machines, so a client's CPU never slows the
Space down. Sharing the CPUs made the client's CPU steal from the server's
and let the scheduler's placement swing throughput by 15% between batches.
Client CPU per generation is still measured, and reported beside each rate.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import REPLICA, ROOT
from launch import ServerProcess, free_port  # tests/launch.py: one launcher for tests and benchmarks

#: Seconds the benchmark's replica keeps an idle keep-alive connection open.
KEEP_ALIVE = 600


class Replica:
    """``tests/replica.py`` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.server: ServerProcess | None = None
        self.process = None
        self.url = ""
        self.cpus: tuple[set[int], set[int]] | None = None
        self._logs = tempfile.TemporaryDirectory(prefix="bench-replica-")

    def start(self, timeout: float = 180.0) -> Replica:
        """Start it, pinned (see the module docstring), and wait until it announces ``REPLICA READY <url>``."""
        port = free_port()
        self.server = ServerProcess(
            [
                sys.executable,
                REPLICA,
                "--port",
                port,
                "--sleep",
                "0",
                "--concurrency-limit",
                self.concurrency,
                # Longer than any pause between two generations of one
                # contender in a run. With uvicorn's 5 s, a keep-alive client
                # whose next request left just as the server closed the idle
                # connection got "Server disconnected" (the floor, which never
                # retries, under load): a race with the server's timer, not
                # something the benchmark measures.
                "--keep-alive",
                KEEP_ALIVE,
            ],
            log_path=Path(self._logs.name) / "replica.log",
            cwd=ROOT,
            name="replica",
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        self.process = self.server.process
        # Before Gradio starts its threads: they inherit the main thread's CPUs.
        self.cpus = pin(self.process.pid)
        try:
            self.url = self.server.wait_ready(line_prefix="REPLICA READY ", timeout=timeout).rstrip("/")
            pin(self.process.pid)  # any thread that started before the first pin
        except Exception:
            self.stop()
            raise
        return self

    def placement(self) -> str:
        """Where the replica and the benchmark run, for the report."""
        if not self.cpus:
            return "on the same CPUs as the client (fewer than two CPUs: no pinning)"
        server, client = self.cpus
        return (
            f"pinned to CPU {','.join(map(str, sorted(server)))}, the benchmark and its child processes "
            f"to CPU {','.join(map(str, sorted(client)))}"
        )

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
        if self.cpus is not None:  # the sections after the replica's get every CPU back
            os.sched_setaffinity(0, self.cpus[0] | self.cpus[1])
            self.cpus = None
        self.server = self.process = None
        self._logs.cleanup()


def pin(pid: int) -> tuple[set[int], set[int]] | None:
    """Pin every thread of process ``pid`` to the last CPU and this process to the
    others; ``(server CPUs, client CPUs)``, or ``None`` with fewer than two CPUs
    (or where affinity cannot be set)."""
    try:
        cpus = sorted(os.sched_getaffinity(0) | os.sched_getaffinity(pid))
        if len(cpus) < 2:
            return None
        server, client = {cpus[-1]}, set(cpus[:-1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), server)
        os.sched_setaffinity(0, client)
    except (AttributeError, OSError):  # not Linux, or the process is gone
        return None
    return server, client
