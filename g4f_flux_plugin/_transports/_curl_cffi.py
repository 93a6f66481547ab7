"""The curl_cffi adapter (``pip install g4f-flux-plugin[curl_cffi]``).

curl_cffi streams a response through a background task that only ends when
the transfer does, so an open event stream cannot be dropped on its own
without leaving a task behind; instead the transport remembers every stream
task and :meth:`CurlCffiTransport.aclose` closes the session (which ends
every transfer) and then waits for those tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from urllib.parse import urlsplit

from curl_cffi import CurlError, CurlOpt
from curl_cffi.requests import AsyncSession, Response as CurlResponse, exceptions as curl_errors

from .._errors import SpaceConnectError, SpaceConnectionError
from . import _failures as failures
from .base import DEFAULT_TIMEOUTS, Body, Headers, Method, Response, Seconds, Timeouts, Transport

__all__ = ["DEFAULT_MAX_CONNECTIONS", "CurlCffiTransport"]

#: Transfers at once per session unless told otherwise (see CurlCffiTransport).
DEFAULT_MAX_CONNECTIONS = 10_000


def _read_timeout(url: str) -> SpaceConnectionError:
    where = "/".join(url.split("/", 3)[:3])
    return SpaceConnectionError(f"{where} sent nothing for too long (read timeout)")


def _translate(error: BaseException, url: str) -> Exception:
    where = "/".join(url.split("/", 3)[:3])
    host = urlsplit(url).hostname or ""
    reason = _connect_reason(error, host)
    if reason is not None:
        return SpaceConnectError(f"cannot connect to {where}: {reason}")
    if isinstance(error, curl_errors.Timeout):
        return _read_timeout(url)
    code = getattr(error, "code", None)
    detail = _BROKEN.get(int(code)) if isinstance(code, int) else None
    return SpaceConnectionError(f"connection to {where} broke: {detail or type(error).__name__}")


# libcurl's error codes (include/curl/curl.h) for a connection that never
# carried a request, in plain words. 7 (CURLE_COULDNT_CONNECT) is what a
# refused connection gives; libcurl only says "Could not connect to server".
_NO_CONNECTION = {
    5: f"{failures.PROXY} (its host was not found)",
    6: failures.HOST_NOT_FOUND,
    7: failures.REFUSED,
    35: "TLS handshake failed",
    97: failures.PROXY,
}
# curl_cffi's text when curl_multi_init() failed (CURLM_BAD_HANDLE): the
# session's AsyncCurl is then unusable for good.
_BAD_MULTI = "Invalid multi handle"
_BROKEN = {52: "the server closed the connection without answering", 55: "sending failed", 56: failures.RESET}
_CERTIFICATE = (51, 58, 60, 77, 83, 90, 91)  # peer verification and certificate problems


def _connect_reason(error: BaseException, host: str) -> str | None:
    text = str(error)
    code = getattr(error, "code", None)
    code = int(code) if isinstance(code, int) else None
    # libcurl puts strerror in its text ("failed to open socket: Too many open
    # files"); a multi handle that could not even be made says only that it
    # is invalid, so ask the system whether descriptors ran out.
    if "too many open files" in text.lower() or (_BAD_MULTI in text and failures.out_of_descriptors()):
        return failures.TOO_MANY_FILES
    if _BAD_MULTI in text:
        return "curl could not start a transfer (its multi handle is invalid)"
    if isinstance(error, curl_errors.Timeout):
        # curl_cffi maps every CURLE_OPERATION_TIMEDOUT to Timeout; libcurl's
        # text tells the connect phase apart ("Connection timed out after N
        # milliseconds", lib/connect.c) from silence on an open connection.
        return (
            failures.TIMED_OUT
            if "Connection timed out" in text or isinstance(error, curl_errors.ConnectTimeout)
            else None
        )
    if isinstance(error, curl_errors.DNSError) or code == 6:
        return failures.HOST_NOT_FOUND
    if code == 7 and ("unreachable" in text.lower() or "no route" in text.lower()):
        return failures.UNREACHABLE
    if code in _CERTIFICATE:
        detail = text.split("curl: (", 1)[-1].split(") ", 1)[-1].split(". See ", 1)[0]
        return failures.tls_reason(host, detail[:200] or None)
    if code in _NO_CONNECTION:
        return _NO_CONNECTION[code]
    if isinstance(error, curl_errors.ProxyError):
        return failures.PROXY
    return None


def _transfer_task(response: CurlResponse) -> asyncio.Future[object] | None:
    """curl_cffi's task running a streamed transfer (its annotation: a bare Awaitable)."""
    task = response.astream_task
    return task if isinstance(task, asyncio.Future) else None


