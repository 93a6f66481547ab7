"""Memory: peak memory of N concurrent generations, each contender in a fresh interpreter.

The section runs this file as a script, once per contender (the worker);
its last line of output is the worker's result as JSON.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tracemalloc
from pathlib import Path

if __name__ == "__main__":  # a worker: the sibling modules are imported from here
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import QUICK, ROOT, Plan, Seeds, log, proc_status_kib, transports
from contenders import contender_by_name, protocol_of, run_batch
from report import md_table
from stats import fmt, fmt_ratio, ratio


def contender_names(quick: bool) -> list[str]:
    """Which contenders the memory section measures (two in a quick run)."""
    if quick:
        return ["provider aiohttp/queue", "floor queue"]
    names = ["provider aiohttp/call", "provider aiohttp/queue", "provider aiohttp/queue long-lived"]
    if "curl_cffi" in transports():
        names += ["provider curl_cffi/queue", "provider curl_cffi/queue long-lived"]
    return [*names, "floor call", "floor queue"]


def _reset_peak_rss() -> bool:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def worker(url: str, name: str, at_once: int, reps: int) -> dict:
    """In this (fresh) process: RSS deltas and tracemalloc peaks of ``reps`` batches of ``at_once``."""
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
            base = proc_status_kib("VmRSS")
            exact = _reset_peak_rss()
            await run_batch(contender, at_once, at_once, seeds)
            rss_deltas.append(proc_status_kib("VmHWM") - base if exact else float("nan"))
        for _ in range(reps):
            gc.collect()
            tracemalloc.start()
            await run_batch(contender, at_once, at_once, seeds)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peaks.append(peak / 1024)
        return {
            "name": name,
            "rss_delta_kib": rss_deltas,
            "tracemalloc_peak_kib": peaks,
            "rss_kib": proc_status_kib("VmRSS"),
        }
    finally:
        await contender.aclose()


def measure(url: str, plan: Plan) -> list[dict]:
    """One worker process per contender, one after the other."""
    results = []
    for name in contender_names(quick=plan is QUICK):
        log(f"memory: {name}")
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                url,
                name,
                str(plan.mem_concurrency),
                str(plan.mem_reps),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        if out.returncode != 0:
            log(f"memory worker for {name} failed:\n{out.stderr[-2000:]}")
            results.append({"name": name, "error": out.stderr.strip().splitlines()[-1:] or ["?"]})
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def render(mem: list[dict], plan: Plan) -> str:
    """The memory section."""
    intro = (
        "Each contender in a fresh interpreter: one generation to warm up (imports, the provider's "
        "config cache, connections), then batches of "
        f"{plan.mem_concurrency} concurrent generations. RSS delta: peak RSS during the batch (VmHWM, "
        "reset before it) minus RSS before it, for the first batch and the median of all. "
        "tracemalloc peak: Python allocations traced from the batch's start (median); it does not see "
        "memory that C libraries (curl) allocate, the RSS columns do.\n"
    )
    floor_peak = {
        m["name"]: statistics.median(m["tracemalloc_peak_kib"])
        for m in mem
        if m["name"].startswith("floor") and "error" not in m
    }
    rows = []
    for m in mem:
        if "error" in m:
            rows.append([m["name"], "error", "", "", "", "", m["error"][0][:80]])
            continue
        peak = statistics.median(m["tracemalloc_peak_kib"])
        rows.append(
            [
                m["name"],
                fmt(m["rss_delta_kib"][0], 0),
                fmt(statistics.median(m["rss_delta_kib"]), 0),
                fmt(peak, 0),
                fmt_ratio(ratio(peak, floor_peak.get(f"floor {protocol_of(m['name'])}"))),
                fmt(m["rss_kib"] / 1024, 1),
                "",
            ]
        )
    table = md_table(
        [
            "contender",
            "RSS delta KiB (first)",
            "RSS delta KiB (median)",
            "tracemalloc peak KiB",
            "peak vs floor",
            "process RSS MiB after",
            "note",
        ],
        rows,
    )
    return f"## Memory: {plan.mem_concurrency} generations at a time\n\n{intro}\n{table}\n"


if __name__ == "__main__":
    _url, _name, _at_once, _reps = sys.argv[1:5]
    print(json.dumps(asyncio.run(worker(_url, _name, int(_at_once), int(_reps)))))
