#!/usr/bin/env python
"""Benchmarks of g4f-flux-plugin: one entry, one run, ratios.

    python benchmarks/run.py [--quick] [--output benchmarks/RESULTS.md]

Starts the local Gradio replica of the Space (``tests/replica.py``: zero work
per step, 1 step, 256x256) on a free port and, in the same run, measures:

latency      one generation, image download included, for the provider (each
             transport x each protocol, a session per generation as the
             provider does by default, and a long-lived transport instance
             passed in), for the floor client (``benchmarks/floor.py``) and
             for ``gradio_client``; contenders are interleaved round-robin.
throughput   generations/s for N generations at 1, 8 and 32 at a time.
memory       peak memory of 32 generations at a time (tracemalloc peak and
             RSS high-water-mark delta), one fresh process per contender.
start-up     fresh interpreters: ``import g4f`` with and without the plugin,
             the start-up hook in a process that never imports g4f, and
             ``g4f-flux --help``.
SSE          MB/s of the plugin's SSE decoder on a recorded Gradio stream,
             beside httpx-sse and a naive split, and a linearity check.

Everything is reported as medians (with p10/p90) and as ratios between
contenders measured in the same run: absolute numbers depend on the machine
and on whatever else runs on it, ratios much less. Results go to a Markdown
file with the machine, the versions, the command and a table of targets.

``--worker memory`` is internal: the memory section runs each contender in a
fresh interpreter through it.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import datetime
import gc
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPLICA = ROOT / "tests" / "replica.py"
DEFAULT_OUTPUT = HERE / "RESULTS.md"

PROMPT = "a benchmark of a cat holding a sign"
SIZE = 256
STEPS = 1
DOWNLOAD_LIMIT = 16 << 20
NO_AUTOLOAD = "G4F_FLUX_NO_AUTOLOAD"


# --------------------------------------------------------------------------
# plans


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    latency_warmup: int = 3
    latency_reps: int = 25
    tp_total: int = 200
    tp_levels: tuple[int, ...] = (1, 8, 32)
    # Repetitions per level: the 32-at-a-time target gets a median of three;
    # 1 at a time is mostly 1/latency, which the latency section measures.
    tp_reps: tuple[int, ...] = (1, 1, 3)
    mem_concurrency: int = 32
    mem_reps: int = 2
    startup_runs: int = 7
    probe_runs: int = 5
    hook_runs: int = 15
    sse_mb: float = 4.0
    sse_byte_kb: int = 256
    sse_reps: int = 5
    replica_concurrency: int = 64


FULL = Plan()
QUICK = Plan(
    latency_warmup=1, latency_reps=4, tp_total=20, tp_reps=(1, 1, 1), mem_reps=1, startup_runs=2,
    probe_runs=2, hook_runs=3, sse_mb=0.5, sse_byte_kb=64, sse_reps=2,
)


# --------------------------------------------------------------------------
# statistics and formatting


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolation quantile (q in [0, 1]) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Dist:
    """A sample summarised as median, p10, p90 and its size."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p10(self) -> float:
        return quantile(self.values, 0.1) if self.values else float("nan")

    @property
    def p90(self) -> float:
        return quantile(self.values, 0.9) if self.values else float("nan")

    def __len__(self) -> int:
        return len(self.values)


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or a != a or b != b:
        return None
    return a / b


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# the replica


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Replica:
    """``tests/replica.py`` in a subprocess on a free port."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 180.0) -> "Replica":
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
        self.url = ready[0]
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
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# --------------------------------------------------------------------------
# contenders


class Contender:
    """One way of generating an image; ``one(seed)`` returns the image's size in bytes."""

    name = ""
    group = ""
    blocking = False  # gradio_client: sync, run in threads

    async def setup(self) -> None:
        pass

    async def one(self, seed: int) -> int:
        raise NotImplementedError

    def one_sync(self, seed: int) -> int:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


class ProviderContender(Contender):
    """The provider; a fresh transport per generation, or one long-lived instance."""

    group = "provider"

    def __init__(self, url: str, transport: str, protocol: str, long_lived: bool) -> None:
        self.url = url
        self.transport_name = transport
        self.protocol = protocol
        self.long_lived = long_lived
        self.name = f"provider {transport}/{protocol}" + (" long-lived" if long_lived else "")
        self._shared = None

    async def setup(self) -> None:
        # The provider first: the package's natural entry (it imports g4f).
        from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell
        from g4f_flux_plugin._transports import make_transport

        self._provider = BlackForestLabs_Flux1Schnell
        self._make = make_transport
        if self.long_lived:
            self._shared, _ = make_transport(self.transport_name)

    async def one(self, seed: int) -> int:
        if self._shared is not None:
            return await self._generate(self._shared, seed)
        # What the provider does by default with transport="aiohttp" (make a
        # transport, use it for the generation, close it), stretched to also
        # download the image over the same session, as a caller would.
        transport, _ = self._make(self.transport_name)
        try:
            return await self._generate(transport, seed)
        finally:
            await transport.aclose()

    async def _generate(self, transport, seed: int) -> int:
        last = None
        async for item in self._provider.create_async_generator(
            "flux-schnell", None, prompt=PROMPT, width=SIZE, height=SIZE,
            num_inference_steps=STEPS, seed=seed, api_base=self.url,
            transport=transport, protocol=self.protocol,
        ):
            last = item
        response = await transport.request("GET", last.images[0], headers={})
        async with response:
            return len(await response.read(DOWNLOAD_LIMIT))

    async def aclose(self) -> None:
        if self._shared is not None:
            shared, self._shared = self._shared, None
            await shared.aclose()


