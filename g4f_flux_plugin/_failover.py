"""Several Spaces in turn: one generation tries each, in order, under one deadline.

A policy above :class:`~._gradio.SpaceClient` (one Space, one job). A
generation moves to the next Space when one is out of quota or rate limited
for this token, unavailable (paused, failed, missing: see :mod:`._states`),
refusing us, or unreachable; a job the Space itself failed (bad input, say)
is not sent elsewhere. What a Space cannot do is remembered for a while by
the ``memory`` its owner passes (:class:`~._memory.SpaceMemory`) (so the next generation skips it at once).
When every Space fails, the most useful error is raised: a quota first,
with the shortest wait, and the others' failures in its notes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any, Protocol

from ._errors import (
    QuotaExceededError,
    SpaceAuthError,
    SpaceConnectionError,
    SpaceRateLimitError,
    SpaceStatusError,
    SpaceUnavailableError,
)
from ._events import GeneratedImage, ProgressEvent
from ._gradio import RequestBuilder, SpaceClient
from ._spaces import SpaceRef

__all__ = ["SpaceList", "UnavailableMemory", "most_useful", "moves_on"]

log = logging.getLogger(__package__)


class UnavailableMemory(Protocol):
    """What :class:`SpaceList` needs of a memory of unavailable Spaces."""

    def remember_unavailable(
        self, space: str, error: SpaceUnavailableError, token: str | None = None
    ) -> None:
        """Note that ``space`` (an id or a root URL) cannot run jobs for ``token`` now."""

    def known_unavailable(self, space: str, token: str | None = None) -> SpaceUnavailableError | None:
        """The error ``space`` failed with for ``token`` in the last minute, else ``None``."""


def moves_on(error: BaseException) -> bool:
    """Whether another Space may do what this one could not."""
    if isinstance(error, (SpaceRateLimitError, SpaceUnavailableError, SpaceConnectionError, SpaceAuthError)):
        return True
    # A gateway that kept failing after the retries: the Space is not there.
    return isinstance(error, SpaceStatusError) and error.status in (502, 503, 504)


def _wait_of(error: BaseException) -> float:
    wait = getattr(error, "retry_after", None)
    return float(wait) if isinstance(wait, (int, float)) else float("inf")


def most_useful(failures: Sequence[tuple[SpaceRef, BaseException]]) -> BaseException:
    """The error to raise when every Space failed: a quota first (the shortest
    wait), then a rate limit, then a Space's unavailability, then the first
    failure; the other Spaces' failures are added as notes."""

    def rank(pair: tuple[SpaceRef, BaseException]) -> tuple[int, float]:
        error = pair[1]
        if isinstance(error, QuotaExceededError):
            return 0, _wait_of(error)
        if isinstance(error, SpaceRateLimitError):
            return 1, _wait_of(error)
        if isinstance(error, SpaceUnavailableError):
            return 2, 0.0
        return 3, 0.0

    chosen_ref, chosen = min(failures, key=rank)  # min is stable: the first of equals
    if len(failures) > 1:
        chosen.add_note(f"(from {chosen_ref.label}; every Space of the list failed)")
        for ref, error in failures:
            if error is not chosen:
                chosen.add_note(f"{ref.label}: {type(error).__name__}: {error}")
    return chosen


class SpaceList:
    """Runs each job on the first Space of ``spaces`` that takes it.

    ``connect(ref)`` makes the :class:`SpaceClient` of a Space (resolving an
    id through the Hub); it is called once per Space and kept for the
    generations of this list. ``memory`` remembers unavailable Spaces (by
    id or root, and ``token``: the caller's, whose view of private Spaces
    differs from another's) for a minute; ``None`` remembers nothing.
    """

    def __init__(
        self,
        spaces: Sequence[SpaceRef],
        connect: Callable[[SpaceRef], Awaitable[SpaceClient]],
        memory: UnavailableMemory | None = None,
        token: str | None = None,
    ) -> None:
        if not spaces:
            raise ValueError("no Space to try")
        self.spaces = tuple(spaces)
        self._connect = connect
        self.memory = memory
        self._token = token
        self._clients: dict[SpaceRef, SpaceClient] = {}
        self._lock = asyncio.Lock()  # concurrent jobs resolve an id once

    async def client(self, ref: SpaceRef) -> SpaceClient:
        """The client of one Space of the list (made on first use)."""
        async with self._lock:
            if ref not in self._clients:
                self._clients[ref] = await self._connect(ref)
            return self._clients[ref]

    async def generate(self, request: RequestBuilder) -> AsyncGenerator[Any, None]:
        """One generation: progress, then a :class:`GeneratedImage` whose
        ``space`` names the Space that made it. Closing early cancels the
        job on the Space it is on."""
        failures: list[tuple[SpaceRef, BaseException]] = []
        several = len(self.spaces) > 1
        for number, ref in enumerate(self.spaces, 1):
            try:
                remembered = self._remembered(ref)
                if remembered is not None:
                    raise remembered
                if several:
                    yield ProgressEvent(
                        "space", message=f"Trying Space {number} of {len(self.spaces)}: {ref.label}"
                    )
                client = await self.client(ref)
                # aclosing: stopping early reaches the job's cancel on this Space now.
                async with aclosing(client.generate(request)) as job:
                    async for item in job:
                        if isinstance(item, GeneratedImage):
                            item = dataclasses.replace(item, space=ref.label)
                        yield item
                return
            except Exception as error:
                if not moves_on(error):
                    raise  # the Space ran the job and failed it, or a timeout: nowhere else
                self._remember(ref, error)
                failures.append((ref, error))
                if several:
                    log.info("Space %s failed (%s); trying the next one", ref.label, error)
        raise most_useful(failures)

    # The memory is keyed by the Space's label (its id, else its root URL):
    # an id's root is not known before the Hub is asked. And by the caller's
    # token: a Space private to one token is missing to another.
    def _remembered(self, ref: SpaceRef) -> SpaceUnavailableError | None:
        known = None if self.memory is None else self.memory.known_unavailable(ref.label, self._token)
        if known is None:
            return None
        # A new error each time: a raised exception collects notes and frames.
        return SpaceUnavailableError(f"{known.args[0] if known.args else known} (seen recently)", known.stage)

    def _remember(self, ref: SpaceRef, error: BaseException) -> None:
        if self.memory is not None and isinstance(error, SpaceUnavailableError):
            self.memory.remember_unavailable(ref.label, error, self._token)
