"""What every benchmark module shares: paths, the generation measured, the plan, seeds, logging."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPLICA = ROOT / "tests" / "replica.py"
# The tests' tools the benchmarks share (launch.py, relay.py): importable by name.
if str(ROOT / "tests") not in sys.path:
    sys.path.append(str(ROOT / "tests"))
DEFAULT_OUTPUT = HERE / "RESULTS.md"

PROMPT = "a benchmark of a cat holding a sign"
SIZE = 256
STEPS = 1
DOWNLOAD_LIMIT = 16 << 20
NO_AUTOLOAD = "G4F_FLUX_NO_AUTOLOAD"
PROTOCOLS = ("call", "queue")

T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    latency_warmup: int = 3
    latency_reps: int = 25
    tp_total: int = 200
    tp_levels: tuple[int, ...] = (1, 8, 32)
    # Repetitions per level: the 32-at-a-time targets get a median of five
    # paired ratios; 1 at a time is mostly 1/latency, which the latency
    # section measures.
    tp_reps: tuple[int, ...] = (1, 1, 5)
    mem_concurrency: int = 32
    mem_reps: int = 2
    startup_runs: int = 7
    probe_runs: int = 5
    hook_runs: int = 15
    sse_mb: float = 4.0
    sse_byte_kb: int = 256
    sse_reps: int = 5
    replica_concurrency: int = 64
    net_reps: int = 10  # sequential generations per contender and link
    cold_runs: int = 7  # fresh processes per command and link
    scale_ns: tuple[int, ...] = (100, 1000, 2000)  # generations at once (scale.py)


FULL = Plan()
QUICK = Plan(
    latency_warmup=1,
    latency_reps=4,
    tp_total=20,
    tp_reps=(1, 1, 1),
    mem_reps=1,
    startup_runs=2,
    probe_runs=2,
    hook_runs=3,
    sse_mb=0.5,
    sse_byte_kb=64,
    sse_reps=2,
    net_reps=3,
    cold_runs=1,
    scale_ns=(20,),
)


class Seeds:
    """Distinct seeds across the whole run, so the replica never serves a cached file."""

    def __init__(self, start: int = 1000) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._next += 1
            return self._next


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """``items`` starting from index ``shift`` (mod its length): interleaved rounds
    start from a different contender each time, so none always runs first."""
    shift %= len(items)
    return list(items[shift:]) + list(items[:shift])


def proc_status_kib(key: str) -> int:
    """A ``kB`` line of ``/proc/self/status`` (Linux): ``VmRSS``, ``VmHWM``..."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit (at most
    65,536), for one socket per waiting generation; ``(before, now)``."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def available(module: str) -> bool:
    """Whether an optional package can be imported (curl_cffi, gradio_client, httpx_sse)."""
    return importlib.util.find_spec(module) is not None


def transports() -> tuple[str, ...]:
    """The provider's transports installed here."""
    return ("aiohttp", "curl_cffi") if available("curl_cffi") else ("aiohttp",)


def log(message: str) -> None:
    """A progress line on stderr (the report goes to stdout and the output file)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
