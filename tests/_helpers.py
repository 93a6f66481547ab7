"""Helpers shared by the provider's contract tests (test_provider.py, test_queue_protocol.py).

- running the provider and sorting what it yields;
- reading the replica's record of jobs without blocking the event loop;
- checking a downloaded image against the seed the replica used;
- :class:`RecordingProxy`, a reverse proxy in front of a replica that records
  every request (method, path, headers, body), since the replica cannot show
  headers;
- :class:`ForwardProxy`, a minimal HTTP forward proxy (absolute-form requests
  and ``CONNECT``) that counts what goes through it, for ``proxy=``.

Everything listens on 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from fault_scenarios import HOP_BY_HOP, Recorded, forward  # shared by every server and proxy here
from PIL import Image

# The replica's constants and colour rule: replica.py imports only the
# standard library at module level.
from replica import (  # noqa: F401 (for the test modules)
    EXCEPTION_MESSAGE,
    INFO_MESSAGE,
    INFO_TITLE,
    QUOTA_MESSAGE,
    QUOTA_TITLE,
    WARNING_MESSAGE,
    seed_colour,
)

from g4f_flux_plugin._retry import RetryPolicy
from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell, FluxImageResponse, FluxProgress

Provider = BlackForestLabs_Flux1Schnell
TRANSPORTS = ("aiohttp", "curl_cffi")
PROTOCOLS = ("call", "queue")
QUOTA_RETRY_AFTER = 312.0  # "Try again in 0:05:12."
#: The command line's arguments for the smallest, fastest image.
SMALL_CLI = ("--width", "256", "--height", "256", "--steps", "1")


def unique(text: str = "a red fox in the snow") -> str:
    """A prompt no other test uses, to find this test's jobs on a shared replica."""
    return f"{text} #{uuid.uuid4().hex[:10]}"


