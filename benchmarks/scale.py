"""Scale: N generations asked at once, against a server that runs one job at a time.

The server is ``queue_server.py`` (a canned Gradio 6 queue, the real
replica's ``/config``), not the replica: see its docstring for why. Each
contender runs in a fresh interpreter (the worker, this file as a script),
per N:

1. one generation to warm up (imports, discovery, the first connection);
2. the server is put on hold (no job starts), and the worker asks for N
   generations at once;
3. the time until all N are in the server's queue, joined and listening,
   from the server's record (wall clock of the one machine), bounded;
4. while nothing moves: RSS and descriptors per waiting generation, and the
   CPU the worker spends over ``IDLE_S`` seconds of waiting (from
   ``SETTLE_S`` after all are queued);
5. the server is released (``JOB_MS`` per job, one at a time); each
   generation's image URL reaching the caller is stamped, and the server's
   job end is subtracted (median and p99); CPU per generation is the
   worker's CPU from asking to the last image, over N.

The worker raises its own soft ``RLIMIT_NOFILE`` to its hard limit (at most
65,536) and reports both. Its last line of output is its result as JSON.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # a worker: the sibling modules are imported from here
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    HERE,
    ROOT,
    Plan,
    Seeds,
    available,
    log,
    proc_status_kib,
    raise_descriptor_limit,
    transports,
)
from report import Target, md_table
from stats import fmt, quantile

JOB_MS = 5.0
IDLE_S = 3.0
SETTLE_S = 1.0  # after all are queued, before the idle window: the last answers are still being read
QUEUED_BOUND_S = 20.0  # the longest the worker waits for all N to be queued while the server holds
STALL_S = 3.0  # ... or for the queued count to move at all (gradio_client's 40 threads stop at 40)
ALL_QUEUED_TARGET_S = 2.0
RSS_TARGET_KIB = 40.0
TARGET_N = 1000


def contender_names() -> list[str]:
    """The provider on the default path per transport, the floor (over aiohttp,
    and over curl_cffi as the curl_cffi transport sets it up), gradio_client."""
    kinds = transports()
    names = [f"provider default {kind}" for kind in kinds] + ["floor queue"]
    names += ["floor queue curl_cffi"] if "curl_cffi" in kinds else []
    return names + (["gradio_client"] if available("gradio_client") else [])


# -- the worker (a fresh interpreter per contender and N) ------------------------------


def _rss_kib() -> int:
    return proc_status_kib("VmRSS")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _control(url: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _make(url: str, name: str) -> Any:
    from contenders import FloorContender, GradioClientContender, ProviderContender

    if name.startswith("provider default "):
        # The default path: no transport passed, the kind from the environment,
        # as g4f (which passes none) would use it.
        os.environ["G4F_FLUX_TRANSPORT"] = name.rsplit(" ", 1)[1]
        return ProviderContender(url, None, None, False, name=name)
    if name == "floor queue":
        return FloorContender(url, "queue")
    if name == "floor queue curl_cffi":
        return FloorContender(url, "queue", over="curl_cffi")
    return GradioClientContender(url, download=False)


async def _ask_all(contender: Any, seeds: list[int], done: dict[int, float], errors: list[str]) -> list[Any]:
    """Start every generation now; each stamps ``done[seed]`` when its image URL arrives."""

    def failed(error: BaseException) -> None:
        errors.append(f"{type(error).__name__}: {error}"[:200])

    if contender.blocking:
        # gradio_client: submit() hands each job to the Client's own thread pool.
        futures = []
        for seed in seeds:
            job = contender.submit(seed)

            def stamp(future: Any, seed: int = seed) -> None:
                if future.exception() is not None:
                    failed(future.exception())
                else:
                    done[seed] = time.time()

            job.add_done_callback(stamp)
            futures.append(asyncio.wrap_future(job))
        return futures

    async def one(seed: int) -> None:
        try:
            await contender.image_url(seed)
            done[seed] = time.time()
        except Exception as error:
            failed(error)

    return [asyncio.ensure_future(one(seed)) for seed in seeds]


async def _wait_queued(url: str, count: int) -> tuple[int, bool]:
    """Poll the server's status until ``count`` jobs are joined and listening (bounded)."""
    deadline = time.monotonic() + QUEUED_BOUND_S
    last, last_change = -1, time.monotonic()
    while True:
        status = await asyncio.to_thread(_control, url, "/_bench/status")
        queued = min(status["joined"], status["streaming"])
        if queued >= count:
            return queued, True
        if queued != last:
            last, last_change = queued, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > STALL_S:
            return queued, False
        await asyncio.sleep(0.1)


