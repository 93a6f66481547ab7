"""An emulated Hugging Face Hub on 127.0.0.1: the two routes a client of a Space asks.

Tests point ``HF_ENDPOINT`` at :attr:`HubEmulator.url`. What each route answers,
and where that comes from:

Documented (Hugging Face's docs, huggingface_hub 2.x ``HfApi.space_info`` /
``get_space_runtime``, gradio_client 2.7.2; see PROTOCOL.md, "A Space's life"):

- ``GET /api/spaces/{owner}/{name}/runtime`` answers ``{stage, hardware{current,
  requested}, errorMessage, gcTimeout, ...}``; anonymous for a public Space;
- ``GET /api/spaces/{owner}/{name}`` answers the Space's info, with ``host`` (the
  root URL of its front, ``https://owner-name.hf.space`` on HF) and ``subdomain``;
- a missing Space, or a private one the token cannot read, gets 401/404 with
  ``X-Error-Code: RepoNotFound``;
- huggingface_hub sends its token to the Hub as ``Authorization: Bearer hf_...``
  (``utils/_headers.py``, ``build_hf_headers``).

Assumed (not checkable offline):

- 401 when no token came, 404 when a token came that cannot read the Space
  (the Hub's habit for private repositories); the JSON body ``{"error": ...}``;
- the stage moves on as each test scripts it (:class:`Phase`): a sleeping Space
  stays asleep until its front gets a request (a request wakes it), then keeps
  its stage for the phase's runtime reads or seconds;
- ``hardware.current`` is ``None`` while a Space is not running.

A :class:`SpaceScript` is one Space's story, shared with its front
(``space_front.py``): the Hub says its stage, the front answers as that stage
does. Every request is recorded (``HubEmulator.requests``), with its headers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fault_scenarios import Recorded

#: Every stage the Hub's runtime route can answer.
STAGES = (
    "RUNNING",
    "RUNNING_BUILDING",
    "RUNNING_APP_STARTING",
    "BUILDING",
    "APP_STARTING",
    "SLEEPING",
    "STOPPED",
    "PAUSED",
    "RUNTIME_ERROR",
    "BUILD_ERROR",
    "CONFIG_ERROR",
    "NO_APP_FILE",
)
RUNNING_STAGES = frozenset({"RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"})
ASLEEP_STAGES = frozenset({"SLEEPING", "STOPPED"})
STARTING_STAGES = frozenset({"BUILDING", "APP_STARTING"})
ERROR_STAGES = frozenset({"RUNTIME_ERROR", "BUILD_ERROR", "CONFIG_ERROR", "NO_APP_FILE"})
HARDWARE = "zero-a10g"  # what a ZeroGPU Space reports


@dataclass
class Phase:
    """One stage of a Space's story, held for ``reads`` runtime reads or ``seconds``
    (whichever ends first; neither: for good). ``error_message`` is the Hub's
    ``errorMessage`` during it."""

    stage: str
    reads: int | None = None
    seconds: float | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}; known: {STAGES}")


@dataclass
class SpaceScript:
    """One emulated Space: its id, its story (``phases``, the last held for good)
    and who may read it.

    ``private``: only requests carrying a token of ``readers`` see it (the Hub
    by ``Authorization``, the front by ``X-HF-Authorization``). ``missing``: the
    Hub knows no such Space. ``host`` is set by whoever serves its front.
    """

    id: str
    phases: Sequence[Phase | str] = ("RUNNING",)
    private: bool = False
    missing: bool = False
    readers: tuple[str, ...] = ()
    host: str = ""
    #: Requests the front got (counted by the front; a request wakes a sleeping Space).
    front_requests: int = 0
    _phases: list[Phase] = field(init=False, repr=False)
    _index: int = field(default=0, init=False, repr=False)
    _reads: int = field(default=0, init=False, repr=False)
    _since: float | None = field(default=None, init=False, repr=False)
    _woken: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.id.count("/") != 1:
            raise ValueError(f"a Space id is owner/name, not {self.id!r}")
        self._phases = [phase if isinstance(phase, Phase) else Phase(phase) for phase in self.phases]
        self._start_phase()

    @property
    def subdomain(self) -> str:
        """HF's subdomain of the Space: ``owner-name``, lower case, dots and
        underscores as dashes."""
        return self.id.replace("/", "-").replace("_", "-").replace(".", "-").lower()

    @property
    def phase(self) -> Phase:
        """The phase now (time-limited phases move on when asked)."""
        self._advance_by_time()
        return self._phases[self._index]

    @property
    def stage(self) -> str:
        return self.phase.stage

    def can_read(self, token: str | None) -> bool:
        return not self.missing and (not self.private or (token is not None and token in self.readers))

    def read_runtime(self) -> Phase:
        """The phase a runtime read sees; the read counts towards its end."""
        phase = self.phase
        if self._running_clock():
            self._reads += 1
            if phase.reads is not None and self._reads >= phase.reads:
                self._next_phase()
        return phase

    def front_request(self) -> str:
        """Count a request to the front (it wakes a sleeping Space); the stage it meets."""
        self.front_requests += 1
        if not self._woken:
            self._woken = True
            self._since = time.monotonic()
        return self.stage

    def _running_clock(self) -> bool:
        # A sleeping Space's phase does not run down until a request woke it.
        return self._woken or self._phases[self._index].stage not in ASLEEP_STAGES

    def _start_phase(self) -> None:
        self._reads = 0
        self._woken = self._phases[self._index].stage not in ASLEEP_STAGES
        self._since = time.monotonic() if self._woken else None

    def _next_phase(self) -> None:
        if self._index + 1 < len(self._phases):
            self._index += 1
            self._start_phase()

    def _advance_by_time(self) -> None:
        while True:
            phase = self._phases[self._index]
            if phase.seconds is None or self._since is None or self._index + 1 >= len(self._phases):
                return
            if time.monotonic() - self._since < phase.seconds:
                return
            self._next_phase()


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization``-style header (``Bearer hf_...``), else ``None``."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


@dataclass
class HubEmulator:
    """The Hub's Space routes on 127.0.0.1 for the :class:`SpaceScript` objects given.

    An async context manager; ``url`` is what ``HF_ENDPOINT`` should be.
    """

    spaces: list[SpaceScript] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    def add(self, space: SpaceScript) -> SpaceScript:
        self.spaces.append(space)
        return space

    async def __aenter__(self) -> HubEmulator:
        app = web.Application()
        app.router.add_get("/api/spaces/{owner}/{name}", self._info)
        app.router.add_get("/api/spaces/{owner}/{name}/runtime", self._runtime)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, shutdown_timeout=1, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what the tests read --------------------------------------------------
    def to(self, suffix: str) -> list[Recorded]:
        """The requests whose path ends with ``suffix`` (``"/runtime"``, or a Space id)."""
        return [r for r in self.requests if r.path.endswith(suffix)]

    def runtime_reads(self, space_id: str) -> int:
        return len(self.to(f"/api/spaces/{space_id}/runtime"))

    def info_reads(self, space_id: str) -> int:
        return len(self.to(f"/api/spaces/{space_id}"))

    # -- routes -----------------------------------------------------------------
    def _record(self, request: web.Request) -> None:
        self.requests.append(Recorded.of(request, route="hub"))

    def _find(self, request: web.Request) -> SpaceScript | web.Response:
        space_id = f"{request.match_info['owner']}/{request.match_info['name']}"
        token = bearer(request.headers.get("Authorization"))
        for space in self.spaces:
            if space.id == space_id and space.can_read(token):
                return space
        # The Hub hides private Spaces behind the same answer as missing ones.
        status = 404 if token else 401
        return web.json_response(
            {"error": "Repository Not Found"}, status=status, headers={"X-Error-Code": "RepoNotFound"}
        )

    async def _info(self, request: web.Request) -> web.Response:
        self._record(request)
        space = self._find(request)
        if isinstance(space, web.Response):
            return space
        return web.json_response(
            {
                "id": space.id,
                "author": space.id.split("/")[0],
                "sdk": "gradio",
                "private": space.private,
                "host": space.host,
                "subdomain": space.subdomain,
                "runtime": _runtime_body(space.phase),
            }
        )

    async def _runtime(self, request: web.Request) -> web.Response:
        self._record(request)
        space = self._find(request)
        if isinstance(space, web.Response):
            return space
        return web.json_response(_runtime_body(space.read_runtime()))

    async def _unknown(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response({"error": "not emulated"}, status=404)


def _runtime_body(phase: Phase) -> dict[str, Any]:
    running = phase.stage in RUNNING_STAGES
    body: dict[str, Any] = {
        "stage": phase.stage,
        "hardware": {"current": HARDWARE if running else None, "requested": HARDWARE},
        "storage": None,
        "gcTimeout": 172800,
        "replicas": {"current": 1 if running else 0, "requested": 1},
    }
    if phase.error_message is not None:
        body["errorMessage"] = phase.error_message
    return body
