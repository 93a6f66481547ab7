"""A fault-injecting fake Gradio Space on loopback, for the reliability and security tests.

:class:`FaultServer` speaks the routes of a Gradio 6 Space (or Gradio 4's
unprefixed ones with ``prefix=""``) the way the captures of a real Gradio 6.31
server show them:

``GET /config``                        the app config (``api_prefix``, ``infer`` is fn 2)
``POST {prefix}/call/infer``           ``{"event_id": ...}``
``GET {prefix}/call/infer/{id}``       ``event: <name>`` / ``data: <json>`` stream
``POST {prefix}/queue/join``           ``{"event_id": ...}``
``GET {prefix}/queue/data?session_hash=S``  ``data: {"msg": ...}`` stream
``POST {prefix}/cancel``               ``{"success": true}``
``GET {prefix}/file=<path>``           a few bytes of "image"

What each route does is a *scenario* (``fault_scenarios.py``), chosen by
name per test with :meth:`FaultServer.use`: connection resets, HTTP error
pages, redirects, cut or silent or endless streams, hostile sizes, every error
shape Gradio sends.

Every request is recorded (:attr:`FaultServer.requests`: method, path, query,
lower-case headers, body) for assertions. The server runs its own event loop
in a thread, so its tasks and the client's never mix (``asyncio.all_tasks()``
in a test sees the client only) and a client that blocks its loop cannot stall
the server. A second instance bound to another loopback address (127.0.0.2
where the system allows it) plays the "foreign host" that file URLs and
redirects point to.

:class:`FaultProxy` is the same machinery as a reverse proxy in front of a
real Space (the Gradio replica) that breaks one request in ten, for the soak
test.

Every loop in a handler is bounded (bytes sent, or seconds) so nothing runs on
after a test, even when the client never disconnects.

The end of the module holds what the test modules share: :func:`generate`
(one generation of the provider, timed, checked for leftover tasks) and the
fixtures ``space``, ``legacy_space``, ``foreign``, ``fresh`` and
``fast_retries``, which a test module imports by name.

Manual use: ``python tests/fault_server.py SCENARIO [option=json ...]``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from fault_scenarios import (  # noqa: F401
    _SESSIONS,
    CHUNK,
    HOP_BY_HOP,
    HTML_PAGE,
    IMAGE_BYTES,
    IMAGE_PATH,
    MAX_HANDLER_SECONDS,
    QUOTA_ERROR,
    SCENARIOS,
    EventWriter,
    Recorded,
    Scenario,
    _Dropped,
    file_data,
    forward,
    gradio_config,
    reset,
    status_response,
)

# What the scenarios share with the server and the tests (names kept importable
# from here, where the tests have always found them).
from launch import free_port

__all__ = [
    "SCENARIOS",
    "FaultProxy",
    "FaultServer",
    "Recorded",
    "foreign_host",
    "free_port",
    "gradio_config",
]


def foreign_host() -> str:
    """Another loopback address for the "foreign host", if the system routes it."""
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:  # e.g. macOS only configures 127.0.0.1: another port is another origin too
        return "127.0.0.1"


# -- the servers ----------------------------------------------------------------


class _ThreadedApp:
    """An aiohttp.web app on ``host`` (an ephemeral port) in a thread of its own."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def _on_startup(self) -> None:
        """Set up what the handlers need, inside the server's loop."""

    async def _on_cleanup(self) -> None:
        """Release it."""

    def connections(self) -> int:
        """Connections the server holds open right now."""
        server = self._runner.server if self._runner else None
        return len(server.connections) if server is not None else 0

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the server holds no connection (the clients closed theirs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connections() == 0:
                return True
            time.sleep(0.01)
        return False

    def start(self):
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), daemon=True, name=f"{type(self).__name__}-{self.host}"
        )
        self._thread.start()
        ready.result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, ready: concurrent.futures.Future) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as error:  # report start-up failures to start()
            if not ready.done():
                ready.set_exception(error)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, ready: concurrent.futures.Future) -> None:
        self._stopped = asyncio.Event()
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", self._guarded)
        # handler_cancellation: a client that leaves ends its handler at once.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        await self._on_startup()
        try:
            site = web.TCPSite(self._runner, self.host, 0)
            await site.start()
            self.port = self._runner.addresses[0][1]
            ready.set_result(None)
            await self._stopped.wait()
        finally:
            await self._runner.cleanup()
            await self._on_cleanup()

    async def _guarded(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except (_Dropped, ConnectionError):
            # The connection is gone (on purpose, or the client left): make
            # sure it is closed and tell aiohttp there is nothing to send.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError from None


def route_of(method: str, path: str, prefix: str) -> str:
    """Which Gradio route a request is: config, submit, stream, cancel, file or other."""
    if path == "/config" and method == "GET":
        return "config"
    if not path.startswith(prefix + "/"):
        return "other"
    rest = path[len(prefix) :]
    if method == "POST" and rest in ("/call/infer", "/queue/join"):
        return "submit"
    if method == "GET" and (rest.startswith("/call/infer/") or rest == "/queue/data"):
        return "stream"
    if method == "POST" and rest == "/cancel":
        return "cancel"
    if method in ("GET", "HEAD") and rest.startswith("/file="):
        return "file"
    return "other"


class FaultServer(_ThreadedApp):
    """A fake Gradio Space on ``host`` (an ephemeral port) running in its own thread.

    Use as a context manager, or :meth:`start`/:meth:`stop`. :meth:`use`
    picks the scenario and forgets the recorded requests.
    """

    def __init__(self, *, host: str = "127.0.0.1", prefix: str = "/gradio_api") -> None:
        super().__init__(host)
        self.prefix = prefix
        self.requests: list[Recorded] = []
        self.scenario: Scenario = Scenario(self)

    def __repr__(self) -> str:
        return f"<FaultServer {self.root}{self.prefix} scenario={self.scenario.name}>"

    # -- control (from the test's thread) ------------------------------------
    def use(self, name: str, **options: Any) -> FaultServer:
        """Switch to scenario ``name`` with ``options``; forget recorded requests."""
        if name not in SCENARIOS:
            raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
        self.scenario = SCENARIOS[name](self, **options)
        self.requests = []
        return self

    def count(self, route: str | None = None) -> int:
        """Requests seen so far to ``route`` (config, submit, stream, cancel,
        file, other), or all of them."""
        return sum(1 for recorded in list(self.requests) if route is None or recorded.route == route)

    def routes(self) -> list[str]:
        return [recorded.route for recorded in list(self.requests)]

    # -- the server's own thread ----------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        route = route_of(request.method, request.path, self.prefix)
        self.requests.append(Recorded.of(request, body, route))
        scenario = self.scenario
        rest = request.path[len(self.prefix) :]
        proto = "queue" if "/queue/" in rest else "call"
        if route == "config":
            return await scenario.config(request)
        if route == "submit":
            try:
                payload = json.loads(body)
            except ValueError:
                return web.json_response({"detail": "invalid JSON"}, status=422)
            return await scenario.submit(request, proto, payload)
        if route == "stream":
            if proto == "queue":
                event_id = _SESSIONS.get(request.query.get("session_hash", ""))
            else:
                event_id = rest.rsplit("/", 1)[-1]
            return await scenario.stream(request, proto, event_id)
        if route == "cancel":
            return await scenario.cancel(request)
        if route == "file":
            return await scenario.file(request)
        return web.json_response({"detail": "Not Found"}, status=404)


class FaultProxy(_ThreadedApp):
    """A reverse proxy in front of a real Space that breaks one request in ``every``.

    Only submits and event streams are counted and broken, and a generation
    (told apart by its prompt, which must be unique) is broken at most once,
    so every generation can recover within the provider's three attempts;
    when the request due for a fault belongs to an already-broken generation,
    the fault moves to the next request that does not. Faults cycle through
    ``kinds``: ``"503"`` (a proxy's HTML page, the request never reaches the
    Space), ``"reset"`` (the connection is reset before the request is
    forwarded) and ``"reset_mid"`` (a stream's headers are relayed, then the
    connection is reset; a submit is reset instead).

    :attr:`faults` lists ``(kind, route, prompt)`` of every fault injected.
    """

    def __init__(
        self,
        upstream: str,
        *,
        every: int = 10,
        host: str = "127.0.0.1",
        kinds: tuple[str, ...] = ("503", "reset", "reset_mid"),
    ) -> None:
        super().__init__(host)
        self.upstream = upstream.rstrip("/")
        self.every = every
        self.kinds = kinds
        self.faults: list[tuple[str, str, str]] = []
        self.forwarded = 0
        self._counted = 0
        self._owed = 0
        self._broken: set[str] = set()
        self._prompts: dict[str, str] = {}  # event id or session hash -> prompt
        self._session = None

    async def _on_startup(self) -> None:
        import aiohttp

        # No keep-alive upstream: the proxy holds no idle descriptor between requests.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=0),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=60),
        )

    async def _on_cleanup(self) -> None:
        await self._session.close()

    def _prompt(self, route: str, request: web.Request, body: bytes) -> str | None:
        if route == "submit":
            try:
                return str(json.loads(body)["data"][0])
            except (ValueError, KeyError, IndexError, TypeError):
                return None
        if route == "stream":
            key = request.query.get("session_hash") or request.path.rsplit("/", 1)[-1]
            return self._prompts.get(key)
        return None

    def _fault_for(self, route: str, prompt: str | None) -> str | None:
        if route not in ("submit", "stream"):
            return None
        self._counted += 1
        if self._counted % self.every == 0:
            self._owed += 1
        if not self._owed or prompt is None or prompt in self._broken:
            return None
        self._owed -= 1
        self._broken.add(prompt)
        kind = self.kinds[len(self.faults) % len(self.kinds)]
        if kind == "reset_mid" and route != "stream":
            kind = "reset"
        self.faults.append((kind, route, prompt))
        return kind

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        prefix = "/gradio_api" if request.path.startswith("/gradio_api/") else ""
        route = route_of(request.method, request.path, prefix)
        prompt = self._prompt(route, request, body)
        if route == "submit" and prompt is not None:
            try:
                session = json.loads(body).get("session_hash")
            except (ValueError, AttributeError):
                session = None
            if session:
                self._prompts[session] = prompt
        fault = self._fault_for(route, prompt)
        if fault == "503":
            return status_response(503)
        if fault == "reset":
            reset(request)
            raise _Dropped
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        self.forwarded += 1
        async with forward(self._session, self.upstream, request, headers, body) as upstream:
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            if not upstream.headers.get("content-type", "").startswith("text/event-stream"):
                payload = await upstream.read()
                if route == "submit" and upstream.status == 200 and prompt is not None:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        self._prompts[json.loads(payload)["event_id"]] = prompt
                return web.Response(status=upstream.status, body=payload, headers=out_headers)
            response = web.StreamResponse(status=upstream.status, headers=out_headers)
            await response.prepare(request)
            if fault == "reset_mid":
                await asyncio.sleep(0.01)
                reset(request)
                raise _Dropped
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response


