"""Latency: one generation at a time, image download included, every contender interleaved."""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass

from common import Plan, Seeds, log, rotated
from contenders import Contender
from report import Target, md_table
from stats import Dist, fmt, fmt_ratio, ratio

HEADING = "## Latency: one generation, image download included"
LIMIT = 1.15  # the provider may cost at most this much more than the floor
GRADIO_LIMIT = 0.3  # and must take less than this fraction of gradio_client's time


@dataclass
class LatencyResult:
    """Wall and client CPU times of one contender's generations."""

    name: str
    group: str
    protocol: str
    ms: Dist
    cpu_ms: Dist
    errors: int = 0
    connects: int = 0  # TCP connections opened from Python sockets during the measured generations


class ConnectCounter:
    """Counts ``socket.connect`` audit events in this process.

    asyncio, aiohttp and httpx connect through ``socket.connect``; curl opens
    its sockets in C, so curl_cffi's are not counted. An audit hook cannot be
    removed, so one counter serves the whole process.
    """

    count = 0
    _installed = False

    @classmethod
    def install(cls) -> None:
        """Install the audit hook (once per process)."""
        if not cls._installed:
            sys.addaudithook(cls._hook)
            cls._installed = True

    @classmethod
    def _hook(cls, event: str, _args: tuple) -> None:
        if event == "socket.connect":
            cls.count += 1


async def measure(contenders: list[Contender], plan: Plan, seeds: Seeds) -> list[LatencyResult]:
    """Warm-up rounds, then ``plan.latency_reps`` rounds of every contender once, rotating."""
    ConnectCounter.install()
    results = {c.name: LatencyResult(c.name, c.group, c.protocol, Dist([]), Dist([])) for c in contenders}
    for _ in range(plan.latency_warmup):
        for contender in contenders:
            await contender.one(seeds())
    for rep in range(plan.latency_reps):
        for contender in rotated(contenders, rep):
            result = results[contender.name]
            gc.collect()
            connects = ConnectCounter.count
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
            result.connects += ConnectCounter.count - connects
    return list(results.values())


def _floor_of(result: LatencyResult, by: dict[str, LatencyResult]) -> LatencyResult | None:
    return by.get(f"floor {result.protocol}")


def targets(lat: list[LatencyResult]) -> list[Target]:
    """The provider's aiohttp variants and its worst configuration vs the floor, and vs gradio_client."""
    by = {r.name: r for r in lat}
    found: list[Target] = []
    gc_ms = by["gradio_client"].ms.median if "gradio_client" in by else None
    for name in (
        "provider aiohttp/queue",
        "provider aiohttp/call",
        "provider aiohttp/queue long-lived",
        "provider aiohttp/call long-lived",
    ):
        r, floor = by[name], _floor_of(by[name], by)
        value = ratio(r.ms.median, floor.ms.median)
        kind = "" if name.endswith("long-lived") else " (session per generation)"
        found.append(
            Target(
                f"latency: {name}{kind} vs floor {r.protocol}",
                f"<= {LIMIT}x",
                f"{fmt(r.ms.median, 2)} vs {fmt(floor.ms.median, 2)} ms (client CPU "
                f"{fmt(r.cpu_ms.median, 2)} vs {fmt(floor.cpu_ms.median, 2)} ms)",
                value,
                value is not None and value <= LIMIT,
            )
        )
    worst = max(
        (r for r in lat if r.group == "provider"),
        key=lambda r: ratio(r.ms.median, _floor_of(r, by).ms.median) or 0,
    )
    value = ratio(worst.ms.median, _floor_of(worst, by).ms.median)
    found.append(
        Target(
            f"latency: worst provider configuration ({worst.name}) vs floor {worst.protocol}",
            f"<= {LIMIT}x",
            f"{fmt(worst.ms.median)} ms",
            value,
            value is not None and value <= LIMIT,
        )
    )
    for name in ("provider aiohttp/queue", "provider aiohttp/call"):
        value = ratio(by[name].ms.median, gc_ms)
        found.append(
            Target(
                f"latency: {name} vs gradio_client",
                f"< {GRADIO_LIMIT}x",
                f"{fmt(by[name].ms.median)} ms vs {fmt(gc_ms)} ms",
                value,
                None if value is None else value < GRADIO_LIMIT,
            )
        )
    return found


def notes(lat: list[LatencyResult]) -> list[str]:
    """How to read the latency numbers (what share of them is the client)."""
    floor = {r.name: r for r in lat}.get("floor queue")
    if floor is None:
        return []
    return [
        f"The floor's client CPU is {fmt(floor.cpu_ms.median, 2)} ms of its {fmt(floor.ms.median, 2)} ms "
        "per generation: the rest is Gradio's queue in the replica, so latency ratios between lean clients "
        "stay close to 1 and differences of a few percent are within the run's noise (see p10/p90). A "
        "generation's client CPU adds to its latency one for one (client and server take turns), so the "
        '"client CPU" columns show what each client itself costs: a session per generation (a named '
        "transport) pays a new session and connection each time, on top of the long-lived variant's CPU."
    ]


#: The latency table's columns, in order.
COLUMNS = (
    "contender",
    "median ms",
    "p10",
    "p90",
    "vs floor (same protocol)",
    "vs gradio_client",
    "client CPU ms",
    "CPU vs floor",
    "new TCP connections per generation",
    "n",
    "errors",
)


def render(lat: list[LatencyResult], plan: Plan) -> str:
    """The latency section."""
    intro = (
        f"{plan.latency_warmup} warm-up round(s), then {plan.latency_reps} rounds; each round runs every "
        'contender once, starting from a different one each round. "session per generation" is the '
        'provider\'s default (`transport="aiohttp"`/`"curl_cffi"`: a new session, so a new connection, '
        "every generation; here the image is downloaded over that same session before it is closed); "
        '"long-lived" passes one transport instance (`AiohttpTransport()`/`CurlCffiTransport()`) '
        "to every generation, which the provider uses and does not close, so connections are kept "
        "alive across generations. The floor (`benchmarks/floor.py`) keeps one aiohttp session "
        "for the whole run. gradio_client: `Client(url)` built once, then `predict(...)`, which "
        "downloads the file itself (into a temporary directory) before returning. Client CPU is the "
        "benchmark process's CPU time during the generation. New TCP connections are counted with the "
        "`socket.connect` audit event, which curl's own sockets do not raise.\n"
    )
    by = {r.name: r for r in lat}
    gradio = by.get("gradio_client")
    rows = []
    for r in lat:
        floor = _floor_of(r, by)
        rows.append(
            [
                r.name,
                fmt(r.ms.median, 2),
                fmt(r.ms.p10, 2),
                fmt(r.ms.p90, 2),
                fmt_ratio(ratio(r.ms.median, floor.ms.median if floor else None)),
                fmt_ratio(ratio(r.ms.median, gradio.ms.median if gradio else None)),
                fmt(r.cpu_ms.median, 2),
                fmt_ratio(ratio(r.cpu_ms.median, floor.cpu_ms.median if floor else None)),
                "n/a (C sockets)" if "curl_cffi" in r.name else fmt(r.connects / max(1, len(r.ms)), 2),
                str(len(r.ms)),
                str(r.errors),
            ]
        )
    table = md_table(list(COLUMNS), rows)
    return f"{HEADING}\n\n{intro}\n{table}\n"
