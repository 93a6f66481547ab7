"""The Space client: discovery, the call and queue protocols, cancel, retries.

Protocol code only: it speaks HTTP through :class:`~._http.HttpClient` and
reads events through the sans-I/O :class:`~._sse.SSEDecoder`; it never
imports an HTTP library. A job is an async generator of
:class:`~._events.ProgressEvent` items ending with one
:class:`~._events.GeneratedImage`; closing it early cancels the job on the
Space.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote

from ._config import SpaceConfig, parse_config
from ._errors import (
    JobCancelledError,
    QuotaExceededError,
    SpaceConnectionError,
    SpaceError,
    SpaceProtocolError,
    SpaceRateLimitError,
    SpaceStatusError,
    StreamCutError,
    error_from_space,
)
from ._events import GeneratedImage, ProgressEvent
from ._http import HttpClient, origin_of
from ._params import ImageRequest, Limits
from ._sse import SSEDecoder, SSEError

__all__ = ["RetryPolicy", "SpaceClient", "PROTOCOLS"]

log = logging.getLogger("g4f_flux_plugin")

PROTOCOLS = ("auto", "queue", "call")
CANCEL_TIMEOUT = 2.0  # a cancel is a courtesy to the Space: never wait long for it
DRAIN_TIMEOUT = 0.2  # how long the end of a finished stream is awaited (keep-alive)
MAX_EVENT_BYTES = 1 << 20  # a result message is about 1 kB
MAX_LINE_BYTES = 1 << 20

# Configs per Space root, shared by all generations of the process.
_config_cache: dict[str, SpaceConfig] = {}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    ``attempts`` counts the first try. The ``n``-th retry waits about
    ``base * 2**n`` seconds (capped), scaled by a random factor in [0.5, 1],
    or what the Space asked for in ``Retry-After``, whichever is longer; a
    wait that would pass the deadline is not made: the error is raised.
    """

    attempts: int = 3
    base: float = 0.5
    cap: float = 8.0

    def delay(self, retry: int, error: BaseException) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        backoff = min(self.cap, self.base * 2**retry) * random.uniform(0.5, 1.0)
        asked = getattr(error, "retry_after", None)
        return max(backoff, asked) if isinstance(asked, (int, float)) else backoff


