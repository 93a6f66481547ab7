"""A TCP relay on 127.0.0.1 that counts connections and can make loopback behave like a
link with a round-trip time (the tests count connections through it; the benchmarks
also delay them).

Every chunk is delivered one-way-delay (RTT/2) after it arrived, in both
directions, so a request and its response cost one RTT; a new connection
costs one more RTT before its first bytes reach the server, as a TCP
handshake would. Each direction has a queue of (delivery time, bytes): a
chunk waits only for its own deadline, not behind the sleeps of earlier
chunks, so delays do not add up and order is kept. The relay counts the
connections it accepts.

The relay runs its own event loop in a thread (:class:`RelayThread`), so a
client busy on its own loop, or blocking in threads (gradio_client), does
not slow the link down.
"""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import urlsplit

_CHUNK = 65536


class TcpRelay:
    """Forwards connections on 127.0.0.1 to ``target``, counting them (``connections``),
    with ``rtt`` seconds of round-trip time (0: none). An async context manager.

    With ``tls`` (a server-side ``ssl.SSLContext``) it terminates TLS: clients
    speak https to it and ``target`` gets plain HTTP. To put the handshake's
    own round trips on a link, chain a delaying relay in front of one that
    terminates TLS with no delay."""

    def __init__(self, target: str, rtt: float = 0.0, tls=None) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname, parts.port)
        self.rtt = rtt
        self.tls = tls
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None
        self._handlers: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        """The relay's root URL (what clients use instead of the target's)."""
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    async def __aenter__(self) -> TcpRelay:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> TcpRelay:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def aclose(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        self._handlers.add(task)
        loop = asyncio.get_running_loop()
        # The kernel accepted at once; a real handshake would hold the
        # client's first bytes back by one RTT (SYN, SYN-ACK).
        handshake_done = loop.time() + self.rtt
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            to_server: asyncio.Queue = asyncio.Queue()
            to_client: asyncio.Queue = asyncio.Queue()
            await asyncio.gather(
                self._receive(client_reader, to_server, handshake_done),
                self._deliver(to_server, upstream_writer),
                self._receive(upstream_reader, to_client, 0.0),
                self._deliver(to_client, client_writer),
            )
        except OSError:
            pass
        except asyncio.CancelledError:
            # Only aclose() cancels a handler; ending normally keeps asyncio's
            # stream callback from logging the cancelled task as an error.
            pass
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()
            self._handlers.discard(task)

    async def _receive(self, reader: asyncio.StreamReader, queue: asyncio.Queue, not_before: float) -> None:
        loop = asyncio.get_running_loop()
        one_way = self.rtt / 2
        while True:
            try:
                data = await reader.read(_CHUNK)
            except OSError:
                data = b""
            # Deadlines never decrease (time moves on, not_before is fixed): order is kept.
            queue.put_nowait((max(loop.time(), not_before) + one_way, data))
            if not data:  # end of stream: delivered as a half-close, in order
                return

    @staticmethod
    async def _deliver(queue: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline, data = await queue.get()
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except OSError:
                return


class RelayThread:
    """An event loop in a daemon thread where relays live; a context manager."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._relays: list[TcpRelay] = []

    def __enter__(self) -> RelayThread:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for relay in self._relays:
            self._call(relay.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def relay(self, target: str, rtt: float, tls=None) -> TcpRelay:
        """A new relay to ``target`` with ``rtt`` seconds of round-trip time (and
        TLS terminated with ``tls``, see :class:`TcpRelay`), listening."""
        relay = self._call(TcpRelay(target, rtt, tls).start())
        self._relays.append(relay)
        return relay
