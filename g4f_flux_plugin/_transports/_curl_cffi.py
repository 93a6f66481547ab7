"""The curl_cffi adapter (``pip install g4f-flux-plugin[curl_cffi]``).

curl_cffi streams a response through a background task that only ends when
the transfer does, so an open event stream cannot be dropped on its own
without leaving a task behind; instead the transport remembers every stream
task and :meth:`CurlCffiTransport.aclose` closes the session (which ends
every transfer) and then waits for those tasks.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Mapping

from curl_cffi import CurlError
from curl_cffi.requests import AsyncSession
from curl_cffi.requests import exceptions as curl_errors

from .._errors import SpaceConnectError, SpaceConnectionError
from .base import Response, Timeouts, Transport

__all__ = ["CurlCffiTransport"]


def _translate(error: BaseException, url: str) -> Exception:
    origin = url.split("/", 3)[:3]
    where = "/".join(origin)
    if isinstance(error, (curl_errors.ConnectTimeout, curl_errors.DNSError, curl_errors.ProxyError)) or (
        isinstance(error, curl_errors.ConnectionError)
        and getattr(error, "code", None) in (6, 7)  # CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT
    ):
        return SpaceConnectError(f"cannot connect to {where}: {type(error).__name__}")
    if isinstance(error, curl_errors.Timeout):
        return SpaceConnectionError(f"{where} sent nothing for too long (read timeout)")
    return SpaceConnectionError(f"connection to {where} broke: {type(error).__name__}")


class _CurlResponse(Response):
    def __init__(self, response, url: str) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = {key.lower(): value for key, value in response.headers.items()}
        self.url = url

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_content():
                yield chunk
        except (CurlError, OSError) as error:
            raise _translate(error, self.url) from error

    async def aclose(self) -> None:
        task = self._response.astream_task
        if task is not None and task.done():
            await task
        elif self._response.quit_now is not None:
            # Ask curl to stop at its next write; the session close ends it for sure.
            self._response.quit_now.set()


class CurlCffiTransport(Transport):
    """Transport over a curl_cffi :class:`AsyncSession` (browser TLS fingerprint)."""

    name = "curl_cffi"

    def __init__(
        self, *, proxy: str | None = None, timeouts: Timeouts = Timeouts(),
        impersonate: str | None = "chrome",
    ) -> None:
        self._proxy = proxy
        self._timeouts = timeouts
        self._impersonate = impersonate
        self._session: AsyncSession | None = None
        self._stream_tasks: set[asyncio.Future] = set()

    def _get_session(self) -> AsyncSession:
        if self._session is None:
            self._session = AsyncSession(
                # (connect, read): for streams curl_cffi turns read into a
                # low-speed limit, i.e. a bound on silence, not on the total.
                timeout=(self._timeouts.connect, self._timeouts.read),
                proxy=self._proxy, allow_redirects=False, impersonate=self._impersonate,
            )
        return self._session

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], content: bytes | None = None
    ) -> Response:
        try:
            response = await self._get_session().request(
                method, url, headers=dict(headers), data=content, stream=True,
                allow_redirects=False,
            )
        except (CurlError, OSError) as error:
            raise _translate(error, url) from error
        if response.astream_task is not None:
            self._stream_tasks.add(response.astream_task)
            response.astream_task.add_done_callback(self._stream_tasks.discard)
        return _CurlResponse(response, url)

    async def aclose(self) -> None:
        if self._session is None:
            return
        session, self._session = self._session, None
        await session.close()
        if self._stream_tasks:
            # Closing the session ended every transfer; let their tasks finish.
            await asyncio.wait(list(self._stream_tasks), timeout=5)