# -- client-side helpers and fixtures shared by the test modules ----------------

#: Retries as the provider makes them, with backoff short enough for tests.
FAST_RETRY_ATTEMPTS = 3


@dataclass
class Outcome:
    """What one generation produced: its items, its error, how long it took."""

    items: list
    error: BaseException | None
    elapsed: float

    @property
    def image(self):
        """The final image response, or ``None``."""
        last = self.items[-1] if self.items else None
        return last if last is not None and getattr(last, "images", None) else None

    def events(self, kind: str) -> list:
        """The structured progress events of ``kind`` (e.g. ``"retry"``)."""
        return [item.event for item in self.items if getattr(item, "event", None) and item.event.kind == kind]


def pending_tasks() -> list[asyncio.Task]:
    """Tasks of the running loop other than the caller's that have not finished."""
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and not task.done()]


async def generate(
    root: str,
    *,
    transport: Any = "aiohttp",
    protocol: str = "auto",
    timeout: float = 5.0,
    prompt: str = "a cat",
    check_tasks: bool = True,
    **kwargs: Any,
) -> Outcome:
    """Run one generation of the provider against ``root`` and return its :class:`Outcome`.

    Unless ``check_tasks`` is false, also asserts that it left no task behind.
    """
    from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

    items: list = []
    error: BaseException | None = None
    started = time.monotonic()
    try:
        async for item in BlackForestLabs_Flux1Schnell.create_async_generator(
            "flux-schnell",
            None,
            prompt=prompt,
            api_base=root,
            transport=transport,
            protocol=protocol,
            timeout=timeout,
            seed=7,
            randomize_seed=False,
            **kwargs,
        ):
            items.append(item)
    except Exception as caught:  # the outcome under test
        error = caught
    elapsed = time.monotonic() - started
    if check_tasks:
        left = pending_tasks()
        assert not left, f"tasks left behind by the generation: {left}"
    return Outcome(items, error, elapsed)


