#!/usr/bin/env python
"""Benchmarks of g4f-flux-plugin: one entry, one run, ratios.

    python benchmarks/run.py [--quick] [--output benchmarks/RESULTS.md] [--rtt-ms 60]

Starts the local Gradio replica of the Space (``tests/replica.py``: zero work
per step, 1 step, 256x256) on a free port and, in the same run, measures
(one module each):

latency      one generation, image download included, for the provider (each
             transport x each protocol, a session per generation as the
             provider does by default, and a long-lived transport instance
             passed in), for the floor client (``floor.py``) and for
             ``gradio_client``; contenders are interleaved round-robin.
throughput   generations/s for N generations at 1, 8 and 32 at a time.
network      over a relay that adds a round-trip time: round trips and TCP
             connections per generation, over plain HTTP and over TLS (a
             throwaway CA, ``tls.py``), and cold command lines (``g4f-flux``
             vs the floor as a script) over that link and on loopback.
memory       peak memory of 32 generations at a time (tracemalloc peak and
             RSS high-water-mark delta), one fresh process per contender.
startup      fresh interpreters: ``import g4f`` with and without the plugin,
             the start-up hook in a process that never imports g4f (also
             timed within ``site.main()``), and ``g4f-flux --help``.
sse          MB/s of the plugin's SSE decoder on a recorded Gradio stream,
             beside httpx-sse and a naive split, and a linearity check.
scale        N generations at once (100, 1,000, 2,000) against a canned
             Gradio queue that runs one job at a time (``queue_server.py``):
             time until all are queued, RSS and descriptors per waiting
             generation, CPU, errors, job end to image.

Everything is reported as medians (with p10/p90) and as ratios between
contenders measured in the same run: absolute numbers depend on the machine
and on whatever else runs on it, ratios much less. Results go to a Markdown
file with the machine, the versions, the command and a table of targets
(``report.py``); ``stats.py`` holds the statistics, ``contenders.py`` the
clients compared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, however this is loaded

import latency
import memory
import network
import scale
import sse
import startup
import throughput
import tls
from common import DEFAULT_OUTPUT, FULL, QUICK, SIZE, STEPS, Plan, Seeds, log
from contenders import latency_contenders, throughput_contenders
from report import RunInfo, load_average, page
from server import Replica

SECTIONS = ("latency", "throughput", "network", "memory", "startup", "sse", "scale")
REPLICA_SECTIONS = {"latency", "throughput", "network", "memory", "scale"}


async def _latency_and_throughput(replica: Replica, plan: Plan, sections: set[str], seeds: Seeds):
    # One set of contenders for both sections, set up once (sessions, discovery).
    lat = tp = None
    contenders = latency_contenders(replica.url)
    for contender in contenders:
        await contender.setup()
    try:
        if "latency" in sections:
            log(f"latency: {len(contenders)} contenders, {plan.latency_reps} rounds")
            lat = await latency.measure(contenders, plan, seeds)
        if "throughput" in sections:
            by_name = {c.name: c for c in contenders}
            chosen = [by_name[c.name] for c in throughput_contenders(replica.url)]
            tp = await throughput.measure(chosen, plan, seeds, replica)
    finally:
        for contender in contenders:
            await contender.aclose()
    return lat, tp


class SectionFailed:
    """A section that raised: the report says so, and the other sections still run."""

    def __init__(self, names: tuple[str, ...], error: BaseException) -> None:
        self.names = names
        self.message = f"{type(error).__name__}: {error}"


def _attempt(results: dict[str, object], names: tuple[str, ...], measure_them) -> None:
    try:
        values = measure_them()
    except Exception as error:  # a broken section must not cost the whole run
        log(f"{'/'.join(names)} failed:\n{traceback.format_exc()}")
        values = (SectionFailed(names, error),) * len(names)
    for name, value in zip(names, values, strict=True):
        results[name] = value


def measure(plan: Plan, sections: set[str], rtt_ms: float) -> tuple[dict[str, object], str]:
    """Run the chosen sections; the CPU-bound ones run with the replica stopped.
    Returns the results and where the replica ran (for the report)."""
    results: dict[str, object] = {}
    placement = "not started"
    # Before anything imports aiohttp, which reads the trusted CAs once (tls.py).
    ca = tls.trust_throwaway_ca() if "network" in sections else None
    seeds = Seeds()
    if sections & REPLICA_SECTIONS:
        log("starting the replica")
        replica = Replica(plan.replica_concurrency).start()
        placement = replica.placement()
        log(f"replica at {replica.url}, {placement}")
        try:
            if sections & {"latency", "throughput"}:
                _attempt(
                    results,
                    ("latency", "throughput"),
                    lambda: asyncio.run(_latency_and_throughput(replica, plan, sections, seeds)),
                )
            if "network" in sections:
                _attempt(results, ("network",), lambda: (network.measure(replica, plan, rtt_ms, seeds, ca),))
            if "memory" in sections:
                _attempt(results, ("memory",), lambda: (memory.measure(replica.url, plan),))
            if "scale" in sections:
                # The replica only lends its /config and /info to the canned server.
                _attempt(results, ("scale",), lambda: (scale.measure(replica.url, plan),))
        finally:
            replica.stop()
            if ca is not None:
                ca.close()
    if "startup" in sections:
        log("start-up")
        _attempt(results, ("startup",), lambda: (startup.measure(plan),))
    if "sse" in sections:
        log("SSE decoding")
        _attempt(results, ("sse",), lambda: (sse.measure(plan),))
    return {name: value for name, value in results.items() if value is not None}, placement


def render(results: dict[str, object], plan: Plan, info: RunInfo) -> str:
    """The report: targets and notes from the sections that have them, then every section."""
    modules = {
        "latency": latency,
        "throughput": throughput,
        "network": network,
        "memory": memory,
        "startup": startup,
        "sse": sse,
        "scale": scale,
    }
    measured = {name: value for name, value in results.items() if not isinstance(value, SectionFailed)}
    targets, notes, parts = [], [], []
    for name in ("latency", "throughput", "network", "startup", "sse", "scale"):  # the targets table's order
        if name in measured:
            targets += modules[name].targets(measured[name])
    for name in ("latency", "throughput"):
        if name in measured:
            notes += modules[name].notes(measured[name])
    for name in SECTIONS:
        if name in measured:
            parts.append(modules[name].render(measured[name], plan))
        elif name in results:
            parts.append(f"## {name}: not measured\n\nThe section failed: {results[name].message}\n")
    return page(info, targets, notes, parts)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, measure, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a short run (smoke test): fewer generations and reps"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to write")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=network.DEFAULT_RTT_MS,
        help="round-trip time of the network section's link (default %(default)g)",
    )
    args = parser.parse_args(argv)
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if not args.rtt_ms > 0:
        parser.error("--rtt-ms must be positive")
    # gradio_client (and the replica's gradio) phone home at import and
    # start-up; this benchmark runs offline, on loopback.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    plan = QUICK if args.quick else FULL
    started, load_at_start, t0 = time.time(), load_average(), time.perf_counter()
    results, placement = measure(plan, sections, args.rtt_ms)
    elapsed = time.perf_counter() - t0

    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    if args.sections != ",".join(SECTIONS):
        command += f" --sections {args.sections}"
    if args.rtt_ms != network.DEFAULT_RTT_MS:
        command += f" --rtt-ms {args.rtt_ms:g}"
    server = (
        f"`tests/replica.py` (real Gradio, fake model), 0 s per step, {STEPS} step, {SIZE}x{SIZE}, queue "
        f"concurrency limit {plan.replica_concurrency}, on loopback, {placement}"
    )
    report = render(results, plan, RunInfo(command, started, elapsed, load_at_start, server, plan))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    log(f"wrote {args.output} in {elapsed:.0f} s")
    print(report)
    return 1 if any(isinstance(value, SectionFailed) for value in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