async def worker(url: str, name: str, count: int) -> dict[str, Any]:
    """In this (fresh) process: the measurements of one contender at one N."""
    soft_before, soft_now = raise_descriptor_limit()
    contender = _make(url, name)
    await contender.setup()
    seeds = Seeds(start=10_000_000 + os.getpid() * 10_000)
    result: dict[str, Any] = {"name": name, "n": count, "nofile": [soft_before, soft_now]}
    try:
        await asyncio.to_thread(_control, url, "/_bench/release", "POST")
        await contender.image_url(seeds())  # warm
        await asyncio.to_thread(_control, url, "/_bench/hold", "POST")
        await asyncio.to_thread(_control, url, "/_bench/reset", "POST")
        gc.collect()
        base_rss, base_fds = _rss_kib(), _fds()
        batch = [seeds() for _ in range(count)]
        done: dict[int, float] = {}
        errors: list[str] = []
        cpu_start = _cpu_s()
        asked_at = time.time()
        tasks = await _ask_all(contender, batch, done, errors)
        queued, everyone = await _wait_queued(url, count)
        rss_waiting, fds_waiting = _rss_kib(), _fds()
        await asyncio.sleep(SETTLE_S)
        cpu_idle_start = _cpu_s()
        await asyncio.sleep(IDLE_S)
        idle_cpu_ms = (_cpu_s() - cpu_idle_start) * 1000
        await asyncio.to_thread(_control, url, "/_bench/release", "POST")
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 900)
        cpu_total = _cpu_s() - cpu_start
        record = {job["seed"]: job for job in await asyncio.to_thread(_control, url, "/_bench/jobs")}
        mine = [record[seed] for seed in batch if seed in record]
        in_queue_at = [max(job["joined_at"], job["stream_at"] or job["joined_at"]) for job in mine]
        latencies = [
            (done[seed] - record[seed]["ended_at"]) * 1000
            for seed in batch
            if seed in done and seed in record and record[seed]["ended_at"]
        ]
        result.update(
            all_queued_s=(max(in_queue_at) - asked_at) if everyone and in_queue_at else None,
            queued_while_held=queued,
            rss_per_waiting_kib=(rss_waiting - base_rss) / queued if queued else None,
            fds_waiting=fds_waiting - base_fds,
            idle_cpu_ms=idle_cpu_ms,
            cpu_ms_per_generation=(cpu_total - idle_cpu_ms / 1000) * 1000 / count,
            errors=len(errors) + (count - len(done) - len(errors)),
            first_errors=errors[:3],
            latency_median_ms=quantile(latencies, 0.5) if latencies else None,
            latency_p99_ms=quantile(latencies, 0.99) if latencies else None,
        )
    finally:
        await asyncio.to_thread(_control, url, "/_bench/release", "POST")
        await contender.aclose()
    return result


# -- the section -------------------------------------------------------------------------


def _canned_config(replica_url: str, path: Path) -> None:
    """The real replica's /config and /info, for the canned server to serve."""
    config = _control(replica_url, "/config")
    prefix = config.get("api_prefix") or ""
    info = _control(replica_url, prefix + "/info")
    path.write_text(json.dumps({"config": config, "info": info}), encoding="utf-8")