@pytest.fixture(scope="module")
def space():
    """A fault server playing a Gradio 6 Space (routes under ``/gradio_api``)."""
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="module")
def legacy_space():
    """A fault server playing a Gradio 4 Space (unprefixed routes)."""
    with FaultServer(prefix="") as server:
        yield server


@pytest.fixture(scope="module")
def foreign():
    """The "foreign host": another loopback address (or port), a different origin."""
    with FaultServer(host=foreign_host()) as server:
        yield server


@pytest.fixture
def fresh(space, foreign, monkeypatch):
    """Healthy servers, no recorded requests, no cached config."""
    from g4f_flux_plugin._config import ConfigCache
    from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

    monkeypatch.setattr(BlackForestLabs_Flux1Schnell, "config_cache", ConfigCache())
    space.use("ok")
    foreign.use("ok")
    return space


@pytest.fixture
def fast_retries(monkeypatch):
    """The provider's retry policy with millisecond backoff (same attempts)."""
    from g4f_flux_plugin._retry import RetryPolicy
    from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

    policy = RetryPolicy(attempts=FAST_RETRY_ATTEMPTS, base=0.02, cap=0.1)
    monkeypatch.setattr(BlackForestLabs_Flux1Schnell, "retry_policy", policy)
    return policy


# -- manual use -------------------------------------------------------------------


def serve_forever(argv: list[str] | None = None) -> None:  # pragma: no cover - manual use
    """``python tests/fault_server.py SCENARIO [key=json ...]``: serve one scenario for manual poking."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    options = {key: json.loads(value) for key, value in (arg.split("=", 1) for arg in args[1:])}
    with FaultServer() as server:
        server.use(args[0] if args else "ok", **options)
        print(f"FAULT SERVER {server.root} scenario={server.scenario.name}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    serve_forever()
