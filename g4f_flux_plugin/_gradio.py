"""The Space client: discovery, submit, the call and queue protocols, cancel, and
the retry loop (its policy is :mod:`._retry`).

Protocol code only: it speaks HTTP through :class:`~._http.HttpClient`, reads
events through the sans-I/O :class:`~._sse.SSEDecoder` and leaves what
Gradio's messages mean to the pure :mod:`._messages`; it never imports an
HTTP library. A job is an async generator of
:class:`~._events.ProgressEvent` items ending with one
:class:`~._events.GeneratedImage`; closing it early cancels the job on the
Space.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import _messages as messages
from ._config import ConfigCache, SpaceConfig, parse_config, with_info
from ._errors import (
    JobCancelledError,
    QuotaExceededError,
    SpaceBusyError,
    SpaceError,
    SpaceProtocolError,
    SpaceStatusError,
    StreamCutError,
)
from ._events import ProgressEvent
from ._http import HttpClient
from ._layout import Layout
from ._memory import SpaceMemory
from ._params import ImageRequest, Limits
from ._retry import RetryPolicy, is_retryable
from ._sse import Event, SSEDecoder, SSEError
from ._transports.base import Response
from ._zerogpu import token_warning

if TYPE_CHECKING:  # imported by whoever makes one: a Space that answers costs no import of it
    from ._states import StatesHook

__all__ = ["PROTOCOLS", "RequestBuilder", "RetryPolicy", "SpaceClient", "is_retryable"]

#: What a job is made from: the request, as a function of the Space's ranges.
RequestBuilder = Callable[[Limits], ImageRequest]

log = logging.getLogger(__package__)

PROTOCOLS = ("auto", "queue", "call")
CANCEL_TIMEOUT = 2.0  # a cancel is a courtesy to the Space: never wait long for it
CANCEL_DROP_TIMEOUT = 0.5  # of which the stream opened only to be dropped may take this much
CANCEL_DROP_SETTLE = 0.1  # lets the Space see the dropped stream before /cancel arrives
DRAIN_TIMEOUT = 0.2  # how long the end of a finished stream is awaited (keep-alive)
MAX_EVENT_BYTES = 1 << 20  # a result message is about 1 kB
MAX_LINE_BYTES = 1 << 20


class _RouteMissing(Exception):
    """The submit route answered 404/500: the Space's config may have changed."""

    def __init__(self, error: SpaceStatusError) -> None:
        self.error = error