def is_retryable(error: BaseException) -> bool:
    """Whether submitting again may succeed: transient network and server
    trouble only, never a quota, a validation error or a job the Space failed."""
    if isinstance(error, QuotaExceededError):
        return False
    if isinstance(error, (SpaceConnectionError, StreamCutError, SpaceRateLimitError)):
        return True
    return isinstance(error, SpaceStatusError) and error.status in (408, 502, 503, 504)


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
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        self.http = http
        self.protocol = protocol
        self.retry = retry
        self.deadline = deadline  # in loop.time(); the caller enforces it, we plan with it

    # -- discovery ---------------------------------------------------------
    async def config(self, *, refresh: bool = False) -> SpaceConfig:
        """The Space's config, from ``GET {root}/config`` (cached per root)."""
        root = self.http.root
        if not refresh and root in _config_cache:
            return _config_cache[root]
        data = await self.http.json("GET", f"{root}/config", what="reading the Space's /config")
        config = parse_config(root, data)
        _config_cache[root] = config
        return config

    # -- a whole generation -----------------------------------------------
    async def generate(self, request: "ImageRequest | Callable[[Limits], ImageRequest]") -> AsyncIterator[Any]:
        """Run one generation with retries; yield progress, then the image.

        ``request`` may be a function of the Space's :class:`Limits`, called
        once its ``/config`` is known, so sizes are clamped to its real ranges.
        """
        retry = 0
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
                if not is_retryable(error) or retry + 1 >= self.retry.attempts:
                    raise
                delay = self.retry.delay(retry, error)
                if self.deadline is not None and asyncio.get_running_loop().time() + delay >= self.deadline:
                    raise
                log.info("attempt %d failed (%s); retrying in %.1f s", retry + 1, error, delay)
                yield ProgressEvent("retry", eta=delay, message=str(error))
                await asyncio.sleep(delay)
                retry += 1

    async def _attempt(self, request: "ImageRequest | Callable[[Limits], ImageRequest]") -> AsyncIterator[Any]:
        """One submission, after which the config is checked once if the
        failure may come from a stale one (a Space that restarted with a new
        layout), and the job submitted again if so."""
        from_cache = self.http.root in _config_cache
        config = await self.config()
        rediscovered = False
        while True:
            job = self._job(config, request if isinstance(request, ImageRequest) else request(config.limits))
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
                if rediscovered or not from_cache or isinstance(error, (JobCancelledError, StreamCutError)):
                    raise
                stale, failure = config, error
            finally:
                await job.aclose()
            config = await self.config(refresh=True)
            rediscovered = True
            if stale is not None:
                if _endpoint(config) == _endpoint(stale):
                    raise failure
                log.info("the Space's config changed (%s -> %s); submitting again",
                         _endpoint(stale), _endpoint(config))

    def _job(self, config: SpaceConfig, request: ImageRequest) -> AsyncIterator[Any]:
        if self.protocol == "queue" and not config.supports_queue:
            raise SpaceProtocolError(
                f"the Space at {config.root} does not offer Gradio's queue protocol for infer "
                f"(protocol {config.protocol!r}); use protocol='call'"
            )
        use_queue = self.protocol == "queue" or (self.protocol == "auto" and config.supports_queue)
        return self._queue_job(config, request) if use_queue else self._call_job(config, request)

    # -- the call protocol -------------------------------------------------
    async def _call_job(self, config: SpaceConfig, request: ImageRequest) -> AsyncIterator[Any]:
        event_id = await self._submit(config, "/call/infer", {"data": request.data()}, "submitting the job")
        finished = False
        try:
            # Inside the try: a caller who stops right after submission (the
            # generator closed at this yield) must still cancel the job.
            yield ProgressEvent("submitted", event_id=event_id)
            response = await self.http.stream(
                config.url(f"/call/infer/{quote(event_id)}"), what="reading the job's events"
            )
            # aclosing (here and below): leaving the loop early must close the
            # decoder generator now, not in a finalizer task at garbage collection.
            async with response, aclosing(_events(response)) as events:
                async for event in events:
                    if event.event in ("complete", "error"):
                        finished = True
                        data = _json(event.data)
                        await _drain(events)
                        if event.event == "error":
                            raise _call_error(data)
                        yield _image(config, data, event_id, request)
                        return
                    # "generating" and "heartbeat" are not terminal.
            raise StreamCutError("the Space closed the event stream before the job ended")
        finally:
            if not finished:
                # A /call/ job's session is its event id (Gradio's default).
                await self._cancel(config, event_id, event_id)

    # -- the queue protocol ------------------------------------------------
    async def _queue_job(self, config: SpaceConfig, request: ImageRequest) -> AsyncIterator[Any]:
        # A fresh session per job: Gradio cancels by session and function, so
        # a shared session would let one job's cancel kill another.
        session_hash = uuid.uuid4().hex[:12]
        payload = {
            "data": request.data(), "event_data": None, "fn_index": config.fn_index,
            "trigger_id": config.trigger_id, "session_hash": session_hash,
        }
        event_id = await self._submit(config, "/queue/join", payload, "joining the Space's queue")
        finished = False
        try:
            yield ProgressEvent("submitted", event_id=event_id)  # inside the try, as above
            response = await self.http.stream(
                config.url(f"/queue/data?session_hash={session_hash}"), what="reading the queue"
            )
            async with response, aclosing(_events(response)) as events:
                async for event in events:
                    message = _json(event.data)
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
                        yield _queue_result(config, message, event_id, request)
                        return
                    if kind == "close_stream":
                        break
                    progress = _queue_progress(message, event_id)
                    if progress is not None:
                        yield progress
            raise StreamCutError("the Space closed the queue stream before the job ended")
        finally:
            if not finished:
                await self._cancel(config, session_hash, event_id)

    # -- shared steps ------------------------------------------------------
    async def _submit(self, config: SpaceConfig, route: str, payload: dict, what: str) -> str:
        try:
            answer = await self.http.json("POST", config.url(route), payload=payload, what=what)
        except SpaceStatusError as error:
            if error.status in (404, 500) and not isinstance(error, SpaceRateLimitError):
                raise _RouteMissing(error) from error
            raise
        event_id = answer.get("event_id") if isinstance(answer, dict) else None
        if not isinstance(event_id, str) or not event_id:
            raise SpaceProtocolError(f"{what}: the Space's answer has no event id")
        return event_id

    async def _cancel(self, config: SpaceConfig, session_hash: str, event_id: str) -> None:
        """Ask the Space to drop the job; best effort, bounded in time."""
        if config.fn_index is None:
            return
        payload = {"session_hash": session_hash, "fn_index": config.fn_index, "event_id": event_id}
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT):
                await self.http.json("POST", config.url("/cancel"), payload=payload, what="cancelling")
            log.debug("cancelled job %s on %s", event_id, config.root)
        except Exception as error:  # the job ends anyway; say why the cancel did not land
            log.debug("cancel of job %s failed: %s", event_id, error)


