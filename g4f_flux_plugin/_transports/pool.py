"""Transports shared by every generation of one event loop, closed with the loop.

g4f never passes a transport: ``g4f api``, ``g4f gui`` and g4f's client call
the provider with none, so without sharing, every image would pay a new TCP
connection and TLS handshake (two to three round trips against the real
Space). With no transport given, the client takes one from here: one per
event loop, per transport kind and proxy.

The lifetime is tied to the loop through its async-generator shutdown hook:
the first use in a loop starts a small "keeper" async generator and leaves it
suspended. The loop tracks it like any async generator, and
``loop.shutdown_asyncgens()`` (which ``asyncio.run()``, ``asyncio.Runner``
and g4f's sync client all call before closing the loop) closes it, and its
``finally`` closes the loop's transports. So ``asyncio.run()`` called again
and again never warns "Unclosed client session", never reuses a dead loop's
connections (each loop has its own), and leaves no task or descriptor behind.

A pooled transport keeps no cookies: it serves every caller of the process,
and Gradio's API needs none (gradio_client makes a new HTTP client for each
request). A connection that broke mid-job is dropped by the transport, never
put back.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator

from .base import Timeouts, Transport

__all__ = ["TransportPools"]


class _LoopPool:
    """The shared transports of one loop."""

    def __init__(self) -> None:
        self.transports: dict[tuple[str, str | None], Transport] = {}
        self.keeper: AsyncGenerator[None, None] | None = None
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True
        transports, self.transports = list(self.transports.values()), {}
        for transport in transports:
            # one failing close must not keep the others open
            with contextlib.suppress(Exception):
                await transport.aclose()


async def _keeper(pool: _LoopPool) -> AsyncGenerator[None, None]:
    # Suspended at the yield for the loop's whole life; shutdown_asyncgens()
    # closes it, which runs the finally.
    try:
        yield
    finally:
        await pool.aclose()


class TransportPools:
    """Shared transports per event loop; the client owns one instance."""

    def __init__(self) -> None:
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self, kind: str | None = None, *, proxy: str | None = None) -> Transport:
        """The running loop's shared transport of ``kind`` (``None``:
        ``$G4F_FLUX_TRANSPORT``, else aiohttp) and ``proxy``, made on first use."""
        from . import make_transport, transport_name

        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None or pool.closed:
            pool = self._pools[loop] = _LoopPool()
            pool.keeper = _keeper(pool)
            await pool.keeper.asend(None)  # registers it with the loop's shutdown_asyncgens()
        key = (transport_name(kind), proxy)
        transport = pool.transports.get(key)
        if transport is None:
            transport, _ = make_transport(key[0], proxy=proxy, timeouts=Timeouts(), keep_cookies=False)
            pool.transports[key] = transport
        return transport

    def __repr__(self) -> str:
        return f"<TransportPools loops={len(self._pools)}>"
