"""Soak: many generations, 20 at a time, against the real Gradio replica, with faults.

A :class:`fault_server.FaultProxy` sits between the provider and the replica
(real Gradio, on loopback) and breaks one submit or event stream in ten: a
503 page from the "proxy", a connection reset before the request reaches the
Space, or a reset right after a stream's headers. It breaks a generation at
most once, so every generation is recoverable, and every one must succeed.
Generations alternate over both transports and both protocols. At the end,
the process's open descriptors and traced memory must be back where they were.

The short form (60 generations) runs with the suite. The full form::

    G4F_FLUX_SOAK_FULL=1 python -m pytest tests/test_soak.py

runs 500 and prints ``soak: 500 ended, 0 hung, S succeeded, fds A->B``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import tracemalloc

import pytest
from fault_server import FaultProxy, generate, pending_tasks

from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

FULL = os.environ.get("G4F_FLUX_SOAK_FULL", "") not in ("", "0")
GENERATIONS = 500 if FULL else 60
CONCURRENCY = 20
FAULT_EVERY = 10
TIMEOUT = 60.0  # per generation: 20 jobs share a replica that runs one at a time
HANG = TIMEOUT + 15.0  # a generation that has not ended by then is hung
TRANSPORTS = ("aiohttp", "curl_cffi")
PROTOCOLS = ("call", "queue")
FD_SLACK = 2  # see test_leaks.py: a server-side socket racing the snapshot
MEMORY_SLACK = 2 << 20  # bytes of traced memory the run may keep (caches, interned strings)

pytestmark = pytest.mark.timeout(1800 if FULL else 300)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def proxy(replica):
    with FaultProxy(replica.url, every=FAULT_EVERY) as proxy:
        yield proxy


async def soak(proxy, count: int, first: int = 0) -> dict:
    """Run ``count`` generations, ``CONCURRENCY`` at a time; tally how they ended."""
    tally = {"ended": 0, "hung": 0, "succeeded": 0, "failed": []}
    indexes = iter(range(first, first + count))

    async def one(index: int) -> None:
        transport = TRANSPORTS[index % 2]
        protocol = PROTOCOLS[(index // 2) % 2]
        prompt = f"soak {index}"  # unique: the proxy tells generations apart by it
        try:
            outcome = await asyncio.wait_for(
                generate(
                    proxy.root,
                    transport=transport,
                    protocol=protocol,
                    timeout=TIMEOUT,
                    prompt=prompt,
                    width=256,
                    height=256,
                    num_inference_steps=1,
                    check_tasks=False,
                ),
                HANG,
            )
        except TimeoutError:
            tally["hung"] += 1
            return
        tally["ended"] += 1
        if outcome.image is not None:
            tally["succeeded"] += 1
        else:
            tally["failed"].append((prompt, transport, protocol, repr(outcome.error)))

    async def worker() -> None:
        for index in indexes:  # shared iterator: each index is taken once
            await one(index)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return tally


def settle(proxy) -> None:
    gc.collect()
    assert proxy.wait_idle(10), "the proxy still holds connections the clients should have closed"


async def test_soak_with_faults(proxy, capsys):
    BlackForestLabs_Flux1Schnell.config_cache.clear()
    # Warm up every transport and protocol (imports, TLS and libcurl state,
    # the config cache, the proxy's first connections), then take the baseline.
    warm = await soak(proxy, 2 * CONCURRENCY, first=-2 * CONCURRENCY)
    assert warm["succeeded"] == 2 * CONCURRENCY, warm["failed"]
    settle(proxy)
    faults_before = len(proxy.faults)
    fds_start = open_fds()
    tracemalloc.start()
    memory_start, _ = tracemalloc.get_traced_memory()
    started = time.monotonic()

    tally = await soak(proxy, GENERATIONS)

    elapsed = time.monotonic() - started
    assert pending_tasks() == []
    settle(proxy)
    memory_end, memory_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    fds_end = open_fds()
    faults = proxy.faults[faults_before:]
    summary = (
        f"soak: {tally['ended']} ended, {tally['hung']} hung, {tally['succeeded']} succeeded, "
        f"fds {fds_start}->{fds_end}"
    )
    detail = (
        f"  ({len(faults)} faults injected: "
        + ", ".join(f"{kind} {sum(1 for f in faults if f[0] == kind)}" for kind in proxy.kinds)
        + f"; traced memory {memory_start / 2**20:.1f}->{memory_end / 2**20:.1f} MiB, "
        f"peak {memory_peak / 2**20:.1f} MiB; {elapsed:.1f} s)"
    )
    if FULL:
        with capsys.disabled():
            print(f"\n{summary}\n{detail}")

    assert tally["hung"] == 0, summary
    assert tally["ended"] == GENERATIONS, summary
    assert tally["succeeded"] == GENERATIONS, (summary, tally["failed"][:5])
    # The faults were really there: about one submit or stream in ten.
    assert len(faults) >= GENERATIONS // 10, detail
    assert fds_end <= fds_start + FD_SLACK, summary
    assert memory_end - memory_start <= MEMORY_SLACK, detail