class SpaceClient:
    """Runs ``infer`` jobs on one Space through one :class:`HttpClient`."""

    def __init__(
        self,
        http: HttpClient,
        *,
        protocol: str = "auto",
        retry: RetryPolicy = RetryPolicy(),
        deadline: float | None = None,
        config_cache: ConfigCache | None = None,
        space_memory: SpaceMemory | None = None,
        states: StatesHook | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        self.http = http
        self.protocol = protocol
        self.retry = retry
        self.deadline = deadline  # in loop.time(); the caller enforces it, we plan with it
        # Owned by whoever made this client (a provider class, a FluxClient), so
        # configs outlive one generation without a module global.
        self.config_cache = ConfigCache() if config_cache is None else config_cache
        # Owned the same way: a quota the Space named is not asked again
        # (for this root and token) until its wait passes.
        self.space_memory = SpaceMemory() if space_memory is None else space_memory
        # The Hub's view of the Space (a Space named by id): waits while it
        # wakes or starts, raises at once when it is paused or failed.
        self.states = states

    # -- discovery ---------------------------------------------------------
    async def config(self, *, refresh: bool = False) -> SpaceConfig:
        """The Space's config, from ``GET {root}/config`` (cached per root),
        and ``GET {prefix}/info`` when ``infer``'s inputs are not the public
        ones (cached with it: read once per root, and again on rediscovery)."""
        root = self.http.root
        cached = None if refresh else self.config_cache.get(root)
        if cached is not None:
            return cached
        data = await self.http.json("GET", f"{root}/config", what="reading the Space's /config")
        config = parse_config(root, data)
        if config.needs_info:
            # all_endpoints: an infer hidden from the API page (show_api=False)
            # is still callable, and only then does /info describe it.
            url = config.url("/info?all_endpoints=true")
            info = await self.http.json("GET", url, what="reading the Space's /info")
            config = with_info(config, info)
        self.config_cache.put(config)
        return config

    # -- a whole generation -----------------------------------------------
    async def generate(self, request: RequestBuilder) -> AsyncGenerator[Any, None]:
        """Run one generation with retries; yield progress, then the image.

        ``request`` is a function of the Space's :class:`Limits` that returns
        the :class:`ImageRequest`, called once its ``/config`` is known (and
        again if the config is discovered anew), so sizes fit its real ranges.
        A quota the Space named for this root and token, whose wait has not
        passed, is raised again at once, without a request.
        """
        known = self.space_memory.known_quota(self.http.root, self.http.token)
        if known is not None:
            raise known
        retry = 0
        renewed_token = False
        while True:
            try:
                # aclosing: a caller who stops early must reach the attempt's
                # cancel now, while the transport is open, not when the
                # abandoned generator is garbage-collected.
                async with aclosing(self._attempt(request)) as attempt:
                    async for item in attempt:
                        yield item
                return
            except Exception as error:
                if isinstance(error, QuotaExceededError):
                    self.space_memory.remember_quota(self.http.root, self.http.token, error)
                if _expired_token(error) and not renewed_token:
                    # ZeroGPU's proxy token expired: a new request gets a new
                    # one, so submit again at once, once (not a backoff retry).
                    renewed_token = True
                    log.info("attempt %d failed (%s); submitting again at once", retry + 1, error)
                    yield ProgressEvent("retry", eta=0.0, message=str(error))
                    continue
                waited = False
                if self.states is not None and self.states.handles(error):
                    async with aclosing(self.states.recover(error, self.deadline)) as news:
                        async for event in news:
                            waited = True
                            yield event
                if waited:  # the Space was waking or starting: it gets fresh retries
                    retry = 0
                    continue
                if not is_retryable(error) or retry + 1 >= self.retry.attempts:
                    raise
                delay = self.retry.delay(retry, error)
                if self.deadline is not None and asyncio.get_running_loop().time() + delay >= self.deadline:
                    raise
                log.info("attempt %d failed (%s); retrying in %.1f s", retry + 1, error, delay)
                yield ProgressEvent("retry", eta=delay, message=str(error))
                await asyncio.sleep(delay)
                retry += 1

    async def _attempt(self, request: RequestBuilder) -> AsyncGenerator[Any, None]:
        """One submission, after which the config is checked once if the
        failure may come from a stale one (a Space that restarted with a new
        layout), and the job submitted again if so."""
        from_cache = self.http.root in self.config_cache
        config = await self.config()
        rediscovered = False
        while True:
            job = self._job(config, request(config.limits))
            try:
                async for item in job:
                    yield item
                return
            except _RouteMissing as missing:
                # The submit route answered 404/500: discover again, once.
                if rediscovered:
                    raise missing.error from None
                stale = failure = None
            except (SpaceError, SpaceProtocolError) as error:
                # A cached fn_index may now name another function (a
                # dependency added before infer): that job runs and fails like
                # any other, so a failure seen with a cached config is checked
                # against a fresh one, once.
                # ZeroGPU's busy answers come before the function runs: not stale.
                if (
                    rediscovered
                    or not from_cache
                    or isinstance(error, (JobCancelledError, StreamCutError, SpaceBusyError))
                ):
                    raise
                stale, failure = config, error
            finally:
                await job.aclose()
            config = await self.config(refresh=True)
            rediscovered = True
            if stale is not None and failure is not None:  # set together, above
                if _endpoint(config) == _endpoint(stale):
                    raise failure
                log.info(
                    "the Space's config changed (%s -> %s); submitting again",
                    _endpoint(stale),
                    _endpoint(config),
                )

    def _job(self, config: SpaceConfig, request: ImageRequest) -> AsyncGenerator[Any, None]:
        if self.protocol == "queue" and not config.supports_queue:
            raise SpaceProtocolError(
                f"the Space at {config.root} does not offer Gradio's queue protocol for infer "
                f"(protocol {config.protocol!r}); use protocol='call'"
            )
        use_queue = self.protocol == "queue" or (self.protocol == "auto" and config.supports_queue)
        return self._queue_job(config, request) if use_queue else self._call_job(config, request)

    # -- the call protocol -------------------------------------------------
    async def _call_job(self, config: SpaceConfig, request: ImageRequest) -> AsyncGenerator[Any, None]:
        event_id = await self._submit(
            config, "/call/infer", {"data": config.data(request)}, "submitting the job"
        )
        finished = streamed = False
        try:
            # Inside the try: a caller who stops right after submission (the
            # generator closed at this yield) must still cancel the job.
            yield ProgressEvent("submitted", event_id=event_id)
            response = await self.http.stream(
                config.url(f"/call/infer/{quote(event_id)}"), what="reading the job's events"
            )
            streamed = True  # the job's stream is open; leaving the block drops it
            # aclosing (here and below): leaving the loop early must close the
            # decoder generator now, not in a finalizer task at garbage collection.
            async with response, aclosing(_events(response)) as events:
                async for event in events:
                    if event.event in ("complete", "error"):
                        finished = True
                        data = messages.parse_json(event.data)
                        await _drain(events)
                        if event.event == "error":
                            raise messages.call_error(data)
                        yield messages.image_from_output(config, data, event_id, request)
                        return
                    # "generating" and "heartbeat" are not terminal.
            raise StreamCutError("the Space closed the event stream before the job ended")
        finally:
            if not finished:
                # A /call/ job's session is its event id (Gradio's default).
                await self._cancel(config, event_id, event_id, streamed=streamed)

    # -- the queue protocol ------------------------------------------------
    async def _queue_job(self, config: SpaceConfig, request: ImageRequest) -> AsyncGenerator[Any, None]:
        # A fresh session per job: Gradio cancels by session and function, so
        # a shared session would let one job's cancel kill another.
        session_hash = uuid.uuid4().hex[:12]
        payload = {
            "data": config.data(request),
            "event_data": None,
            "fn_index": config.fn_index,
            "trigger_id": config.trigger_id,
            "session_hash": session_hash,
        }
        event_id = await self._submit(config, "/queue/join", payload, "joining the Space's queue")
        finished = streamed = False
        try:
            yield ProgressEvent("submitted", event_id=event_id)  # inside the try, as above
            response = await self.http.stream(
                config.url(f"/queue/data?session_hash={session_hash}"), what="reading the queue"
            )
            streamed = True  # as in _call_job
            async with response, aclosing(_events(response)) as events:
                async for event in events:
                    message = messages.parse_json(event.data)
                    if not isinstance(message, dict):
                        raise SpaceProtocolError("a queue message is not a JSON object")
                    kind = message.get("msg")
                    if kind == "unexpected_error":
                        finished = True
                        raise SpaceProtocolError(f"the Space's queue failed: {message.get('message')}")
                    if message.get("event_id") not in (event_id, None):
                        continue
                    if kind == "process_completed":
                        finished = True
                        await _drain(events)
                        yield messages.queue_result(config, message, event_id, request)
                        return
                    if kind == "close_stream":
                        break
                    progress = messages.queue_progress(message, event_id)
                    if progress is not None:
                        _warn_of_token(progress)
                        yield progress
            raise StreamCutError("the Space closed the queue stream before the job ended")
        finally:
            if not finished:
                await self._cancel(config, session_hash, event_id, streamed=streamed)

    # -- shared steps ------------------------------------------------------
    async def _submit(self, config: SpaceConfig, route: str, payload: dict[str, Any], what: str) -> str:
        try:
            answer = await self.http.json("POST", config.url(route), payload=payload, what=what)
        except SpaceStatusError as error:
            if error.status in (404, 500):  # a rate limit is 429/503: never one of these
                raise _RouteMissing(error) from error
            raise
        event_id = answer.get("event_id") if isinstance(answer, dict) else None
        if not isinstance(event_id, str) or not event_id:
            raise SpaceProtocolError(f"{what}: the Space's answer has no event id")
        return event_id

    async def _cancel(self, config: SpaceConfig, session_hash: str, event_id: str, *, streamed: bool) -> None:
        """Take the job off the Space; best effort, bounded in time.

        Two steps, in this order, because that is what works on every Gradio
        generation (measured on 4.44, 5.0, 5.38, 5.50 and 6.31, queue and call):

        1. A stream of the job's session is dropped. Gradio cleans a
           session's queued events when a client of one of its streams
           disconnects (``clean_events``), and on Gradio 4 and 5 that is the
           only thing that takes a queued job off the queue: their ``/cancel``
           only cancels a running task. If the job's own stream was open
           (``streamed``), the caller has dropped it already; if not (stopped
           right after the submission, or while the stream was opening), a
           fresh ``/queue/data`` stream of the session is opened and dropped
           (a ``/call/`` job's session is its event id; ``/queue/data``
           because its headers come at once, where a ``/call/`` stream of a
           queued job sends nothing before a heartbeat).
        2. ``POST /cancel`` cancels the running task, so its slot is free for
           the next job at once (and on Gradio 6 it also removes a queued event).

        The other order fails on Gradio 4 and 5: ``/cancel`` pushes a
        completion message to the session, its stream ends normally after
        it, a normal end cleans nothing, and the queued job runs later anyway.
        Gradio 6's ``/cancel`` removes a queued event itself, so there it is
        posted first, without waiting for step 1: a job queued right behind a
        running one that ends meanwhile would otherwise start.

        Step 1's fresh stream is bounded by the transport itself
        (``timeout=``): curl_cffi hands back a stream only with its first
        body byte, and libcurl's own deadline is what aborts a transfer that
        has not sent one. Closing a stream aborts its transfer at once on
        both transports.
        """
        what = f"cancel of job {event_id}"
        payload = {"session_hash": session_hash, "fn_index": config.fn_index, "event_id": event_id}
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT):
                if _cancel_removes_queued(config):
                    await self._post_cancel(config, payload)
                    if not streamed:
                        await self._drop_a_stream(config, session_hash, what)
                else:
                    if not streamed:
                        await self._drop_a_stream(config, session_hash, what)
                    await asyncio.sleep(CANCEL_DROP_SETTLE)  # the Space sees the drop first
                    await self._post_cancel(config, payload)
            log.debug("cancelled job %s on %s", event_id, config.root)
        except Exception as error:  # the job ends anyway; say why the cancel did not land
            log.debug("%s failed: %s", what, error)

    async def _post_cancel(self, config: SpaceConfig, payload: dict[str, Any]) -> None:
        if config.fn_index is not None:
            await self.http.json("POST", config.url("/cancel"), payload=payload, what="cancelling")

    async def _drop_a_stream(self, config: SpaceConfig, session_hash: str, what: str) -> None:
        """Open a stream of the job's session and drop it (Gradio then cleans
        the session's queued events)."""
        url = config.url(f"/queue/data?session_hash={quote(session_hash)}")
        try:
            # Once the request is there, the Space's stream handler runs; the
            # transport abandons the exchange by the deadline in any case.
            response = await self.http.open(
                "GET", url, accept="text/event-stream", timeout=CANCEL_DROP_TIMEOUT
            )
            await response.aclose()
        except Exception as error:  # a timeout, or a job already gone: /cancel still goes
            log.debug("%s: dropping a stream of its session: %r", what, error)