class _CurlResponse(Response):
    def __init__(self, response: CurlResponse, url: str, read: float) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = {key.lower(): value or "" for key, value in response.headers.items()}
        self.url = url
        self._read = read

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        try:
            # aclosing: curl_cffi's generator must be closed with ours, not
            # left to a finalizer task when the caller stops early.
            async with aclosing(self._response.aiter_content()) as chunks:
                while True:
                    # The bound on silence is kept here, not by libcurl (see
                    # CurlCffiTransport.request): a timer that moves only when
                    # a chunk arrives.
                    try:
                        async with asyncio.timeout(self._read):
                            chunk = await anext(chunks)
                    except StopAsyncIteration:
                        return
                    except TimeoutError:
                        raise _read_timeout(self.url) from None
                    yield chunk
        except (CurlError, OSError) as error:
            raise _translate(error, self.url) from error

    async def aclose(self) -> None:
        task = _transfer_task(self._response)
        if task is None:
            return
        if not task.done():
            # Abort the transfer now: curl_cffi's quit_now alone stops it only
            # at curl's next write, and until then the server sees the stream
            # open (Gradio 4 and 5 then keep a cancelled job queued).
            # Cancelling the transfer's task removes its handle from curl,
            # which closes that connection: it is never reused.
            if self._response.quit_now is not None:
                self._response.quit_now.set()
            task.cancel()
        await asyncio.wait([task])  # never raises; our own cancellation still propagates
        if not task.cancelled():
            task.exception()  # retrieved: a failed transfer's error was seen by the reader


class _ReadCurlResponse(Response):
    """A response curl_cffi has read whole (a request with a timeout)."""

    def __init__(self, response: CurlResponse, url: str) -> None:
        self.status = response.status_code
        self.headers = {key.lower(): value or "" for key, value in response.headers.items()}
        self.url = url
        self._content = response.content

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        if self._content:
            yield self._content

    async def aclose(self) -> None:
        self._content = b""


