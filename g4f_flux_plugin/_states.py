"""A Space's life: what to do when it does not answer as a Gradio app.

A sleeping Space's front answers 502/503/504 or times out while it wakes; a
Space in error answers a 49-byte text; a paused one never wakes. When the
Space's id is known, the Hub's ``stage`` says which, and :class:`SpaceStates`
acts on it for :class:`~._gradio.SpaceClient`'s retry loop:

=====================================  =========================================
stage                                   what happens
=====================================  =========================================
RUNNING, RUNNING_*                      nothing more: the usual retries
SLEEPING, STOPPED                       "waking up": wait, ask again, try again
BUILDING, APP_STARTING                  "starting": the same
PAUSED                                  :class:`SpaceUnavailableError` at once
RUNTIME_ERROR, BUILD_ERROR,             :class:`SpaceUnavailableError` at once,
CONFIG_ERROR, NO_APP_FILE               with the Hub's ``errorMessage``
missing, or private to the token        :class:`SpaceUnavailableError` at once
=====================================  =========================================

Waiting never passes the generation's deadline. A Space given by URL alone
has no Hub to ask: the error text is a :class:`SpaceUnavailableError` of its
own (see :mod:`._errors`), and :class:`FrontStates` retries its front's
502/503/504 with backoff until the deadline (it may be waking up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Final, Protocol

from ._errors import (
    NotAGradioAppError,
    SpaceConnectionError,
    SpaceRateLimitError,
    SpaceStatusError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from ._events import ProgressEvent
from ._hub import HubClient, SpaceRuntime
from ._retry import RetryPolicy

__all__ = ["POLL_INTERVAL", "FrontStates", "SpaceStates", "StatesHook", "not_a_gradio_app", "stage_outcome"]

log = logging.getLogger(__package__)

#: Seconds between two looks at a waking or starting Space (the Hub and the front).
POLL_INTERVAL: Final = 5.0

_WAKING = frozenset({"SLEEPING", "STOPPED"})
_STARTING = frozenset({"BUILDING", "APP_STARTING"})
_FAILED = frozenset({"RUNTIME_ERROR", "BUILD_ERROR", "CONFIG_ERROR", "NO_APP_FILE"})
_GATEWAY = frozenset({502, 503, 504})


def not_a_gradio_app(error: BaseException) -> bool:
    """Whether ``error`` means the Space did not answer as a Gradio app: no
    connection, a gateway's 502/503/504 (not Gradio's "queue is full"), the
    front's error text, or an HTML page where JSON was due."""
    if isinstance(error, SpaceRateLimitError):
        return False
    if isinstance(error, SpaceStatusError):
        return error.status in _GATEWAY
    if isinstance(error, SpaceUnavailableError):
        return error.stage is None  # the front's text: the Hub knows more
    return isinstance(error, (SpaceConnectionError, NotAGradioAppError))


def stage_outcome(space_id: str, runtime: SpaceRuntime) -> SpaceUnavailableError | str | None:
    """Pure: what a stage means for a generation.

    A :class:`SpaceUnavailableError` to raise; a sentence to report while
    waiting (waking up, starting); or ``None`` for a running Space or a stage
    this client does not know (the usual retries decide).
    """
    stage = runtime.stage
    if stage in _WAKING:
        return f"The Space {space_id} is waking up ({stage}); it can take a few minutes"
    if stage in _STARTING:
        return f"The Space {space_id} is starting ({stage})"
    if stage == "PAUSED":
        return SpaceUnavailableError(
            f"the Space {space_id} is paused by its owner: it does not wake up on a request, "
            "and only its owner can restart it; use a duplicate of it or another Space",
            stage,
        )
    if stage in _FAILED:
        detail = f": {runtime.error_message}" if runtime.error_message else ""
        return SpaceUnavailableError(
            f"the Space {space_id} has failed ({stage}){detail}; its owner must fix it; "
            "use a duplicate of it or another Space",
            stage,
        )
    return None


class StatesHook(Protocol):
    """What :class:`~._gradio.SpaceClient` asks before retrying a failure."""

    def handles(self, error: BaseException) -> bool:
        """Whether ``error`` is for :meth:`recover`."""
        ...

    def recover(self, error: BaseException, deadline: float | None) -> AsyncGenerator[ProgressEvent, None]:
        """Progress while waiting; raise for a Space that will not come back."""
        ...


class SpaceStates:
    """The Hub's view of one Space, for the retry loop of its client.

    ``poll_interval`` is the wait between two looks at a waking Space (an
    attribute so a test can shorten it).
    """

    def __init__(self, hub: HubClient, space_id: str, *, poll_interval: float = POLL_INTERVAL) -> None:
        self.hub = hub
        self.space_id = space_id
        self.poll_interval = poll_interval
        self._waited = 0.0

    def handles(self, error: BaseException) -> bool:
        """Whether the Hub should be asked about ``error``."""
        return not_a_gradio_app(error)

    async def recover(
        self, error: BaseException, deadline: float | None
    ) -> AsyncGenerator[ProgressEvent, None]:
        """Ask the Hub about the Space that failed with ``error``, and act.

        Raises :class:`SpaceUnavailableError` for a Space that will not come
        back by waiting; for a waking or starting one, yields a ``"space"``
        progress event and waits (at most until ``deadline``, in the loop's
        time), after which the caller tries again. Yields nothing when the
        usual retries should decide (running, or the Hub cannot be asked).
        """
        try:
            runtime = await self.hub.runtime(self.space_id)
        except SpaceUnavailableError:
            raise
        except Exception as hub_error:  # the Hub is down: the front alone decides
            log.debug("asking the Hub about %s failed: %s", self.space_id, hub_error)
            return
        outcome = stage_outcome(self.space_id, runtime)
        if outcome is None:
            return
        if isinstance(outcome, SpaceUnavailableError):
            raise outcome from error
        loop = asyncio.get_running_loop()
        wait = self.poll_interval
        if deadline is not None and loop.time() + wait >= deadline:
            raise SpaceTimeoutError(
                f"{outcome[0].lower()}{outcome[1:]}, and the generation's deadline comes first "
                f"(waited {self._waited:.0f} s; a ZeroGPU Space can take minutes to wake: "
                "allow a longer timeout)"
            ) from error
        news = outcome if not self._waited else f"{outcome} (waiting for {self._waited:.0f} s)"
        yield ProgressEvent("space", eta=wait, message=news)
        await asyncio.sleep(wait)
        self._waited += wait


class FrontStates:
    """A Space given by URL alone, whose front is all there is to read: a
    502, 503 or 504 (not Gradio's "queue is full") may be a Space waking up,
    so it is retried with ``policy``'s backoff, beyond its ``attempts``,
    until the deadline."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._retries = 0

    def handles(self, error: BaseException) -> bool:
        """Whether ``error`` is a gateway's answer."""
        return (
            isinstance(error, SpaceStatusError)
            and not isinstance(error, SpaceRateLimitError)
            and error.status in _GATEWAY
        )

    async def recover(
        self, error: BaseException, deadline: float | None
    ) -> AsyncGenerator[ProgressEvent, None]:
        """Wait the next backoff (a ``"retry"`` event first), unless it would
        pass the deadline: then nothing, and the usual retries decide."""
        delay = self.policy.delay(self._retries, error)
        if deadline is not None and asyncio.get_running_loop().time() + delay >= deadline:
            return
        self._retries += 1
        log.info("the Space's front answered %s; retrying in %.1f s", error, delay)
        yield ProgressEvent("retry", eta=delay, message=str(error))
        await asyncio.sleep(delay)