# -- running the provider ----------------------------------------------------------
async def generate(replica: Any = None, *, into: list[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Every item of one generation; ``replica`` sets ``api_base``. Small and fast by default.

    ``into`` collects the items in a list of the caller's, so that what came
    before an error is still there when the generation raises."""
    if replica is not None:
        kwargs.setdefault("api_base", replica.url)
    kwargs.setdefault("width", 256)
    kwargs.setdefault("height", 256)
    kwargs.setdefault("num_inference_steps", 1)
    kwargs.setdefault("timeout", 60)
    model = kwargs.pop("model", "flux-schnell")
    messages = kwargs.pop("messages", None)
    items = [] if into is None else into
    async for item in Provider.create_async_generator(model, messages, **kwargs):
        items.append(item)
    return items


def job_kwargs(
    replica: Any, prompt: str, transport: Any, protocol: str, steps: int, **extra: Any
) -> dict[str, Any]:
    """The provider's keywords for a 256x256 job of ``steps`` steps on ``replica``."""
    return dict(
        api_base=replica.url,
        prompt=prompt,
        transport=transport,
        protocol=protocol,
        width=256,
        height=256,
        num_inference_steps=steps,
        **extra,
    )


def images(items: list[Any]) -> list[FluxImageResponse]:
    return [item for item in items if isinstance(item, FluxImageResponse)]


def the_image(items: list[Any]) -> FluxImageResponse:
    """The one image item, which must come last."""
    found = images(items)
    assert len(found) == 1, f"expected one image item, got {len(found)}: {items!r}"
    assert items[-1] is found[0], "the image must be the last item"
    return found[0]


def events(items: list[Any], kind: str | None = None) -> list[Any]:
    """The :class:`ProgressEvent` of each progress item, optionally of one kind."""
    found = [item.event for item in items if isinstance(item, FluxProgress)]
    return [event for event in found if kind is None or event.kind == kind]


# -- the replica's side -------------------------------------------------------------
async def server_jobs(replica: Any, prompt: str) -> list[dict[str, Any]]:
    """The replica's record of the jobs with exactly this prompt (off the event loop)."""
    return [job for job in await asyncio.to_thread(replica.jobs) if job["prompt"] == prompt]


async def the_server_job(replica: Any, prompt: str) -> dict[str, Any]:
    jobs = await server_jobs(replica, prompt)
    assert len(jobs) == 1, f"expected one job for {prompt!r} on the server, found {jobs!r}"
    return jobs[0]


async def wait_for(
    check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05, what: str = "a condition"
) -> Any:
    """Await ``check()`` (sync or async) until it returns something truthy; bounded."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_for_job_state(replica: Any, prompt: str, *states: str, timeout: float = 10.0) -> dict:
    """The server's job for ``prompt`` once it is in one of ``states``."""

    async def check():
        jobs = await server_jobs(replica, prompt)
        return jobs[0] if jobs and jobs[0]["state"] in states else None

    return await wait_for(check, timeout=timeout, what=f"the job {prompt!r} to be {'/'.join(states)}")


async def settle(timeout: float = 5.0) -> None:
    """Wait (bounded) until this test's background tasks have finished."""
    current = asyncio.current_task()
    await wait_for(
        lambda: not (asyncio.all_tasks() - {current}), timeout=timeout, what="background tasks to finish"
    )


# -- images -------------------------------------------------------------------------
async def download(url: str) -> tuple[str, bytes]:
    """(content type, body) of ``url``."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, timeout=aiohttp.ClientTimeout(total=20)) as response,
    ):
        assert response.status == 200, f"GET {url}: HTTP {response.status}"
        return response.headers.get("content-type", ""), await response.read()


def webp(size: tuple[int, int] = (8, 8), colour: tuple[int, int, int] = (7, 0, 0)) -> bytes:
    """A small solid WebP, the image a scripted Space hands out."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "WEBP")
    return out.getvalue()


WEBP = webp()
FAST = RetryPolicy(attempts=3, base=0.001, cap=0.001)  # retries without waiting


def sse(*events: tuple[str | None, object]) -> list[bytes]:
    """Event-stream chunks: ``(event_name or None, data)`` each."""
    chunks = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        chunks.append(f"{head}data: {json.dumps(data)}\n\n".encode())
    return chunks


def assert_image(data: bytes, width: int, height: int, seed: int) -> None:
    """``data`` is a WebP of exactly ``width`` x ``height`` in the replica's colour for ``seed``."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "WEBP"
        assert image.size == (width, height)
        pixel = image.convert("RGB").getpixel((width // 2, height // 2))
    expected = seed_colour(seed)
    # Lossy WebP (YUV 4:2:0) shifts a solid colour by a few levels.
    assert all(abs(a - b) <= 8 for a, b in zip(pixel, expected, strict=True)), (
        f"colour {pixel} is not {expected}"
    )


# -- a recording reverse proxy ------------------------------------------------------
# It decompresses what it forwards, so the encodings go too.
_HOP_BY_HOP = HOP_BY_HOP | {"accept-encoding", "content-encoding"}


@pytest.fixture
async def recorder(any_replica: Any) -> AsyncIterator[RecordingProxy]:
    """A recording proxy in front of each Gradio generation's replica in turn."""
    proxy = await RecordingProxy(any_replica.url).start()
    yield proxy
    await proxy.close()


@dataclass
class RecordingProxy:
    """A reverse proxy on 127.0.0.1 forwarding to ``upstream`` and recording every request.

    Streams responses through chunk by chunk, so event streams work. A
    ``respond`` hook may answer a request itself (return a ``web.Response``)
    instead of forwarding it (or an awaitable of one, or of ``None``).
    """

    upstream: str
    respond: Callable[[web.Request], Any] | None = None
    #: Headers recorded but not passed on (Hugging Face's proxy consumes
    #: X-HF-Authorization this way).
    consume: tuple[str, ...] = ()
    #: Send X-Forwarded-Host/-Proto naming the proxy, as HF's front does, so
    #: the URLs Gradio writes (file URLs) point back through the proxy.
    forwarded: bool = False
    #: Headers to add to a forwarded request, from the request as received
    #: (HF's front adds X-IP-Token this way: tests/hf_front.py).
    add_headers: Callable[[web.Request], dict[str, str]] | None = None
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> RecordingProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, shutdown_timeout=1, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def paths(self, method: str | None = None) -> list[str]:
        """The request paths (without the query), optionally of one method."""
        return [r.path.split("?")[0] for r in self.requests if method is None or r.method == method]

    def to(self, suffix: str, method: str = "POST") -> list[Recorded]:
        """The requests whose path (without the query) ends with ``suffix``."""
        return [r for r in self.requests if r.method == method and r.path.split("?")[0].endswith(suffix)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded.of(request, body))
        if self.respond is not None:
            answer = self.respond(request)
            if inspect.isawaitable(answer):  # a hook may take its time (a front that hangs)
                answer = await answer
            if answer is not None:
                return answer
        dropped = _HOP_BY_HOP | {name.lower() for name in self.consume}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in dropped}
        if self.forwarded:
            headers.update({"x-forwarded-host": urlsplit(self.url).netloc, "x-forwarded-proto": "http"})
        if self.add_headers is not None:
            headers.update(self.add_headers(request))
        assert self._session is not None
        async with forward(self._session, self.upstream, request, headers, body) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP},
            )
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionResetError:
                # The client hung up (a provider drops an event stream once it has
                # its result); leaving the block drops the upstream stream too.
                pass
            return response


# -- a forward proxy ----------------------------------------------------------------
@dataclass
class ForwardProxy:
    """An HTTP forward proxy on 127.0.0.1 that records each request's target.

    Handles absolute-form requests (``GET http://host/path HTTP/1.1``), sent
    upstream with ``Connection: close`` so every request is seen, and
    ``CONNECT`` tunnels (recorded as ``CONNECT host:port``).
    """

    targets: list[str] = field(default_factory=list)
    #: Each request's head as the proxy received it (request line and headers).
    heads: list[bytes] = field(default_factory=list)
    url: str = ""
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)

    async def start(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:  # exchanges still finishing: give them a moment, then stop them
            await asyncio.wait(list(self._tasks), timeout=2)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        upstream_writer = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line, _, rest = head.partition(b"\r\n")
            method, target, version = line.decode("latin-1").split(" ", 2)
            self.targets.append(f"{method} {target}")
            self.heads.append(head)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                parts = urlsplit(target)
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    parts.hostname, parts.port or 80
                )
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                kept = [
                    h
                    for h in rest.split(b"\r\n")
                    if h and not h.lower().startswith((b"connection:", b"proxy-connection:", b"keep-alive:"))
                ]
                upstream_writer.write(
                    f"{method} {path} {version}\r\n".encode("latin-1")
                    + b"\r\n".join([*kept, b"Connection: close"])
                    + b"\r\n\r\n"
                )
            # The exchange ends when the upstream side does (it was asked to
            # close); the client may keep its side open for keep-alive.
            sending = asyncio.ensure_future(_pipe(reader, upstream_writer))
            try:
                await _pipe(upstream_reader, writer)
            finally:
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass  # a connection handler's end is the proxy's business only
        finally:
            for stream in (upstream_writer, writer):
                if stream is not None:
                    stream.close()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