def measure(replica_url: str, plan: Plan) -> list[dict[str, Any]]:
    """Start the canned server, then one worker per N and contender."""
    from launch import ServerProcess, free_port
    from server import pin

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        canned = Path(work) / "canned.json"
        _canned_config(replica_url, canned)
        server = ServerProcess(
            [
                sys.executable,
                HERE / "queue_server.py",
                "--port",
                free_port(),
                "--config",
                canned,
                "--job-ms",
                JOB_MS,
            ],
            log_path=Path(work) / "queue_server.log",
            cwd=ROOT,
            name="queue server",
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        try:
            url = server.wait_ready(line_prefix="QUEUE SERVER READY ", timeout=60)
            # On a CPU of its own, as the replica is (server.pin; the caller
            # gives every CPU back when the replica stops).
            pin(server.pid)
            for count in plan.scale_ns:
                for name in contender_names():
                    log(f"scale: {name}, {count} at once")
                    results.append(_run_worker(url, name, count))
        finally:
            server.stop()
    return results


def _run_worker(url: str, name: str, count: int) -> dict[str, Any]:
    try:
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), url, name, str(count)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=1200,
        )
    except subprocess.TimeoutExpired:
        return {"name": name, "n": count, "failed": "the worker did not finish in 20 minutes"}
    if out.returncode != 0:
        log(f"scale worker {name} x{count} failed:\n{out.stderr[-2000:]}")
        return {"name": name, "n": count, "failed": (out.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def targets(results: list[dict[str, Any]]) -> list[Target]:
    """At N = 1,000 (the largest N of a quick run), per transport on the default path."""
    measured = [r for r in results if "failed" not in r]
    if not measured:
        return []
    top = TARGET_N if any(r["n"] == TARGET_N for r in measured) else max(r["n"] for r in measured)
    found = []
    for r in measured:
        if r["n"] != top or not r["name"].startswith("provider default "):
            continue
        kind = r["name"].rsplit(" ", 1)[1]
        queued = r["all_queued_s"]
        floor = next((f for f in measured if f["n"] == top and f["name"] == "floor queue"), None)
        beside = (
            f"; the floor {floor['all_queued_s']:.2f} s"
            if floor is not None and floor["all_queued_s"] is not None
            else ""
        )
        found.append(
            Target(
                f"scale: {top:,} at once all in the queue, {kind} (default path), 0 errors",
                f"<= {ALL_QUEUED_TARGET_S:g} s",
                ("never (bounded wait)" if queued is None else f"{queued:.2f} s, {r['errors']} errors")
                + beside,
                None if queued is None else queued / ALL_QUEUED_TARGET_S,
                queued is not None and queued <= ALL_QUEUED_TARGET_S and r["errors"] == 0,
            )
        )
        rss = r["rss_per_waiting_kib"]
        # The floor over the same library: what a waiting generation costs
        # before any of the provider's code.
        floor_name = "floor queue" if kind == "aiohttp" else f"floor queue {kind}"
        same = next((f for f in measured if f["n"] == top and f["name"] == floor_name), None)
        floor_rss = None if same is None else same["rss_per_waiting_kib"]
        found.append(
            Target(
                f"scale: RSS per waiting generation, {kind}",
                f"<= {RSS_TARGET_KIB:g} KiB",
                ("n/a" if rss is None else f"{rss:.1f} KiB")
                + ("" if floor_rss is None else f" (the floor over {kind}: {floor_rss:.1f} KiB)"),
                None if rss is None else rss / RSS_TARGET_KIB,
                None if rss is None else rss <= RSS_TARGET_KIB,
            )
        )
    return found


def render(results: list[dict[str, Any]], plan: Plan) -> str:
    """The scale section."""
    intro = (
        "N generations asked at once, each contender in a fresh interpreter, against "
        "`benchmarks/queue_server.py`: a canned Gradio 6 queue (the replica's own `/config`), "
        f"one job at a time, {JOB_MS:g} ms each, held until every generation is queued; the server on "
        "a CPU of its own, as the replica. Not the "
        "replica: Gradio on two shared cores spends milliseconds of its own CPU per join and re-sends "
        "an estimation to every waiting job each time one starts, so at a thousand it measures itself. "
        "*All queued*: from asking to the last job joined and listening, by the server's record "
        f"(bounded at {QUEUED_BOUND_S:g} s, or {STALL_S:g} s without progress). *RSS* and *fds*: "
        "while all wait, minus before asking, per waiting generation (fds: in total). "
        f"*Idle CPU*: the worker's CPU over {IDLE_S:g} s of waiting with nothing moving ({SETTLE_S:g} s "
        "after all are queued; the clock ticks by 10 ms). *CPU/gen*: "
        "the worker's CPU from asking to the last image, idle window left out, over N. *Job end to "
        "image*: the server's job end to the image's URL reaching the caller. Each worker raises its "
        "soft RLIMIT_NOFILE to its hard limit (at most 65,536): "
    )
    limits = sorted({tuple(r["nofile"]) for r in results if "nofile" in r})
    intro += ", ".join(f"{a:,} -> {b:,}" for a, b in limits) + ".\n"
    rows = []
    for r in results:
        if "failed" in r:
            rows.append([f"{r['n']:,}", r["name"], "failed", "", "", "", "", "", "", "", r["failed"]])
            continue
        queued = (
            f"{r['all_queued_s']:.2f} s"
            if r["all_queued_s"] is not None
            else f"never: {r['queued_while_held']:,} at most"
        )
        rows.append(
            [
                f"{r['n']:,}",
                r["name"],
                queued,
                fmt(r["rss_per_waiting_kib"], 1),
                f"{r['fds_waiting']:,}",
                fmt(r["idle_cpu_ms"], 0),
                fmt(r["cpu_ms_per_generation"], 2),
                f"{r['errors']:,}",
                fmt(r["latency_median_ms"], 1),
                fmt(r["latency_p99_ms"], 1),
                "; ".join(r["first_errors"])[:120],
            ]
        )
    table = md_table(
        [
            "N",
            "contender",
            "all queued",
            "RSS KiB per waiting",
            "fds while waiting",
            f"idle CPU ms ({IDLE_S:g} s)",
            "CPU ms/gen",
            "errors",
            "job end to image median ms",
            "p99 ms",
            "note",
        ],
        rows,
    )
    return f"## Scale: many generations at once, one job at a time\n\n{intro}\n{table}\n"


if __name__ == "__main__":
    _url, _name, _count = sys.argv[1:4]
    print(json.dumps(asyncio.run(worker(_url, _name, int(_count)))))