class CurlCffiTransport(Transport):
    """Transport over a curl_cffi :class:`AsyncSession` (browser TLS fingerprint).

    ``proxy`` is an HTTP proxy URL; ``impersonate`` the browser whose TLS
    fingerprint is shown; ``keep_cookies=False`` sends no stored cookie;
    ``verify`` as :class:`~._aiohttp.AiohttpTransport`'s (a CA bundle path,
    or ``True`` for the system's).

    ``max_connections`` is how many transfers run at once (curl_cffi's
    ``max_clients``, whose own default, 10, would make the eleventh
    generation wait for a whole job before it could submit: an event stream
    holds its transfer while its job waits in the Space's queue). The default,
    10,000, is far above one process's need (each transfer also takes a file
    descriptor). A transfer waiting for a free slot waits without a time limit
    (the generation's deadline bounds it); the connect timeout starts only
    once it has one.
    """

    name = "curl_cffi"

    def __init__(
        self,
        *,
        proxy: str | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        impersonate: str | None = "chrome",
        keep_cookies: bool = True,
        verify: bool | str = True,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be 1 or more, not {max_connections}")
        self._max_connections = max_connections
        self._keep_cookies = keep_cookies
        self._verify = verify
        self._proxy = proxy
        self._timeouts = timeouts
        self._impersonate = impersonate
        self._session: AsyncSession[CurlResponse] | None = None
        # The requests' tasks, then their transfers' tasks.
        self._stream_tasks: set[asyncio.Future[CurlResponse] | asyncio.Future[object]] = set()
        self._abandoned: set[asyncio.Future[CurlResponse]] = set()  # requests whose caller stopped waiting

    def _get_session(self) -> AsyncSession[CurlResponse]:
        if self._session is None:
            self._session = AsyncSession(
                # Every request passes its own timeout (see request()); the
                # connect timeout is libcurl's, set below for all of them.
                timeout=0,  # curl_cffi: none
                proxy=self._proxy,
                allow_redirects=False,
                impersonate=self._impersonate,
                # A CA bundle's path works (curl's CAINFO); the annotation says bool only.
                verify=self._verify,  # type: ignore[arg-type]
                # curl_cffi fills a queue with this many slots up front (a
                # handle is made only when a slot is first used): 10,000
                # cost about 4 ms and 80 KB, once per session.
                max_clients=self._max_connections,
                # libcurl gives every transfer a 64 KiB upload buffer, and an
                # event stream keeps its transfer while its job is queued;
                # what is sent here is a small JSON body, so take libcurl's
                # smallest, 16 KiB: about 107 -> 69 KiB of RSS per waiting
                # generation at a thousand at once (benchmarks, scale).
                curl_options={
                    CurlOpt.UPLOAD_BUFFERSIZE: 16 * 1024,
                    CurlOpt.CONNECTTIMEOUT_MS: int(self._timeouts.connect * 1000),
                },
            )
        return self._session

    async def request(
        self,
        method: Method,
        url: str,
        *,
        headers: Headers,
        content: Body = None,
        timeout: Seconds = None,
    ) -> Response:
        # curl_cffi starts the transfer's task before the headers arrive; if we
        # are cancelled while waiting for them (a deadline), that task lives on
        # where nobody sees it. So the request runs in a task of ours, shielded
        # and tracked, which aclose() waits for with the transfer's own task.
        session = self._get_session()
        if not self._keep_cookies:
            session.cookies.clear()  # a shared transport carries no caller's cookies to another
        # With a timeout, not streamed: a plain transfer gets libcurl's exact
        # total timeout, after which libcurl aborts it. A stream gets 0: no
        # limit from libcurl, whose bound on silence (curl_cffi makes it a
        # low-speed limit) wakes every waiting transfer once a second, which
        # costs CPU with a thousand queued jobs and nothing moving; this
        # transport bounds the silence with asyncio timers instead, for the
        # headers here and for each chunk in _CurlResponse.
        streamed = timeout is None
        task = asyncio.ensure_future(
            session.request(
                method,
                url,
                headers=dict(headers),
                data=content,
                stream=streamed,
                allow_redirects=False,
                timeout=0 if streamed else timeout,
            )
        )
        self._track(task)
        try:
            # curl_cffi hands a stream over with its first body byte.
            response = await asyncio.wait_for(asyncio.shield(task), self._timeouts.read if streamed else None)
        except TimeoutError:  # ours (wait_for); an OSError, so caught before those
            self._abandon(task)
            raise _read_timeout(url) from None
        except (CurlError, OSError) as error:
            if _BAD_MULTI in str(error) and self._session is session:
                # Made while out of descriptors: no transfer ever ran on it.
                # Drop it, so the next request (the limit raised, descriptors
                # freed) makes a working one.
                self._session = None
                await session.close()
            raise _translate(error, url) from error
        except asyncio.CancelledError:
            # The caller gave up (a deadline): the transfer is aborted as soon
            # as curl_cffi hands it over (with its first body byte).
            self._abandon(task)
            raise
        if not streamed:
            return _ReadCurlResponse(response, url)
        return _CurlResponse(response, url, self._timeouts.read)

    def _abandon(self, task: asyncio.Future[CurlResponse]) -> None:
        self._abandoned.add(task)
        if task.done() and not task.cancelled() and task.exception() is None:
            # It finished as we stopped waiting: nobody will read its stream.
            self._abandoned.discard(task)
            stream_task = _transfer_task(task.result())
            if stream_task is not None:
                stream_task.cancel()

    def _track(self, task: asyncio.Future[CurlResponse]) -> None:
        self._stream_tasks.add(task)
        task.add_done_callback(self._request_done)

    def _request_done(self, task: asyncio.Future[CurlResponse]) -> None:
        self._stream_tasks.discard(task)
        abandoned = task in self._abandoned
        self._abandoned.discard(task)
        if task.cancelled() or task.exception() is not None:  # exception() marks it retrieved
            return
        stream_task = _transfer_task(task.result())
        if stream_task is not None and not stream_task.done():
            if abandoned:
                stream_task.cancel()  # nobody will read it: end the transfer and its connection
            self._stream_tasks.add(stream_task)
            stream_task.add_done_callback(self._stream_tasks.discard)

    async def aclose(self) -> None:
        if self._session is None:
            return
        session, self._session = self._session, None
        await session.close()
        # Closing the session ended every transfer; let their tasks finish (a
        # request task that finishes now may hand over a transfer task).
        deadline = asyncio.get_running_loop().time() + 5
        while self._stream_tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(list(self._stream_tasks), timeout=deadline - asyncio.get_running_loop().time())
