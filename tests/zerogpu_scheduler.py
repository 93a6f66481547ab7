"""An emulator of Hugging Face's ZeroGPU scheduler, scripted per test.

On a ZeroGPU Space, the ``spaces`` package (``spaces/zero/client.py``) asks
this service for a GPU before each job and gives it back after. The replica's
ZeroGPU mode (``tests/replica_zerogpu.py``) runs that real client against this
emulator, so every ZeroGPU message the tests meet is built by Hugging Face's
own code from the answers scripted here.

What is **documented** (read from ``spaces`` 0.51.3, ``spaces/zero/api.py`` and
``client.py``; the scheduler itself is closed code):

- ``POST /schedule?cgroupPath&taskId&enableQueue&tokenVersion&durationSeconds[&gpuSize][&token]``
  answers one of:
  - 200 JSON ``ScheduleResponse`` ``{idle, nvidiaIndex, nvidiaUUID, allowToken}``: a GPU;
  - 429 JSON ``QuotaInfos`` ``{left, wait}`` with ``X-Authenticated``
    (``regular``/``pro``, absent for an anonymous caller) and
    ``X-Approve-Result`` (``quota-exceeded``, ``runs-exceeded``,
    ``illegal-duration``, ``pending-overquota-exceeded``): no GPU for this
    caller. The package reads a negative ``wait`` as an illegal duration and a
    zero ``wait`` as the runs limit;
  - 200 ``text/event-stream`` of ``ping`` / ``failed`` / ``succeeded`` (the last
    with a ``ScheduleResponse`` as data), with ``X-Queuing-Reason``
    (``node``/``concurrency``): the caller waits in the GPU queue;
  - 503 (no GPU) or 401 (the proxy token expired).
- ``POST /release?allowToken&fail``: 2xx; 204 means "GPU device not used"
  (the package then shows a warning toast); 404 an unknown token.
- ``POST /allow?allowToken&pid`` and ``POST /startup-report``: 200.

What is **assumed**:

- The package parses each piece ``iter_text()`` yields as one whole event
  (``sse_stream``). httpx (h11) never joins two HTTP chunks into one piece, even
  when they arrive in one TCP read, so the emulator writes each event as a
  chunk of its own (one ``write()`` of a chunked response); checked with no
  pause at all between events. The real scheduler is assumed to do the same.
- ``wait`` is sent as a number of seconds (pydantic reads it as a
  ``timedelta``); the real format is unknown.
- Who the caller is comes from the ``token`` parameter, the ``X-IP-Token`` JWT
  the Space received from HF's front (``tests/hf_front.py``). The emulator
  reads its unverified payload: a ``user`` names an account whose plan
  (``regular`` or ``pro``) the emulator looks up in its ``plans``; no user is
  an anonymous (IP-based) caller. The real scheduler's lookup is closed code.

Everything listens on 127.0.0.1. The emulator runs on its own event loop in a
thread, so one instance can outlive the tests' event loops and serve a replica
shared by the session; its script and records are guarded by a lock.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import threading
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

Plan = Literal["regular", "pro"]
QueueEvent = Literal["ping", "failed", "succeeded"]
ApproveResult = Literal[
    "approved", "runs-exceeded", "quota-exceeded", "illegal-duration", "pending-overquota-exceeded"
]

#: Pause between two events of a queue stream: time passing in the GPU queue
#: (not needed for framing, see "assumed" above).
EVENT_GAP = 0.01


@dataclass(frozen=True)
class Grant:
    """200 ``ScheduleResponse``: a GPU at once."""

    idle: bool = True


@dataclass(frozen=True)
class Quota:
    """429 ``QuotaInfos``: ``left`` seconds of quota, ``wait`` seconds until more
    (0: the runs limit; negative: an illegal duration)."""

    left: int = 13
    wait: float = 312.0
    approve_result: ApproveResult | None = None
    #: Overrides the ``X-Authenticated`` the token implies ("" sends none).
    auth: Plan | Literal[""] | None = None


@dataclass(frozen=True)
class Queue:
    """200 event stream: the caller waits in the GPU queue; ends with the last event."""

    events: tuple[QueueEvent, ...] = ("ping", "succeeded")
    reason: Literal["node", "concurrency"] | None = "node"
    auth: Plan | Literal[""] | None = None


@dataclass(frozen=True)
class Status:
    """A bare status (503: no GPU, 401: the proxy token expired)."""

    status: int


Answer = Grant | Quota | Queue | Status


@dataclass(frozen=True)
class ScheduleCall:
    """One ``/schedule`` request as the emulator received it."""

    params: dict[str, str]
    user: str | None
    answer: Answer

    @property
    def payload(self) -> dict[str, Any] | None:
        """The ``X-IP-Token`` JWT's payload, or None without a token."""
        token = self.params.get("token")
        return jwt_payload(token) if token else None