def _expired_token(error: BaseException) -> bool:
    return isinstance(error, SpaceBusyError) and error.reason == "expired_token"


def _warn_of_token(progress: ProgressEvent) -> None:
    """ZeroGPU's "Falling back to IP-based quotas (...)" toast means HF's
    front did not take the caller's token: worth a warning, not just a
    progress line."""
    if progress.kind == "log":
        warning = token_warning(progress.title, progress.message)
        if warning is not None:
            log.warning("%s", warning)


def _cancel_removes_queued(config: SpaceConfig) -> bool:
    """Whether the Space's ``/cancel`` takes a queued job off its queue (Gradio 6+)."""
    major = (config.version or "").split(".", 1)[0]
    return major.isdigit() and int(major) >= 6


async def _events(response: Response) -> AsyncGenerator[Event, None]:
    """Decode a response body into SSE events, mapping decoder errors."""
    decoder = SSEDecoder(max_line_bytes=MAX_LINE_BYTES, max_event_bytes=MAX_EVENT_BYTES)
    try:
        async with aclosing(response.aiter_bytes()) as chunks:
            async for chunk in chunks:
                for event in decoder.feed(chunk):
                    yield event
        # spec 9.2.6: at the end of the stream an unfinished event is
        # discarded, so close() never has one to give.
        decoder.close()
    except SSEError as error:
        raise SpaceProtocolError(f"unreadable event stream: {error}") from error


async def _drain(events: AsyncIterator[Any]) -> None:
    """Read the rest of a finished job's stream, briefly, so its connection
    can go back to the pool: Gradio ends the stream right after the terminal
    message (``close_stream`` follows ``process_completed``). A stream that
    goes on, or breaks, is simply dropped when the response is closed."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            async for _ in events:
                pass
    except Exception:  # TimeoutError or a broken tail: the result stands
        pass


def _endpoint(config: SpaceConfig) -> tuple[str, int | None, int | None, Layout | None]:
    """What routes a job to ``infer`` and orders its inputs: a change means
    the cached config is stale."""
    return config.api_prefix, config.fn_index, config.trigger_id, config.layout
