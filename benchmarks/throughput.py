"""Throughput: generations per second for N generations at 1, 8 and 32 at a time."""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field

from common import Plan, Seeds, log, rotated
from contenders import Contender, run_batch
from report import Target, md_table
from server import Replica
from stats import Dist, fmt, fmt_ratio, paired_ratios, ratio

LIMIT = 0.9  # the provider's rate must reach at least this share of the floor's
DEFAULT_LIMIT = 1.0  # the default path (no transport) vs the floor, issue 12


@dataclass
class ThroughputResult:
    """Rates and CPU per generation of one contender at one concurrency."""

    name: str
    group: str
    protocol: str
    level: int
    rate: Dist = field(default_factory=lambda: Dist([]))  # generations/s
    client_cpu_ms: Dist = field(default_factory=lambda: Dist([]))  # per generation
    server_cpu_ms: Dist = field(default_factory=lambda: Dist([]))
    errors: int = 0


async def measure(
    contenders: list[Contender], plan: Plan, seeds: Seeds, replica: Replica
) -> list[ThroughputResult]:
    """A warm-up batch each, then batches at every level, contenders interleaved."""
    results = {
        (c.name, level): ThroughputResult(c.name, c.group, c.protocol, level)
        for c in contenders
        for level in plan.tp_levels
    }
    log("throughput: warm-up")
    for contender in contenders:
        await run_batch(contender, max(plan.tp_levels), max(plan.tp_levels), seeds)
    # gradio_client's batches go last in each round, so that whatever its 32
    # threads leave running on the replica when a batch ends (some of its
    # batches end with errors) cannot slow the next contender's batch.
    rotating = [c for c in contenders if not c.blocking]
    last = [c for c in contenders if c.blocking]
    for level, reps in zip(plan.tp_levels, plan.tp_reps, strict=True):
        for rep in range(reps):
            for contender in rotated(rotating, rep + level) + last:
                log(f"throughput: {contender.name}, {plan.tp_total} generations, {level} at a time")
                gc.collect()
                wall, cpu, server = time.perf_counter(), time.process_time(), replica.cpu_seconds()
                failures = await run_batch(contender, plan.tp_total, level, seeds)
                elapsed = time.perf_counter() - wall
                result = results[(contender.name, level)]
                result.errors += failures
                result.rate.values.append((plan.tp_total - failures) / elapsed)
                result.client_cpu_ms.values.append((time.process_time() - cpu) * 1000 / plan.tp_total)
                result.server_cpu_ms.values.append((replica.cpu_seconds() - server) * 1000 / plan.tp_total)
    return list(results.values())


def targets(tp: list[ThroughputResult]) -> list[Target]:
    """The provider's aiohttp variants vs the floor at the highest concurrency."""
    top = max(r.level for r in tp)
    at = {r.name: r for r in tp if r.level == top}
    found = []
    # The default path (no transport passed, as g4f calls it) must match the
    # floor; the named and long-lived variants keep the first release's bar.
    for name, limit in (
        ("provider default/queue", DEFAULT_LIMIT),
        ("provider default/call", DEFAULT_LIMIT),
        ("provider aiohttp/queue", LIMIT),
        ("provider aiohttp/call", LIMIT),
        ("provider aiohttp/queue long-lived", LIMIT),
        ("provider aiohttp/call long-lived", LIMIT),
    ):
        if name not in at:
            continue
        r = at[name]
        floor = at[f"floor {r.protocol}"]
        # Each round runs every contender once, so a round's floor batch ran
        # a few seconds from the provider's: the median of those paired
        # ratios, not the ratio of two medians taken across the whole run.
        pairs = paired_ratios(r.rate.values, floor.rate.values)
        value = pairs.median if len(pairs) else None
        found.append(
            Target(
                f"throughput, {top} at a time: {name} vs floor {r.protocol}",
                f">= {limit}x",
                f"median of {len(pairs)} paired ratios (p10 {fmt_ratio(pairs.p10 if len(pairs) else None)}, "
                f"p90 {fmt_ratio(pairs.p90 if len(pairs) else None)}); {fmt(r.rate.median)} vs "
                f"{fmt(floor.rate.median)} gen/s; client CPU {fmt(r.client_cpu_ms.median, 2)} vs "
                f"{fmt(floor.client_cpu_ms.median, 2)} ms/gen",
                value,
                value is not None and value >= limit,
            )
        )
    return found


def notes(tp: list[ThroughputResult]) -> list[str]:
    """How to read the throughput numbers (the server is the bottleneck)."""
    server = statistics.median(v for r in tp for v in r.server_cpu_ms.values)
    return [
        f"Throughput is bounded by the replica: about {fmt(server, 1)} ms of server CPU per generation "
        "(Gradio's queue). The replica has a CPU of its own (see Server above), as the Space has in use, so "
        "a client's CPU shows in its own column, not as a slower server. Rates at 1 and 8 at a time come "
        "from a single batch each, so they move with whatever else the machine runs; the 32-at-a-time "
        "targets are medians of ratios paired by round (each round runs every contender once, and each "
        "floor runs right next to the aiohttp provider variants compared with it), so the replica's drift "
        "over a run (it slows as Gradio's per-session state grows) cancels within a pair.",
        "Loopback hides connection set-up costs: over HTTPS to the real Space a session per generation also "
        "pays a TCP and TLS handshake per generation, which the long-lived variant does not (the network "
        "section measures round trips and connections over a delayed link).",
    ]


def render(tp: list[ThroughputResult], plan: Plan) -> str:
    """The throughput section."""
    reps = ", ".join(
        f"{n} at {level} at a time" for level, n in zip(plan.tp_levels, plan.tp_reps, strict=True)
    )
    intro = (
        f"Generations per second (higher is better), median over repetitions ({reps}; contenders "
        "interleaved, the first one rotating); every contender ran a warm-up batch first. Async contenders "
        "run N workers (the same as an `asyncio.Semaphore(N)`); "
        "gradio_client runs N threads, each `client.submit(...).result()`. CPU columns are per "
        "generation: the benchmark process (client) and the replica (server). When the server's CPU "
        "per generation times the rate approaches one core, the server is the bottleneck and the "
        "rates converge.\n"
    )
    floors = {(r.protocol, r.level): r for r in tp if r.group == "floor"}
    rows = []
    for r in sorted(tp, key=lambda r: (r.level, r.group != "provider", r.name)):
        floor = floors.get((r.protocol, r.level))
        rows.append(
            [
                str(r.level),
                r.name,
                fmt(r.rate.median),
                fmt(r.rate.p10),
                fmt(r.rate.p90),
                fmt_ratio(ratio(r.rate.median, floor.rate.median if floor else None)),
                fmt(r.client_cpu_ms.median, 2),
                fmt_ratio(ratio(r.client_cpu_ms.median, floor.client_cpu_ms.median if floor else None)),
                fmt(r.server_cpu_ms.median, 2),
                str(len(r.rate)),
                str(r.errors),
            ]
        )
    table = md_table(
        [
            "at a time",
            "contender",
            "gen/s",
            "p10",
            "p90",
            "vs floor (same protocol)",
            "client CPU ms/gen",
            "CPU vs floor",
            "server CPU ms/gen",
            "n",
            "errors",
        ],
        rows,
    )
    return f"## Throughput: {plan.tp_total} generations, N at a time\n\n{intro}\n{table}\n"