class FloorContender(Contender):
    """``benchmarks/floor.py``: the fewest exchanges, one keep-alive session."""

    group = "floor"

    def __init__(self, url: str, protocol: str) -> None:
        self.url = url
        self.protocol = protocol
        self.name = f"floor {protocol}"
        self._client = None

    async def setup(self) -> None:
        if str(HERE) not in sys.path:
            sys.path.insert(0, str(HERE))
        from floor import FloorClient

        self._client = await FloorClient(self.url).discover()
        self._run = self._client.call if self.protocol == "call" else self._client.queue

    async def one(self, seed: int) -> int:
        return len(await self._run([PROMPT, seed, False, SIZE, SIZE, STEPS]))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class GradioClientContender(Contender):
    """``gradio_client.Client(url)`` built once; ``predict``/``submit().result()``.

    gradio_client downloads the output file itself (``download_files``, a
    temporary directory here), over a new connection, before it returns.
    """

    group = "gradio_client"
    blocking = True
    name = "gradio_client"

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = None
        self._tmp: str | None = None

    async def setup(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="g4f-flux-bench-gc-")

        def build():
            from gradio_client import Client

            return Client(self.url, verbose=False, download_files=self._tmp,
                          analytics_enabled=False)

        self._client = await asyncio.to_thread(build)

    def one_sync(self, seed: int) -> int:
        path, _seed = self._client.submit(
            PROMPT, seed, False, SIZE, SIZE, STEPS, api_name="/infer"
        ).result()
        return os.path.getsize(path)

    async def one(self, seed: int) -> int:
        return await asyncio.to_thread(self.one_sync, seed)

    async def aclose(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()  # gradio_client >= 1.x
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def available(module: str) -> bool:
    """Whether an optional package can be imported (curl_cffi, gradio_client, httpx_sse)."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


def transports() -> tuple[str, ...]:
    return ("aiohttp", "curl_cffi") if available("curl_cffi") else ("aiohttp",)


def latency_contenders(url: str) -> list[Contender]:
    contenders: list[Contender] = []
    for long_lived in (False, True):
        for transport in transports():
            for protocol in ("call", "queue"):
                contenders.append(ProviderContender(url, transport, protocol, long_lived))
    contenders += [FloorContender(url, "call"), FloorContender(url, "queue")]
    if available("gradio_client"):
        contenders.append(GradioClientContender(url))
    return contenders


def throughput_contenders(url: str) -> list[Contender]:
    """The latency contenders minus the long-lived curl_cffi ones (to keep the run short), ordered
    so that each floor runs right next to the aiohttp provider variants it is compared with
    (batches are long, and the machine's load drifts between them)."""
    order = ["provider aiohttp/queue", "floor queue", "provider aiohttp/queue long-lived",
             "provider curl_cffi/queue", "gradio_client", "provider curl_cffi/call",
             "provider aiohttp/call long-lived", "floor call", "provider aiohttp/call"]
    by_name = {c.name: c for c in latency_contenders(url)}
    return [by_name[name] for name in order if name in by_name]


def memory_contender_names(quick: bool) -> list[str]:
    if quick:
        return ["provider aiohttp/queue", "floor queue"]
    names = ["provider aiohttp/call", "provider aiohttp/queue", "provider aiohttp/queue long-lived"]
    if "curl_cffi" in transports():
        names += ["provider curl_cffi/queue", "provider curl_cffi/queue long-lived"]
    return names + ["floor call", "floor queue"]


def contender_by_name(url: str, name: str) -> Contender:
    for contender in latency_contenders(url):
        if contender.name == name:
            return contender
    raise SystemExit(f"unknown contender {name!r}")


class Seeds:
    """Distinct seeds across the whole run, so the replica never serves a cached file."""

    def __init__(self, start: int = 1000) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            self._next += 1
            return self._next


# --------------------------------------------------------------------------
# latency


@dataclass
class LatencyResult:
    name: str
    group: str
    ms: Dist
    cpu_ms: Dist
    errors: int = 0
    connects: int = 0  # TCP connections opened from Python sockets during the measured generations


_CONNECTS = [0]


def _count_connects(event: str, _args: tuple) -> None:
    # Audit event raised by socket.connect (asyncio, aiohttp and httpx connect
    # through it; curl opens its sockets in C, so curl_cffi is not counted).
    if event == "socket.connect":
        _CONNECTS[0] += 1


def count_connections() -> None:
    """Install the audit hook that counts TCP connections (once per process; cannot be removed)."""
    if not getattr(count_connections, "installed", False):
        sys.addaudithook(_count_connects)
        count_connections.installed = True


async def bench_latency(contenders: list[Contender], plan: Plan, seeds: Seeds) -> list[LatencyResult]:
    results = {c.name: LatencyResult(c.name, c.group, Dist([]), Dist([])) for c in contenders}
    for _ in range(plan.latency_warmup):
        for contender in contenders:
            await contender.one(seeds())
    for rep in range(plan.latency_reps):
        # Round-robin, with the starting contender rotating each repetition.
        shift = rep % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            result = results[contender.name]
            gc.collect()
            connects = _CONNECTS[0]
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                if contender.blocking:
                    contender.one_sync(seeds())  # alone in the process: no need for a thread
                else:
                    await contender.one(seeds())
            except Exception as error:  # counted and reported, never hidden
                result.errors += 1
                log(f"latency: {contender.name} failed: {type(error).__name__}: {error}")
                continue
            result.ms.values.append((time.perf_counter() - wall) * 1000)
            result.cpu_ms.values.append((time.process_time() - cpu) * 1000)
            result.connects += _CONNECTS[0] - connects
    return list(results.values())


# --------------------------------------------------------------------------
# throughput


@dataclass
class ThroughputResult:
    name: str
    group: str
    level: int
    rate: Dist = field(default_factory=lambda: Dist([]))  # generations/s
    client_cpu_ms: Dist = field(default_factory=lambda: Dist([]))  # per generation
    server_cpu_ms: Dist = field(default_factory=lambda: Dist([]))
    errors: int = 0


async def run_batch(contender: Contender, total: int, at_once: int, seeds: Seeds) -> int:
    """Run ``total`` generations, ``at_once`` at a time; return the number of failures."""
    remaining = [total]
    failures = [0]

    if contender.blocking:
        def worker_sync() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1  # only this loop's threads touch it; a lost race costs one extra job at most
                try:
                    contender.one_sync(seeds())
                except Exception as error:
                    failures[0] += 1
                    if failures[0] <= 3:
                        log(f"{contender.name}: {type(error).__name__}: {error}")

        def batch() -> None:
            threads = [threading.Thread(target=worker_sync) for _ in range(at_once)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        await asyncio.to_thread(batch)
        return failures[0]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            try:
                await contender.one(seeds())
            except Exception as error:
                failures[0] += 1
                if failures[0] <= 3:
                    log(f"{contender.name}: {type(error).__name__}: {error}")

    await asyncio.gather(*(worker() for _ in range(at_once)))
    return failures[0]


async def bench_throughput(contenders: list[Contender], plan: Plan, seeds: Seeds,
                           replica: Replica) -> list[ThroughputResult]:
    results = {(c.name, level): ThroughputResult(c.name, c.group, level)
               for c in contenders for level in plan.tp_levels}
    log("throughput: warm-up")
    for contender in contenders:
        await run_batch(contender, max(plan.tp_levels), max(plan.tp_levels), seeds)
    for level, reps in zip(plan.tp_levels, plan.tp_reps):
        for rep in range(reps):
            shift = (rep + level) % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                log(f"throughput: {contender.name}, {plan.tp_total} generations, {level} at a time")
                gc.collect()
                wall, cpu, server = time.perf_counter(), time.process_time(), replica.cpu_seconds()
                failures = await run_batch(contender, plan.tp_total, level, seeds)
                elapsed = time.perf_counter() - wall
                result = results[(contender.name, level)]
                done = plan.tp_total - failures
                result.errors += failures
                result.rate.values.append(done / elapsed)
                result.client_cpu_ms.values.append((time.process_time() - cpu) * 1000 / plan.tp_total)
                result.server_cpu_ms.values.append((replica.cpu_seconds() - server) * 1000 / plan.tp_total)
    return list(results.values())


# --------------------------------------------------------------------------
# memory (one fresh interpreter per contender)


def _proc_status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> bool:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def memory_worker(url: str, name: str, at_once: int, reps: int) -> dict:
    contender = contender_by_name(url, name)
    seeds = Seeds(start=10_000_000 + os.getpid() * 1000)
    await contender.setup()
    try:
        # Warm: imports, the provider's config cache, the floor's connection.
        await contender.one(seeds())
        rss_deltas = []
        peaks = []
        for _ in range(reps):
            gc.collect()
            base = _proc_status_kib("VmRSS")
            exact = _reset_peak_rss()
            await run_batch(contender, at_once, at_once, seeds)
            rss_deltas.append(_proc_status_kib("VmHWM") - base if exact else float("nan"))
        for _ in range(reps):
            gc.collect()
            tracemalloc.start()
            await run_batch(contender, at_once, at_once, seeds)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peaks.append(peak / 1024)
        return {"name": name, "rss_delta_kib": rss_deltas, "tracemalloc_peak_kib": peaks,
                "rss_kib": _proc_status_kib("VmRSS")}
    finally:
        await contender.aclose()


def bench_memory(url: str, plan: Plan) -> list[dict]:
    results = []
    for name in memory_contender_names(quick=plan is QUICK):
        log(f"memory: {name}")
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "memory", "--url", url,
             "--contender", name, "--at-once", str(plan.mem_concurrency), "--reps", str(plan.mem_reps)],
            capture_output=True, text=True, cwd=ROOT, timeout=600,
        )
        if out.returncode != 0:
            log(f"memory worker for {name} failed:\n{out.stderr[-2000:]}")
            results.append({"name": name, "error": out.stderr.strip().splitlines()[-1:] or ["?"]})
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


# --------------------------------------------------------------------------
# start-up


def _bin(name: str) -> str | None:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else shutil.which(name)


def hook_lines() -> tuple[str | None, list[str], list[str]]:
    """(name of the start-up hook's .pth, its import lines, the editable finder's lines)."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    hook_file, hook, editable = None, [], []
    for pth in sorted(purelib.glob("*.pth")):
        text = pth.read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.startswith(("import ", "import\t"))]
        if pth.name.startswith("__editable__") and "g4f_flux_plugin" in pth.name:
            editable += lines
        elif "g4f_flux_plugin" in text:
            hook_file = pth.name
            hook += lines
    return hook_file, hook, editable


# Run with the hook turned off by the environment, so site has done all its
# usual work (the site-packages directory is already listed, the editable
# finder if any is loaded) but not the hook; then the hook's .pth lines run
# the way site runs them (exec of the line), timed: this first run imports
# the hook's module and installs it.
_HOOK_PROBE = r"""
import json, os, sys, time
os.environ.pop(ENV, None)
before = set(sys.modules)
meta_path = list(sys.meta_path)
t0 = time.perf_counter_ns()
for line in HOOK:
    exec(line)
cold = time.perf_counter_ns() - t0
imported = sorted(set(sys.modules) - before)
installed = [type(f).__module__ + "." + type(f).__name__ for f in sys.meta_path if f not in meta_path]
warm = None
install = None
for name in imported:
    install = getattr(sys.modules[name], "install", None) or install
if install is not None:
    n = 20000
    t0 = time.perf_counter_ns()
    for _ in range(n):
        install()
    warm = (time.perf_counter_ns() - t0) / n
print(json.dumps({"cold_ns": cold, "warm_ns": warm, "imported": imported, "installed": installed,
                  "g4f": "g4f" in sys.modules}))
"""

_AUTOLOAD_PROBE = r"""
import json, sys, time
import g4f
before = set(sys.modules)
t0 = time.perf_counter_ns()
from g4f_flux_plugin._registry import autoload
registered = autoload()
elapsed = time.perf_counter_ns() - t0
print(json.dumps({"ns": elapsed, "registered": [c.__name__ for c in registered],
                  "provider_module_loaded": "g4f_flux_plugin.providers" in sys.modules,
                  "imported": len(set(sys.modules) - before)}))
"""

_IMPORT_PROBE = r"""
import json, sys, time
t0 = time.perf_counter_ns()
import g4f
t1 = time.perf_counter_ns()
import g4f_flux_plugin
t2 = time.perf_counter_ns()
import g4f_flux_plugin.providers
t3 = time.perf_counter_ns()
print(json.dumps({"g4f_ns": t1 - t0, "package_ns": t2 - t1, "providers_ns": t3 - t2}))
"""


# Byte-code caches for the start-up runs, outside the repository: an
# installed package has its .pyc files, and a PYTHONDONTWRITEBYTECODE=1 in the
# environment would otherwise make every run compile the plugin from source.
_PYCACHE: str | None = None


def _env(hook: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(NO_AUTOLOAD, None)
    if not hook:
        env[NO_AUTOLOAD] = "1"
    for name in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    if _PYCACHE:
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    return env


def _wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   cwd=tempfile.gettempdir())
    return (time.perf_counter() - start) * 1000


def _json_run(argv: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    return json.loads(out.stdout.strip().splitlines()[-1])


def importtime_us(stderr: str, wanted: Callable[[str], bool]) -> list[int]:
    """Cumulative ``-X importtime`` µs of the outermost imports whose name is ``wanted``.

    importtime prints each module after its children, indented by depth; a
    stack rebuilds the tree so that nested matches are not counted twice.
    """
    stack: list[tuple[int, str, int, list]] = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if not match:
            continue
        depth, name, cumulative = len(match.group(3)), match.group(4), int(match.group(2))
        children = []
        while stack and stack[-1][0] > depth:
            children.append(stack.pop())
        stack.append((depth, name, cumulative, children))
    found = []
    pending = list(stack)
    while pending:
        _depth, name, cumulative, children = pending.pop()
        if wanted(name):
            found.append(cumulative)
        else:
            pending.extend(children)
    return found


def plugin_importtime_us(stderr: str, prefix: str = "g4f_flux_plugin") -> int:
    """Sum of the cumulative import time of the outermost modules of package ``prefix``."""
    return sum(importtime_us(stderr, lambda name: name == prefix or name.startswith(prefix + ".")))


def _importtime(code: str, env: dict[str, str]) -> tuple[int, int]:
    """(plugin modules' cumulative import µs, g4f's) in a fresh ``-X importtime`` run."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env,
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return plugin_importtime_us(out.stderr), plugin_importtime_us(out.stderr, "g4f")


@dataclass
class StartupResult:
    walls: dict[str, Dist]
    notes: list[str]
    hook_file: str | None
    hook_cold_us: Dist | None = None
    hook_warm_ns: float | None = None
    hook_imports: list[str] = field(default_factory=list)
    hook_installed: list[str] = field(default_factory=list)
    hook_importtime_us: Dist | None = None
    distutils_hack_us: Dist | None = None
    hook_imports_g4f: bool | None = None
    autoload_ms: Dist | None = None
    autoload_info: dict = field(default_factory=dict)
    import_ms: dict[str, Dist] = field(default_factory=dict)
    importtime_us: dict[str, Dist] = field(default_factory=dict)
    cli: str | None = None


def bench_startup(plan: Plan) -> StartupResult:
    global _PYCACHE
    _PYCACHE = tempfile.mkdtemp(prefix="g4f-flux-bench-pycache-")
    try:
        return _bench_startup(plan)
    finally:
        shutil.rmtree(_PYCACHE, ignore_errors=True)
        _PYCACHE = None


def _bench_startup(plan: Plan) -> StartupResult:
    py = sys.executable
    hook_file, hook, _editable = hook_lines()
    cli = _bin("g4f-flux")
    variants: list[tuple[str, list[str], bool]] = [
        ("python -c pass (hook off)", [py, "-c", "pass"], False),
        ("python -c pass (hook on)", [py, "-c", "pass"], True),
        ("python -c 'import g4f' (hook off)", [py, "-c", "import g4f"], False),
        ("python -c 'import g4f' (hook on)", [py, "-c", "import g4f"], True),
        ("python -c 'import g4f, g4f_flux_plugin.providers' (hook off)",
         [py, "-c", "import g4f, g4f_flux_plugin.providers"], False),
    ]
    if cli:
        variants.append(("g4f-flux --help", [cli, "--help"], True))
    walls = {label: Dist([]) for label, _, _ in variants}
    result = StartupResult(walls=walls, notes=[], hook_file=hook_file, cli=cli and "g4f-flux")
    for label, argv, env in variants:  # warm the OS caches and write the byte-code once
        _wall(argv, _env(env))
    _wall([py, "-c", "import g4f, g4f_flux_plugin.providers, g4f_flux_plugin._registry"], _env(True))
    for run in range(plan.startup_runs):
        shift = run % len(variants)
        for label, argv, env in variants[shift:] + variants[:shift]:
            walls[label].values.append(_wall(argv, _env(env)))

    # Import costs measured inside fresh processes (hook off: the plugin is imported explicitly).
    result.import_ms = {k: Dist([]) for k in ("g4f", "package", "providers")}
    result.importtime_us = {k: Dist([]) for k in ("providers after g4f", "hook on import g4f", "g4f")}
    result.autoload_ms = Dist([])
    for _ in range(plan.probe_runs):
        probe = _json_run([py, "-c", _IMPORT_PROBE], _env(False))
        result.import_ms["g4f"].values.append(probe["g4f_ns"] / 1e6)
        result.import_ms["package"].values.append(probe["package_ns"] / 1e6)
        result.import_ms["providers"].values.append(probe["providers_ns"] / 1e6)
        plugin_us, g4f_us = _importtime("import g4f; import g4f_flux_plugin.providers", _env(False))
        result.importtime_us["providers after g4f"].values.append(plugin_us)
        result.importtime_us["g4f"].values.append(g4f_us)
        plugin_us, _ = _importtime("import g4f", _env(True))
        result.importtime_us["hook on import g4f"].values.append(plugin_us)
        try:
            probe = _json_run([py, "-c", _AUTOLOAD_PROBE], _env(False))
            result.autoload_ms.values.append(probe["ns"] / 1e6)
            result.autoload_info = probe
        except (subprocess.CalledProcessError, ValueError) as error:
            result.notes.append(f"autoload probe failed: {error}")
            result.autoload_ms = None
            break

    if hook:
        code = _HOOK_PROBE.replace("ENV", repr(NO_AUTOLOAD)).replace("HOOK", repr(hook))
        result.hook_cold_us = Dist([])
        warm = []
        for _ in range(plan.hook_runs):
            probe = _json_run([py, "-c", code], _env(False))
            result.hook_cold_us.values.append(probe["cold_ns"] / 1000)
            if probe["warm_ns"] is not None:
                warm.append(probe["warm_ns"])
            result.hook_imports = probe["imported"]
            result.hook_installed = probe["installed"]
            result.hook_imports_g4f = probe["g4f"]
        result.hook_warm_ns = statistics.median(warm) if warm else None
        # The same module's import as -X importtime sees it during a normal
        # start-up, beside setuptools' own .pth hook for scale.
        result.hook_importtime_us = Dist([])
        result.distutils_hack_us = Dist([])
        for _ in range(plan.hook_runs):
            out = subprocess.run([py, "-X", "importtime", "-c", "pass"], env=_env(True), capture_output=True,
                                 text=True, check=True, cwd=tempfile.gettempdir())
            result.hook_importtime_us.values.append(
                sum(importtime_us(out.stderr, lambda name: name in result.hook_imports)))
            result.distutils_hack_us.values.append(
                sum(importtime_us(out.stderr, lambda name: name == "_distutils_hack")))
    return result


# --------------------------------------------------------------------------
# SSE decoding


# Every queue/data message of the project's Gradio 6.31 captures 07, 08 and 10
# (queued jobs, progress, gr.Error and plain exceptions, toasts, a generator,
# heartbeats), verbatim and in the order they were sent.
RECORDED_QUEUE_MESSAGES = r"""
{"msg":"estimation","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","rank":0,"queue_size":1,"rank_eta":0.6123877763748169}
{"msg":"process_starts","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","eta":0.6123877763748169}
{"msg":"progress","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","progress_data":[{"index":0,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"estimation","event_id":"d068462bfd7943759efe092b8fd0c63a","rank":0,"queue_size":1,"rank_eta":1.099591851234436}
{"msg":"estimation","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","rank":1,"queue_size":2,"rank_eta":1.7018663883209229}
{"msg":"progress","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","progress_data":[{"index":1,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","progress_data":[{"index":2,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"process_completed","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","output":{"data":[{"path":"/tmp/gradio/781bac4ee98e4f2682d51a2b546c50bdf811c344e5fe956b6b66a08d41a3a1bc/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/781bac4ee98e4f2682d51a2b546c50bdf811c344e5fe956b6b66a08d41a3a1bc/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":0.6059010028839111,"average_duration":0.4436396598815918,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.6059010028839111,"avg_time":0.4436396598815918}
{"msg":"estimation","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","rank":0,"queue_size":1,"rank_eta":1.223539193471273}
{"msg":"process_starts","event_id":"d068462bfd7943759efe092b8fd0c63a","eta":0.6117776234944662}
{"msg":"progress","event_id":"d068462bfd7943759efe092b8fd0c63a","progress_data":[{"index":0,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"d068462bfd7943759efe092b8fd0c63a","progress_data":[{"index":1,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"d068462bfd7943759efe092b8fd0c63a","progress_data":[{"index":2,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"process_completed","event_id":"d068462bfd7943759efe092b8fd0c63a","output":{"data":[{"path":"/tmp/gradio/c538daf0960fb70718327883c7bc9178ad6aceeac7672fa5cd63ff18048ad8d0/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/c538daf0960fb70718327883c7bc9178ad6aceeac7672fa5cd63ff18048ad8d0/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},2],"is_generating":false,"duration":0.6019954681396484,"average_duration":0.4700322945912679,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.6019954681396484,"avg_time":0.4700322945912679}
{"msg":"process_starts","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","eta":0.6115366816520691}
{"msg":"progress","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","progress_data":[{"index":0,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","progress_data":[{"index":1,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","progress_data":[{"index":2,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"process_completed","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","output":{"data":[{"path":"/tmp/gradio/3af8a6d1daafd4464681fdcfe7103ec052d5047a592eefff7a9f28b0f4718620/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/3af8a6d1daafd4464681fdcfe7103ec052d5047a592eefff7a9f28b0f4718620/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},3],"is_generating":false,"duration":0.602092981338501,"average_duration":0.48889810698372976,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.602092981338501,"avg_time":0.48889810698372976}
{"msg":"close_stream","event_id":null}
{"msg":"estimation","event_id":"3c7eaff60c464098bfcd720ed9a834a0","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"3c7eaff60c464098bfcd720ed9a834a0","eta":null}
{"msg":"estimation","event_id":"ec1ef5e969bd4580bb622a1a55b329d9","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"ec1ef5e969bd4580bb622a1a55b329d9","eta":null}
{"msg":"estimation","event_id":"98afe83afbc44e6caea148853af295de","rank":0,"queue_size":1,"rank_eta":0.20810914039611816}
{"msg":"process_starts","event_id":"98afe83afbc44e6caea148853af295de","eta":0.20810914039611816}
{"msg":"log","event_id":"98afe83afbc44e6caea148853af295de","log":"Waiting for a GPU to become available","level":"info","duration":10.0,"visible":true,"title":"ZeroGPU queue"}
{"msg":"estimation","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","rank":0,"queue_size":1,"rank_eta":0.6158504486083984}
{"msg":"process_starts","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","eta":0.6158504486083984}
{"msg":"process_completed","event_id":"3c7eaff60c464098bfcd720ed9a834a0","output":{"error":"You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. ","duration":10,"visible":true,"title":"ZeroGPU quota exceeded"},"success":false,"title":"ZeroGPU quota exceeded","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"process_completed","event_id":"ec1ef5e969bd4580bb622a1a55b329d9","output":{"error":null},"success":false,"title":"Error","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"log","event_id":"98afe83afbc44e6caea148853af295de","log":"GPU task is exceeding its requested duration and might be aborted","level":"warning","duration":10.0,"visible":true,"title":"ZeroGPU duration"}
{"msg":"process_completed","event_id":"98afe83afbc44e6caea148853af295de","output":{"data":[{"path":"/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":0.20074200630187988,"average_duration":0.2008293867111206,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.20074200630187988,"avg_time":0.2008293867111206}
{"msg":"process_generating","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","output":{"data":[{"path":"/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":true,"duration":0.20071887969970703,"average_duration":0.16067986488342284,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"time_limit":null}
{"msg":"process_generating","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","output":{"data":[[["replace",["path"],"/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp"],["replace",["url"],"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp"]],[]],"is_generating":true,"duration":0.20081233978271484,"average_duration":0.16736861069997153,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"time_limit":null}
{"msg":"process_completed","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","output":{"data":[{"path":"/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":0.0006139278411865234,"average_duration":0.14354651314871653,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.0006139278411865234,"avg_time":0.14354651314871653}
{"msg":"close_stream","event_id":null}
{"msg":"estimation","event_id":"9b797172e9cc493b874cef9f10b9ceb5","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"9b797172e9cc493b874cef9f10b9ceb5","eta":null}
{"msg":"estimation","event_id":"f05d9af9b0f64d97858f66b1af3fcee1","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"f05d9af9b0f64d97858f66b1af3fcee1","eta":null}
{"msg":"process_completed","event_id":"9b797172e9cc493b874cef9f10b9ceb5","output":{"error":"You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. ","duration":10,"visible":true,"title":"ZeroGPU quota exceeded"},"success":false,"title":"ZeroGPU quota exceeded","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"process_completed","event_id":"f05d9af9b0f64d97858f66b1af3fcee1","output":{"error":"CUDA out of memory (simulated plain exception)","visible":true},"success":false,"title":"Error","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"close_stream","event_id":null}
{"msg":"estimation","event_id":"63e48e0fc9ae4db18c6c4997d048307f","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"63e48e0fc9ae4db18c6c4997d048307f","eta":null}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":0,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":1,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":2,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"heartbeat","event_id":null}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":16,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[]}
{"msg":"process_completed","event_id":"63e48e0fc9ae4db18c6c4997d048307f","output":{"data":[{"path":"/tmp/gradio/cac1dffc30bd3a1aa67152924d038b0c1f1e9529c507768854e7bc107f0fb5c8/image.webp","url":"http://127.0.0.1:7862/gradio_api/file=/tmp/gradio/cac1dffc30bd3a1aa67152924d038b0c1f1e9529c507768854e7bc107f0fb5c8/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":17.007033824920654,"average_duration":17.007033824920654,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":17.007033824920654,"avg_time":17.007033824920654}
{"msg":"close_stream","event_id":null}
"""


def recorded_messages() -> list[str]:
    """The recorded queue/data messages (JSON text), in order."""
    return [line for line in RECORDED_QUEUE_MESSAGES.strip().splitlines() if line]


def build_stream(target_bytes: int) -> bytes:
    """A Gradio queue/data event stream of at least ``target_bytes``: the recorded messages, repeated."""
    block = "".join(f"data: {message}\n\n" for message in recorded_messages()).encode()
    return block * max(1, -(-target_bytes // len(block)))


def decode_ours(stream: bytes, chunk: int) -> int:
    from g4f_flux_plugin._sse import SSEDecoder

    decoder = SSEDecoder(max_line_bytes=max(1 << 20, len(stream) + 1),
                         max_event_bytes=max(1 << 20, len(stream) + 1))
    count = 0
    feed = decoder.feed
    for start in range(0, len(stream), chunk):
        count += len(feed(stream[start:start + chunk]))
    decoder.close()
    return count


def decode_httpx_sse(stream: bytes, chunk: int) -> int:
    # httpx-sse's own pipeline: httpx's incremental UTF-8 text decoding, its
    # SSE line splitter (CR, LF, CRLF across chunks), then its decoder.
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text = codecs.getincrementaldecoder("utf-8")("replace")
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    count = 0
    for start in range(0, len(stream), chunk):
        piece = text.decode(stream[start:start + chunk])
        if not piece:
            continue
        for line in lines.decode(piece):
            if decoder.decode(line.rstrip("\n")) is not None:
                count += 1
    for line in lines.flush():
        if decoder.decode(line) is not None:
            count += 1
    return count


def decode_naive(stream: bytes, chunk: int) -> int:
    # What many clients do: buffer, split on a blank line, take "data: ".
    buffer = b""
    count = 0
    for start in range(0, len(stream), chunk):
        buffer += stream[start:start + chunk]
        *blocks, buffer = buffer.split(b"\n\n")
        for block in blocks:
            if block.startswith(b"data: "):
                block[6:].decode()
                count += 1
    return count


OURS = "g4f_flux_plugin._sse"
HTTPX_SSE = "httpx-sse (SSELineDecoder + SSEDecoder)"


def decoders() -> dict[str, Callable[[bytes, int], int]]:
    found = {OURS: decode_ours}
    if available("httpx_sse"):
        found[HTTPX_SSE] = decode_httpx_sse
    found["naive split(b'\\n\\n')"] = decode_naive
    return found


@dataclass
class SSEResult:
    stream_bytes: int
    events: int
    mbps: dict[tuple[str, str], Dist]
    linearity: dict[str, tuple[Dist, Dist]]
    linearity_sizes: dict[str, tuple[int, int]]


def _mbps(function: Callable[[bytes, int], int], stream: bytes, chunk: int) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    count = function(stream, chunk)
    return len(stream) / (time.perf_counter() - start) / 1e6, count


def bench_sse(plan: Plan) -> SSEResult:
    stream = build_stream(int(plan.sse_mb * 1e6))
    small_stream = stream[: plan.sse_byte_kb * 1000]
    small_stream = small_stream[: small_stream.rfind(b"\n\n") + 2]
    cases = [("64 KiB chunks", 65536, stream), (f"byte at a time ({plan.sse_byte_kb} kB)", 1, small_stream)]
    expected = {id(s): decode_ours(s, 65536) for _, _, s in cases}
    functions = decoders()
    mbps: dict[tuple[str, str], Dist] = {(name, label): Dist([]) for name in functions for label, _, _ in cases}
    for rep in range(plan.sse_reps):
        names = list(functions)
        shift = rep % len(names)
        for label, chunk, data in cases:
            for name in names[shift:] + names[:shift]:
                rate, count = _mbps(functions[name], data, chunk)
                if count != expected[id(data)]:
                    raise RuntimeError(f"{name} decoded {count} events, expected {expected[id(data)]}")
                mbps[(name, label)].values.append(rate)

    # Linearity: byte-at-a-time throughput on a 10x larger input must not drop.
    realistic = build_stream(1_000_000)
    small = realistic[:100_000]
    small = small[: small.rfind(b"\n\n") + 2]
    long_line = lambda n: b"data: " + b"x" * n + b"\n\n"  # noqa: E731 - one event, one huge line
    linearity = {"recorded stream": (Dist([]), Dist([])), "one long data line": (Dist([]), Dist([]))}
    sizes = {"recorded stream": (len(small), len(realistic)), "one long data line": (100_000, 1_000_000)}
    inputs = {"recorded stream": (small, realistic),
              "one long data line": (long_line(100_000), long_line(1_000_000))}
    reps = max(1, plan.sse_reps // 2)
    for _ in range(reps):
        for key, (a, b) in inputs.items():
            linearity[key][0].values.append(_mbps(decode_ours, a, 1)[0])
            linearity[key][1].values.append(_mbps(decode_ours, b, 1)[0])
    return SSEResult(len(stream), expected[id(stream)], mbps, linearity, sizes)


# --------------------------------------------------------------------------
# the report


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"Python": platform.python_version()}
    for dist in ("g4f", "g4f-flux-plugin", "gradio", "gradio_client", "aiohttp", "curl_cffi", "httpx",
                 "httpx-sse"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    info = {"CPU": cpu, "cores": f"{cores} logical ({usable} usable by this process)",
            "OS": f"{platform.system()} {platform.release()}"}
    return info


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


@dataclass
class Target:
    what: str
    target: str
    measured: str
    ratio: float | None
    met: bool | None  # None: not measured

    @property
    def status(self) -> str:
        return "not yet available" if self.met is None else ("met" if self.met else "**missed**")


def _latency_by_name(results: list[LatencyResult]) -> dict[str, LatencyResult]:
    return {r.name: r for r in results}


def compute_targets(lat: list[LatencyResult] | None, tp: list[ThroughputResult] | None,
                    start: StartupResult | None, sse: SSEResult | None) -> list[Target]:
    targets: list[Target] = []
    if lat:
        by = _latency_by_name(lat)
        gc_ms = by["gradio_client"].ms.median if "gradio_client" in by else None
        for name in ("provider aiohttp/queue", "provider aiohttp/call",
                     "provider aiohttp/queue long-lived", "provider aiohttp/call long-lived"):
            protocol = name.split("/")[1].split()[0]
            r = ratio(by[name].ms.median, by[f"floor {protocol}"].ms.median)
            floor = by[f"floor {protocol}"]
            kind = "" if name.endswith("long-lived") else " (session per generation)"
            targets.append(Target(
                f"latency: {name}{kind} vs floor {protocol}", "<= 1.15x",
                f"{fmt(by[name].ms.median, 2)} vs {fmt(floor.ms.median, 2)} ms (client CPU "
                f"{fmt(by[name].cpu_ms.median, 2)} vs {fmt(floor.cpu_ms.median, 2)} ms)",
                r, r is not None and r <= 1.15))
        worst = max((r for r in lat if r.group == "provider"),
                    key=lambda r: ratio(r.ms.median, by[f"floor {r.name.split('/')[1].split()[0]}"].ms.median) or 0)
        protocol = worst.name.split("/")[1].split()[0]
        r = ratio(worst.ms.median, by[f"floor {protocol}"].ms.median)
        targets.append(Target(f"latency: worst provider configuration ({worst.name}) vs floor {protocol}",
                              "<= 1.15x", f"{fmt(worst.ms.median)} ms", r, r is not None and r <= 1.15))
        for name in ("provider aiohttp/queue", "provider aiohttp/call"):
            r = ratio(by[name].ms.median, gc_ms)
            targets.append(Target(f"latency: {name} vs gradio_client", "< 0.3x",
                                  f"{fmt(by[name].ms.median)} ms vs {fmt(gc_ms)} ms", r,
                                  None if r is None else r < 0.3))
    if tp:
        top = max(r.level for r in tp)
        at = {r.name: r for r in tp if r.level == top}
        for name in ("provider aiohttp/queue", "provider aiohttp/call",
                     "provider aiohttp/queue long-lived", "provider aiohttp/call long-lived"):
            if name not in at:
                continue
            protocol = name.split("/")[1].split()[0]
            floor = at[f"floor {protocol}"]
            r = ratio(at[name].rate.median, floor.rate.median)
            targets.append(Target(f"throughput, {top} at a time: {name} vs floor {protocol}", ">= 0.9x",
                                  f"{fmt(at[name].rate.median)} vs {fmt(floor.rate.median)} gen/s (client CPU "
                                  f"{fmt(at[name].client_cpu_ms.median, 2)} vs {fmt(floor.client_cpu_ms.median, 2)} ms/gen)",
                                  r, r is not None and r >= 0.9))
    if start:
        limit = 15.0
        if start.autoload_ms is not None and start.autoload_ms.values:
            ms = start.autoload_ms.median
            targets.append(Target("import g4f: the start-up hook's work when g4f is imported (autoload(), in-process)",
                                  "< 15 ms", f"{fmt(ms, 2)} ms", ms / limit, ms < limit))
        else:
            targets.append(Target("import g4f: the start-up hook's work (g4f_flux_plugin._registry.autoload)",
                                  "< 15 ms", "not yet available", None, None))
        us = start.importtime_us["providers after g4f"].median
        targets.append(Target("import g4f_flux_plugin.providers after import g4f (-X importtime cumulative)",
                              "< 15 ms", f"{fmt(us / 1000, 2)} ms", us / 1000 / limit, us / 1000 < limit))
        if start.hook_cold_us is not None:
            us = start.hook_cold_us.median
            targets.append(Target("start-up hook in a process that never imports g4f (first run of its .pth line: import + install)",
                                  "< 1 ms", f"{fmt(us / 1000, 3)} ms", us / 1000, us < 1000))
        else:
            targets.append(Target("start-up hook in a process that never imports g4f", "< 1 ms",
                                  "not yet available", None, None))
    if sse:
        ours = sse.mbps[(OURS, "64 KiB chunks")].median
        if (HTTPX_SSE, "64 KiB chunks") in sse.mbps:
            theirs = sse.mbps[(HTTPX_SSE, "64 KiB chunks")].median
            r = ratio(ours, theirs)
            targets.append(Target("SSE decoder vs httpx-sse, 64 KiB chunks", ">= 1.0x",
                                  f"{fmt(ours)} vs {fmt(theirs)} MB/s", r, r is not None and r >= 1.0))
        else:
            targets.append(Target("SSE decoder vs httpx-sse, 64 KiB chunks", ">= 1.0x",
                                  "httpx-sse not installed", None, None))
        for key, (small, large) in sse.linearity.items():
            r = ratio(large.median, small.median)
            a, b = sse.linearity_sizes[key]
            targets.append(Target(f"SSE decoder linear byte at a time ({key}): MB/s at {b // 1000} kB / at {a // 1000} kB",
                                  ">= 0.8x", f"{fmt(large.median, 2)} vs {fmt(small.median, 2)} MB/s", r,
                                  r is not None and r >= 0.8))
    return targets


def reading_notes(lat: list[LatencyResult] | None, tp: list[ThroughputResult] | None) -> list[str]:
    notes = []
    if lat:
        by = _latency_by_name(lat)
        floor = by.get("floor queue")
        if floor is not None:
            notes.append(
                f"The server and the client share this machine's CPUs. The floor's client CPU is "
                f"{fmt(floor.cpu_ms.median, 2)} ms of its {fmt(floor.ms.median, 2)} ms per generation: the rest is "
                "Gradio's queue in the replica, so latency ratios between lean clients stay close to 1 and "
                "differences of a few percent are within the run's noise (see p10/p90). The \"client CPU\" "
                "columns show what each client itself costs.")
    if tp:
        server = statistics.median(v for r in tp for v in r.server_cpu_ms.values)
        notes.append(
            f"Throughput is bounded by the replica: about {fmt(server, 1)} ms of server CPU per generation "
            "(Gradio's queue, on one core). Rates at 1 and 8 at a time come from a single batch each, so they "
            "move with whatever else the machine runs; the 32-at-a-time target uses the median of its batches, "
            "and each floor's batches run right next to those of the aiohttp provider variants compared with it.")
        notes.append(
            "Loopback hides connection set-up costs: over HTTPS to the real Space a session per generation also "
            "pays a TCP and TLS handshake per generation, which the long-lived variant does not.")
    return notes


def render(args: argparse.Namespace, plan: Plan, started: float, lat, tp, mem, start, sse,
           replica_concurrency: int, elapsed: float) -> str:
    out: list[str] = []
    cmd = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    if args.sections != ",".join(SECTIONS):
        cmd += f" --sections {args.sections}"
    out.append("# Benchmarks\n")
    out.append("Generated by `benchmarks/run.py`; do not edit by hand. Every number comes from one run; "
               "compare ratios, not absolute numbers, across machines.\n")
    out.append(f"- Command: `{cmd}`")
    out.append(f"- Date: {datetime.datetime.fromtimestamp(started).astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    out.append(f"- Run time: {elapsed:.0f} s")
    for key, value in machine().items():
        out.append(f"- {key}: {value}")
    out.append(f"- Load average (1, 5, 15 min) at start: {args.load_at_start}; at end: {load_average()} "
               "(other processes on the machine add noise; contenders are interleaved to share it)")
    out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    out.append(f"- Server: `tests/replica.py` (real Gradio, fake model), 0 s per step, {STEPS} step, "
               f"{SIZE}x{SIZE}, queue concurrency limit {replica_concurrency}, on loopback, on the same machine "
               "(it competes with the client for the CPUs)")
    out.append(f"- Plan: {plan}")
    out.append("")

    targets = compute_targets(lat, tp, start, sse)
    out.append("## Targets\n")
    out.append(md_table(["what", "target", "measured", "ratio", "status"],
                        [[t.what, t.target, t.measured, fmt_ratio(t.ratio), t.status] for t in targets]))
    out.append("")
    notes = reading_notes(lat, tp)
    if notes:
        out.append("How to read the network numbers:\n")
        out.extend(f"- {note}" for note in notes)
        out.append("")

    if lat is not None:
        out.append("## Latency: one generation, image download included\n")
        out.append(f"{plan.latency_warmup} warm-up round(s), then {plan.latency_reps} rounds; each round runs every "
                   "contender once, starting from a different one each round. \"session per generation\" is the "
                   "provider's default (`transport=\"aiohttp\"`/`\"curl_cffi\"`: a new session, so a new connection, "
                   "every generation; here the image is downloaded over that same session before it is closed); "
                   "\"long-lived\" passes one transport instance (`AiohttpTransport()`/`CurlCffiTransport()`) "
                   "to every generation, which the provider uses and does not close, so connections are kept "
                   "alive across generations. The floor (`benchmarks/floor.py`) keeps one aiohttp session "
                   "for the whole run. gradio_client: `Client(url)` built once, then `predict(...)`, which "
                   "downloads the file itself (into a temporary directory) before returning. Client CPU is the "
                   "benchmark process's CPU time during the generation. New TCP connections are counted with the "
                   "`socket.connect` audit event, which curl's own sockets do not raise.\n")
        by = _latency_by_name(lat)
        rows = []
        for r in lat:
            protocol = "queue" if r.name == "gradio_client" else r.name.split("/")[-1].split()[0] if "/" in r.name else r.name.split()[-1]
            floor = by.get(f"floor {protocol}")
            gradio = by.get("gradio_client")
            rows.append([r.name, fmt(r.ms.median, 2), fmt(r.ms.p10, 2), fmt(r.ms.p90, 2),
                         fmt_ratio(ratio(r.ms.median, floor.ms.median if floor else None)),
                         fmt_ratio(ratio(r.ms.median, gradio.ms.median if gradio else None)),
                         fmt(r.cpu_ms.median, 2),
                         fmt_ratio(ratio(r.cpu_ms.median, floor.cpu_ms.median if floor else None)),
                         "n/a (C sockets)" if "curl_cffi" in r.name else fmt(r.connects / max(1, len(r.ms)), 2),
                         str(len(r.ms)), str(r.errors)])
        out.append(md_table(["contender", "median ms", "p10", "p90", "vs floor (same protocol)",
                             "vs gradio_client", "client CPU ms", "CPU vs floor", "new TCP connections per generation",
                             "n", "errors"], rows))
        out.append("")

    if tp is not None:
        out.append(f"## Throughput: {plan.tp_total} generations, N at a time\n")
        reps = ", ".join(f"{n} at {level} at a time" for level, n in zip(plan.tp_levels, plan.tp_reps))
        out.append(f"Generations per second (higher is better), median over repetitions ({reps}; contenders "
                   "interleaved, the first one rotating); every contender ran a warm-up batch first. Async contenders run N workers (the same as an `asyncio.Semaphore(N)`); "
                   "gradio_client runs N threads, each `client.submit(...).result()`. CPU columns are per "
                   "generation: the benchmark process (client) and the replica (server). When the server's CPU "
                   "per generation times the rate approaches one core, the server is the bottleneck and the "
                   "rates converge.\n")
        rows = []
        floor_rate = {(r.name, r.level): r.rate.median for r in tp if r.group == "floor"}
        floor_cpu_ms = {(r.name, r.level): r.client_cpu_ms.median for r in tp if r.group == "floor"}
        for r in sorted(tp, key=lambda r: (r.level, r.group != "provider", r.name)):
            protocol = "queue" if r.name == "gradio_client" else r.name.split("/")[-1].split()[0] if "/" in r.name else r.name.split()[-1]
            floor_cpu = floor_cpu_ms.get((f"floor {protocol}", r.level))
            rows.append([str(r.level), r.name, fmt(r.rate.median), fmt(r.rate.p10), fmt(r.rate.p90),
                         fmt_ratio(ratio(r.rate.median, floor_rate.get((f"floor {protocol}", r.level)))),
                         fmt(r.client_cpu_ms.median, 2), fmt_ratio(ratio(r.client_cpu_ms.median, floor_cpu)),
                         fmt(r.server_cpu_ms.median, 2), str(len(r.rate)), str(r.errors)])
        out.append(md_table(["at a time", "contender", "gen/s", "p10", "p90", "vs floor (same protocol)",
                             "client CPU ms/gen", "CPU vs floor", "server CPU ms/gen", "n", "errors"], rows))
        out.append("")

    if mem is not None:
        out.append(f"## Memory: {plan.mem_concurrency} generations at a time\n")
        out.append("Each contender in a fresh interpreter: one generation to warm up (imports, the provider's "
                   "config cache, connections), then batches of "
                   f"{plan.mem_concurrency} concurrent generations. RSS delta: peak RSS during the batch (VmHWM, "
                   "reset before it) minus RSS before it, for the first batch and the median of all. "
                   "tracemalloc peak: Python allocations traced from the batch's start (median); it does not see "
                   "memory that C libraries (curl) allocate, the RSS columns do.\n")
        rows = []
        floor_peak = {m["name"]: statistics.median(m["tracemalloc_peak_kib"]) for m in mem
                      if m["name"].startswith("floor") and "error" not in m}
        for m in mem:
            if "error" in m:
                rows.append([m["name"], "error", "", "", "", "", m["error"][0][:80]])
                continue
            peak = statistics.median(m["tracemalloc_peak_kib"])
            protocol = m["name"].split("/")[-1].split()[0] if "/" in m["name"] else m["name"].split()[-1]
            rows.append([m["name"], fmt(m["rss_delta_kib"][0], 0), fmt(statistics.median(m["rss_delta_kib"]), 0),
                         fmt(peak, 0), fmt_ratio(ratio(peak, floor_peak.get(f"floor {protocol}"))),
                         fmt(m["rss_kib"] / 1024, 1), ""])
        out.append(md_table(["contender", "RSS delta KiB (first)", "RSS delta KiB (median)", "tracemalloc peak KiB",
                             "peak vs floor", "process RSS MiB after", "note"], rows))
        out.append("")

    if start is not None:
        out.append("## Start-up\n")
        out.append(f"Fresh interpreters, {plan.startup_runs} runs each, interleaved; wall time of the whole "
                   f"process. \"hook off\" sets `{NO_AUTOLOAD}=1`.\n")
        base = start.walls["python -c 'import g4f' (hook off)"].median
        rows = [[f"`{label}`", fmt(d.median), fmt(d.p10), fmt(d.p90), fmt_ratio(ratio(d.median, base))]
                for label, d in start.walls.items()]
        if not start.cli:
            rows.append(["`g4f-flux --help`", "not yet available", "", "", ""])
        out.append(md_table(["command", "median ms", "p10", "p90", "vs import g4f (hook off)"], rows))
        out.append("")
        out.append(f"Measured inside fresh interpreters (median of {plan.probe_runs}; the hook probe "
                   f"{plan.hook_runs}):\n")
        rows = [
            ["`import g4f` (perf_counter)", f"{fmt(start.import_ms['g4f'].median)} ms"],
            ["then `import g4f_flux_plugin` (perf_counter)", f"{fmt(start.import_ms['package'].median, 3)} ms"],
            ["then `import g4f_flux_plugin.providers` (perf_counter)", f"{fmt(start.import_ms['providers'].median, 2)} ms"],
            ["plugin modules' cumulative `-X importtime`, `import g4f; import g4f_flux_plugin.providers`",
             f"{fmt(start.importtime_us['providers after g4f'].median / 1000, 2)} ms"],
            ["g4f's cumulative `-X importtime` (same runs)", f"{fmt(start.importtime_us['g4f'].median / 1000)} ms"],
            ["plugin modules' cumulative `-X importtime`, `import g4f` with the hook on",
             f"{fmt(start.importtime_us['hook on import g4f'].median / 1000, 2)} ms"],
        ]
        if start.autoload_ms is not None and start.autoload_ms.values:
            info = start.autoload_info
            rows.append(["the hook's work on `import g4f`: `g4f_flux_plugin._registry.autoload()` after "
                         "`import g4f` (perf_counter, imports included)",
                         f"{fmt(start.autoload_ms.median, 2)} ms (p10 {fmt(start.autoload_ms.p10, 2)}, "
                         f"p90 {fmt(start.autoload_ms.p90, 2)}); registered {', '.join(info.get('registered', [])) or 'nothing'}; "
                         f"provider module imported: {'yes' if info.get('provider_module_loaded') else 'no'}"])
        else:
            rows.append(["the hook's work on `import g4f` (`g4f_flux_plugin._registry.autoload`)",
                         "not yet available"])
        if start.hook_cold_us is not None:
            rows.append([f"start-up hook (`{start.hook_file}`): first run of its line, timed in a process "
                         "where site ran with the hook off (perf_counter_ns; module import and install included)",
                         f"{fmt(start.hook_cold_us.median, 1)} µs (p10 {fmt(start.hook_cold_us.p10, 1)}, "
                         f"p90 {fmt(start.hook_cold_us.p90, 1)}), {len(start.hook_cold_us)} processes"])
            if start.hook_warm_ns is not None:
                rows.append([f"`{start.hook_imports[0] if start.hook_imports else 'the hook'}.install()` called again (per call)",
                             f"{fmt(start.hook_warm_ns, 0)} ns"])
            rows.append(["modules the hook imports in a process without g4f",
                         ", ".join(f"`{m}`" for m in start.hook_imports) or "none"])
            rows.append(["what it adds to `sys.meta_path`",
                         ", ".join(f"`{m}`" for m in start.hook_installed) or "nothing"])
            if start.hook_importtime_us is not None:
                rows.append(["`-X importtime` of those modules during a normal `python -c pass` (hook on)",
                             f"{fmt(start.hook_importtime_us.median, 0)} µs; setuptools' `_distutils_hack` .pth "
                             f"hook, for scale: {fmt(start.distutils_hack_us.median, 0)} µs"])
            rows.append(["does the hook import g4f?", "yes" if start.hook_imports_g4f else "no"])
        else:
            rows.append(["start-up hook (.pth in site-packages)", "not yet available"])
        out.append(md_table(["measurement", "value"], rows))
        for note in start.notes:
            out.append(f"\n- {note}")
        out.append("")

    if sse is not None:
        out.append("## SSE decoding\n")
        out.append(f"A Gradio queue/data stream of {sse.stream_bytes / 1e6:.2f} MB ({sse.events:,} events): "
                   "the messages recorded from Gradio 6.31 (queue jobs, progress, errors, logs, heartbeats), "
                   "repeated. Every decoder must return the same number of events. httpx-sse is fed the way "
                   "its `aiter_sse` feeds it: incremental UTF-8 decoding, its `SSELineDecoder`, then its "
                   f"`SSEDecoder`. Median of {plan.sse_reps} runs, MB/s (higher is better).\n")
        labels = sorted({label for _, label in sse.mbps}, key=lambda s: not s.startswith("64"))
        ours = {label: sse.mbps[(OURS, label)].median for label in labels}
        rows = []
        for name in sorted({name for name, _ in sse.mbps}, key=list(decoders()).index):
            row = [name]
            for label in labels:
                d = sse.mbps[(name, label)]
                row += [f"{fmt(d.median, 2)} ({fmt(d.p10, 2)}–{fmt(d.p90, 2)})", fmt_ratio(ratio(d.median, ours[label]))]
            rows.append(row)
        header = ["decoder"]
        for label in labels:
            header += [f"{label} MB/s (p10–p90)", "vs ours"]
        out.append(md_table(header, rows))
        out.append("")
        out.append("Linearity of `g4f_flux_plugin._sse` fed one byte at a time (a quadratic buffer would make the "
                   "larger input much slower per byte):\n")
        rows = []
        for key, (small, large) in sse.linearity.items():
            a, b = sse.linearity_sizes[key]
            rows.append([key, f"{fmt(small.median, 2)} MB/s at {a / 1000:.0f} kB",
                         f"{fmt(large.median, 2)} MB/s at {b / 1000:.0f} kB",
                         fmt_ratio(ratio(large.median, small.median))])
        out.append(md_table(["input", "small", "large", "large / small"], rows))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------
# main

SECTIONS = ("latency", "throughput", "memory", "startup", "sse")


async def network_sections(replica: Replica, plan: Plan, sections: set[str], seeds: Seeds):
    lat = tp = None
    count_connections()
    contenders = latency_contenders(replica.url)
    for contender in contenders:
        await contender.setup()
    try:
        if "latency" in sections:
            log(f"latency: {len(contenders)} contenders, {plan.latency_reps} rounds")
            lat = await bench_latency(contenders, plan, seeds)
        if "throughput" in sections:
            by_name = {c.name: c for c in contenders}
            chosen = [by_name[c.name] for c in throughput_contenders(replica.url)]
            tp = await bench_throughput(chosen, plan, seeds, replica)
    finally:
        for contender in contenders:
            await contender.aclose()
    return lat, tp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test): fewer generations and reps")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to write")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {', '.join(SECTIONS)}")
    parser.add_argument("--worker", choices=["memory"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--at-once", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # gradio_client (and the replica's gradio) phone home at import and
    # start-up; this benchmark runs offline, on loopback.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    if args.worker == "memory":
        print(json.dumps(asyncio.run(memory_worker(args.url, args.contender, args.at_once, args.reps))))
        return 0

    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    plan = QUICK if args.quick else FULL
    started = time.time()
    args.load_at_start = load_average()
    t0 = time.perf_counter()
    lat = tp = mem = start = sse = None
    seeds = Seeds()

    if sections & {"latency", "throughput", "memory"}:
        log("starting the replica")
        replica = Replica(plan.replica_concurrency).start()
        log(f"replica at {replica.url}")
        try:
            if sections & {"latency", "throughput"}:
                lat, tp = asyncio.run(network_sections(replica, plan, sections, seeds))
            if "memory" in sections:
                mem = bench_memory(replica.url, plan)
        finally:
            replica.stop()
    # The CPU-bound sections run with the replica stopped.
    if "startup" in sections:
        log("start-up")
        start = bench_startup(plan)
    if "sse" in sections:
        log("SSE decoding")
        sse = bench_sse(plan)

    elapsed = time.perf_counter() - t0
    report = render(args, plan, started, lat, tp, mem, start, sse, plan.replica_concurrency, elapsed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    log(f"wrote {args.output} in {elapsed:.0f} s")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
