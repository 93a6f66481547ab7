"""Hugging Face's front (``*.hf.space``) in front of the real replica, answering as each
stage of the Space does, in step with the emulated Hub (``hub_emulator.py``).

A :class:`SpaceFront` is the recording reverse proxy of ``_helpers.py``
(``RecordingProxy``: it consumes ``X-HF-Authorization`` and sets
``X-Forwarded-Host`` as HF's front does) with a hook that reads the Space's
:class:`~hub_emulator.SpaceScript` on every request:

| stage | the front answers | source |
| --- | --- | --- |
| RUNNING, RUNNING_* | the app (the replica) | |
| SLEEPING, STOPPED, BUILDING, APP_STARTING | ``waking`` in turn: 502, 503, 504, the app, or nothing (``"hang"``) | docs, users' reports: 502/503/504 or a timeout, sometimes healthy between |
| PAUSED | 503 and a short HTML page | assumed (not checkable offline) |
| RUNTIME_ERROR, BUILD_ERROR, CONFIG_ERROR, NO_APP_FILE | 503, ``Your space is in error, check its status on hf.co`` | users' reports (the 49 bytes exactly) |
| private, no token that can read it; missing | 404 | docs |

A request to the front wakes a sleeping Space (the script starts its clock).
A Space that is down (nothing listens at its host) is :meth:`Scenario.down`.
:class:`Scenario` drives both: one Hub, one front per Space, all on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from _helpers import RecordingProxy
from aiohttp import web
from fault_scenarios import HTML_PAGE, REASONS
from hub_emulator import (
    ASLEEP_STAGES,
    ERROR_STAGES,
    RUNNING_STAGES,
    STARTING_STAGES,
    HubEmulator,
    Phase,
    SpaceScript,
    bearer,
)
from launch import free_port

#: HF's answer for a Space in error: exactly 49 bytes.
ERROR_TEXT = "Your space is in error, check its status on hf.co"
assert len(ERROR_TEXT.encode()) == 49
#: What a paused Space's front answers (assumed).
PAUSED_PAGE = "<!DOCTYPE html><html><body><h1>This Space has been paused by its owner.</h1></body></html>"
#: What a waking Space's front answers in turn, by default.
WAKING = (502, 503)
APP = "app"  # in ``waking``: let this request through to the app
HANG = "hang"  # in ``waking``: answer nothing (a front that times out) until the client leaves
HANG_SECONDS = 20.0  # at most; then a 504, so no handler outlives a test by much


def _page(status: int) -> web.Response:
    reason = REASONS.get(status, "Error")
    return web.Response(
        status=status, text=HTML_PAGE.format(status=status, reason=reason), content_type="text/html"
    )


async def _hang(request: web.Request) -> None:
    """Answer nothing until the client gives up (or HANG_SECONDS pass)."""
    waited = 0.0
    while waited < HANG_SECONDS and request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(0.05)
        waited += 0.05


@dataclass
class SpaceFront:
    """The front of one Space: ``url`` is its host; ``proxy.requests`` what it got."""

    script: SpaceScript
    upstream: str
    waking: Sequence[int | str] = WAKING
    proxy: RecordingProxy = field(init=False)
    #: (stage, answer) of each request, answer being a status or ``"app"``.
    answers: list[tuple[str, int | str]] = field(default_factory=list)
    _turns: Iterator[int | str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._turns = itertools.cycle(self.waking)
        self.proxy = RecordingProxy(
            self.upstream, respond=self._respond, consume=("x-hf-authorization",), forwarded=True
        )

    @property
    def url(self) -> str:
        return self.proxy.url

    async def start(self) -> SpaceFront:
        await self.proxy.start()
        self.script.host = self.proxy.url
        return self

    async def close(self) -> None:
        await self.proxy.close()

    def app_requests(self) -> int:
        """How many requests reached the app."""
        return sum(1 for _, answer in self.answers if answer == APP)

    async def _respond(self, request: web.Request) -> web.Response | None:
        stage = self.script.front_request()
        answer = self._answer(stage, bearer(request.headers.get("X-HF-Authorization")))
        self.answers.append((stage, answer if isinstance(answer, str) else answer.status))
        if answer == HANG:
            await _hang(request)
            return _page(504)
        return answer if isinstance(answer, web.Response) else None

    def _answer(self, stage: str, token: str | None) -> web.Response | str:
        if not self.script.can_read(token):
            return _page(404)
        if stage in RUNNING_STAGES:
            return APP
        if stage in ASLEEP_STAGES or stage in STARTING_STAGES:
            turn = next(self._turns)
            return turn if turn in (APP, HANG) else _page(int(turn))
        if stage in ERROR_STAGES:
            return web.Response(status=503, text=ERROR_TEXT, content_type="text/plain")
        return web.Response(status=503, text=PAUSED_PAGE, content_type="text/html")  # PAUSED


@dataclass
class Scenario:
    """One Hub and the fronts of its Spaces, in front of the replica at ``upstream``.

    ::

        async with Scenario(replica.url) as scenario:
            space = await scenario.space("me/flux", [Phase("SLEEPING", reads=1), "RUNNING"])
            monkeypatch.setenv("HF_ENDPOINT", scenario.hub.url)
    """

    upstream: str
    hub: HubEmulator = field(default_factory=HubEmulator)
    fronts: dict[str, SpaceFront] = field(default_factory=dict)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def __aenter__(self) -> Scenario:
        await self._stack.__aenter__()
        await self._stack.enter_async_context(self.hub)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def space(
        self,
        space_id: str,
        phases: Sequence[Phase | str] = ("RUNNING",),
        *,
        waking: Sequence[int | str] = WAKING,
        upstream: str | None = None,
        private: bool = False,
        missing: bool = False,
        readers: tuple[str, ...] = (),
    ) -> SpaceScript:
        """A Space with its story, on the Hub, with a front of its own (``upstream``:
        another replica than the scenario's)."""
        script = self.hub.add(
            SpaceScript(space_id, phases, private=private, missing=missing, readers=readers)
        )
        front = SpaceFront(script, upstream or self.upstream, waking)
        await front.start()
        self._stack.push_async_callback(front.close)
        self.fronts[space_id] = front
        return script

    def down(self, space_id: str, phases: Sequence[Phase | str] = ("RUNNING",)) -> SpaceScript:
        """A Space the Hub knows whose host refuses connections (nothing listens there)."""
        script = self.hub.add(SpaceScript(space_id, phases, host=f"http://127.0.0.1:{free_port()}"))
        return script

    def front(self, space_id: str) -> SpaceFront:
        return self.fronts[space_id]