async def _events(response) -> AsyncIterator[Any]:
    """Decode a response body into SSE events, mapping decoder errors."""
    decoder = SSEDecoder(max_line_bytes=MAX_LINE_BYTES, max_event_bytes=MAX_EVENT_BYTES)
    try:
        async with aclosing(response.aiter_bytes()) as chunks:
            async for chunk in chunks:
                for event in decoder.feed(chunk):
                    yield event
        for event in decoder.close():
            yield event
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


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise SpaceProtocolError(f"malformed JSON in an event: {text[:100]!r}") from None


def _call_error(data: Any) -> Exception:
    # Gradio <= 6.12 sends null; 6.13+ an object with error and title; a
    # dropped job is a bare string such as "404: Not Found".
    if isinstance(data, dict):
        return error_from_space(data.get("error"), data.get("title"))
    return error_from_space(data)


def _queue_result(config: SpaceConfig, message: dict, event_id: str, request: ImageRequest) -> GeneratedImage:
    output = message.get("output")
    output = output if isinstance(output, dict) else {}
    if not message.get("success"):
        raise error_from_space(output.get("error"), output.get("title") or message.get("title"))
    return _image(config, output.get("data"), event_id, request)


def _queue_progress(message: dict, event_id: str) -> ProgressEvent | None:
    kind = message.get("msg")
    if kind == "estimation":
        return ProgressEvent("queued", rank=_int(message.get("rank")), queue_size=_int(message.get("queue_size")),
                             eta=_float(message.get("rank_eta")), event_id=event_id)
    if kind == "process_starts":
        return ProgressEvent("started", eta=_float(message.get("eta")), event_id=event_id)
    if kind == "progress":
        for unit in message.get("progress_data") or []:
            if isinstance(unit, dict) and _int(unit.get("length")) and _int(unit.get("index")) is not None:
                length = _int(unit["length"])
                return ProgressEvent("step", index=min(_int(unit["index"]) + 1, length), length=length,
                                     event_id=event_id)
        return None
    if kind == "log":
        return ProgressEvent("log", level=_str(message.get("level")), title=_str(message.get("title")),
                             message=_str(message.get("log")), event_id=event_id)
    return None  # heartbeat, process_generating, and messages of newer Gradio


def _image(config: SpaceConfig, data: Any, event_id: str, request: ImageRequest) -> GeneratedImage:
    """The ``[FileData, seed]`` output as a :class:`GeneratedImage`."""
    if data is None or (isinstance(data, list) and not data) or data == {}:
        # Gradio completes a cancelled job successfully, with no output.
        raise JobCancelledError("the job was cancelled on the Space before it produced an image")
    if not isinstance(data, list):
        raise SpaceProtocolError("the Space's output is not a list")
    file = data[0]
    if file is None:
        raise SpaceProtocolError("the Space returned no image")
    seed = data[1] if len(data) > 1 else None
    url = path = mime = None
    if isinstance(file, dict):
        url, path, mime = file.get("url"), file.get("path"), file.get("mime_type")
    elif isinstance(file, str):
        path = file
    if isinstance(url, str) and _is_http(url):
        pass
    elif isinstance(path, str) and path:
        url = config.url(f"/file={path}")  # Gradio 4 and proxies that drop the url
    else:
        raise SpaceProtocolError("the Space's output names no image file")
    return GeneratedImage(
        url=url, seed=_int(seed), path=path if isinstance(path, str) else None,
        mime_type=mime if isinstance(mime, str) else None, event_id=event_id, request=request,
    )


def _endpoint(config: SpaceConfig) -> tuple:
    """What routes a job to ``infer``: a change means the cached config is stale."""
    return config.api_prefix, config.fn_index, config.trigger_id


def _is_http(url: str) -> bool:
    try:
        origin_of(url)
    except SpaceProtocolError:
        return False
    return True


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def clear_config_cache() -> None:
    """Forget every discovered config (tests, or a Space known to have changed)."""
    _config_cache.clear()