def jwt_payload(token: str) -> dict[str, Any]:
    """The unverified payload of a JWT (as the ``spaces`` package reads it)."""
    try:
        _, payload, _ = token.split(".")
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"not a JWT: {token[:20]!r}...") from exc
    if not isinstance(decoded, dict):
        raise ValueError("a JWT payload must be an object")
    return decoded


@dataclass
class SchedulerEmulator:
    """The scheduler on 127.0.0.1, in a thread of its own.

    ``plans`` maps the user names the front puts in its JWTs to their plan.
    :meth:`script` sets the answers of the next ``/schedule`` calls, in order;
    once they are used up every call gets :attr:`default` (a GPU at once).
    """

    plans: dict[str, Plan] = field(default_factory=dict)
    default: Answer = field(default_factory=Grant)
    #: What ``/release`` answers (204: "GPU device not used").
    release_status: int = 200
    url: str = ""
    schedules: list[ScheduleCall] = field(default_factory=list)
    releases: list[dict[str, str]] = field(default_factory=list)
    _script: deque[Answer] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    # -- scripting and records (any thread) ------------------------------------
    def script(self, answers: Iterable[Answer] = (), *, release_status: int = 200) -> None:
        """Forget the records and the rest of the old script; answer ``answers`` next."""
        with self._lock:
            self._script = deque(answers)
            self.schedules = []
            self.releases = []
            self.release_status = release_status

    def pending(self) -> int:
        """How many scripted answers are still unused."""
        with self._lock:
            return len(self._script)

    def _next(self) -> Answer:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    # -- life (the caller's thread) -------------------------------------------
    def start(self) -> SchedulerEmulator:
        """Start serving in a daemon thread; returns once it listens."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="zerogpu-scheduler", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"the ZeroGPU scheduler emulator did not start: {failure!r}")
        return self

    def close(self) -> None:
        """Stop serving and join the thread (bounded)."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/schedule", self._schedule)
        app.router.add_post("/release", self._release)
        app.router.add_post("/allow", self._ok)
        app.router.add_post("/startup-report", self._ok)
        self._runner = web.AppRunner(app, shutdown_timeout=1, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the routes -------------------------------------------------------------
    def _auth(self, user: str | None, override: str | None) -> dict[str, str]:
        if override is not None:
            return {"X-Authenticated": override} if override else {}
        plan = self.plans.get(user) if user else None
        return {"X-Authenticated": plan} if plan else {}

    async def _schedule(self, request: web.Request) -> web.StreamResponse:
        params = dict(request.query)
        token = params.get("token")
        user = None
        if token:
            name = jwt_payload(token).get("user")
            user = name if isinstance(name, str) else None
        answer = self._next()
        with self._lock:
            self.schedules.append(ScheduleCall(params, user, answer))
        if isinstance(answer, Grant):
            return web.json_response(_grant(answer.idle))
        if isinstance(answer, Quota):
            headers = self._auth(user, answer.auth)
            if answer.approve_result:
                headers["X-Approve-Result"] = answer.approve_result
            return web.json_response({"left": answer.left, "wait": answer.wait}, status=429, headers=headers)
        if isinstance(answer, Queue):
            return await self._queue(request, answer, self._auth(user, answer.auth))
        return web.Response(status=answer.status)

    async def _queue(
        self, request: web.Request, answer: Queue, headers: dict[str, str]
    ) -> web.StreamResponse:
        if answer.reason:
            headers["X-Queuing-Reason"] = answer.reason
        response = web.StreamResponse(headers={**headers, "Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in answer.events:
            await asyncio.sleep(EVENT_GAP)
            data = f"data: {json.dumps(_grant(True))}\n" if event == "succeeded" else ""
            await response.write(f"event: {event}\n{data}\n".encode())
        await response.write_eof()
        return response

    async def _release(self, request: web.Request) -> web.Response:
        with self._lock:
            self.releases.append(dict(request.query))
            status = self.release_status
        return web.Response(status=status)

    @staticmethod
    async def _ok(request: web.Request) -> web.Response:
        return web.Response(status=200)


def _grant(idle: bool) -> dict[str, Any]:
    return {
        "idle": idle,
        "nvidiaIndex": 0,
        "nvidiaUUID": "MIG-00000000-0000-0000-0000-000000000000",
        "allowToken": uuid.uuid4().hex,
    }
