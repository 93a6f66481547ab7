"""The aiohttp adapter (the default transport)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncGenerator

import aiohttp

from .._errors import SpaceConnectError, SpaceConnectionError
from . import _failures as failures
from ._failures import os_reason
from .base import DEFAULT_TIMEOUTS, Body, Headers, Method, Response, Seconds, Timeouts, Transport

__all__ = ["AiohttpTransport"]

# Errors raised before anything reached the server: always safe to retry.
_CONNECT_ERRORS = (
    aiohttp.ClientConnectorError,
    aiohttp.ClientProxyConnectionError,
    aiohttp.ConnectionTimeoutError,
)


def _translate(error: BaseException, url: str) -> Exception:
    origin, host = _origin(url)
    if isinstance(error, _CONNECT_ERRORS):
        return SpaceConnectError(f"cannot connect to {origin}: {_connect_reason(error, host)}")
    if isinstance(error, (asyncio.TimeoutError, aiohttp.SocketTimeoutError)):
        return SpaceConnectionError(f"{origin} sent nothing for too long (read timeout)")
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return SpaceConnectionError(f"{origin} closed the connection before answering")
    reason = os_reason(getattr(error, "os_error", None) or error, host) or str(error) or type(error).__name__
    return SpaceConnectionError(f"connection to {origin} broke: {reason}")


def _connect_reason(error: aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError, host: str) -> str:
    if isinstance(error, aiohttp.ClientProxyConnectionError):
        return f"{failures.PROXY} ({os_reason(error.os_error, host) or error.os_error})"
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return failures.TIMED_OUT
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return os_reason(error.certificate_error, host) or failures.tls_reason(host, None)
    return os_reason(error.os_error, host) or str(error.os_error)


def _origin(url: str) -> tuple[str, str]:
    from yarl import URL

    parsed = URL(url)
    if not parsed.host:
        return url, ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}:{parsed.port}", parsed.host


def _ssl_setting(verify: bool | str) -> bool | ssl.SSLContext:
    if verify is True:
        return True
    if verify is False:
        return False

    return ssl.create_default_context(cafile=verify)


class _AiohttpResponse(Response):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = {key.lower(): value for key, value in response.headers.items()}
        self.url = str(response.url)

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise _translate(error, self.url) from error

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            # Fully read: the connection goes back to the pool (keep-alive).
            self._response.release()
        else:
            # Unread body (an open event stream, a cancel): drop the connection.
            self._response.close()


class AiohttpTransport(Transport):
    """Transport over an :class:`aiohttp.ClientSession` (keep-alive, no redirects).

    ``proxy`` is an HTTP proxy URL; ``keep_cookies=False`` stores no cookie;
    ``verify`` is ``True`` (the system's CAs), the path of a CA bundle to
    trust instead (a company's TLS proxy, a test CA), or ``False`` (no check:
    never across a network).

    ``max_connections`` caps the connections open at once; the default, 0,
    sets no cap, so the operating system's descriptor limit is the only one.
    A Gradio event stream holds its connection for as long as its job waits
    in the Space's queue, so any cap below the number of generations in
    flight would keep the next one from even submitting. If a cap is set, a
    request waiting for a free connection waits without a time limit (the
    generation's deadline bounds it): the connect timeout bounds only the
    TCP and TLS handshakes.
    """

    name = "aiohttp"

    def __init__(
        self,
        *,
        proxy: str | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        keep_cookies: bool = True,
        verify: bool | str = True,
        max_connections: int = 0,
    ) -> None:
        if max_connections < 0:
            raise ValueError(f"max_connections must be 0 (no cap) or more, not {max_connections}")
        self._max_connections = max_connections
        self._proxy = proxy
        self._verify = verify
        self._timeouts = timeouts
        self._keep_cookies = keep_cookies
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession must be made inside the running loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._client_timeout(None),
                auto_decompress=True,
                cookie_jar=None if self._keep_cookies else aiohttp.DummyCookieJar(),
                # aiohttp's default (limit=100) would make generation 101
                # wait for a whole job before it could submit.
                connector=aiohttp.TCPConnector(ssl=_ssl_setting(self._verify), limit=self._max_connections),
            )
        return self._session

    def _client_timeout(self, total: float | None) -> aiohttp.ClientTimeout:
        # sock_connect, not connect: aiohttp's connect timeout also counts the
        # wait for a free connection of the pool, and a request must never
        # fail for a wait on this side. sock_connect bounds the TCP connect
        # and the TLS handshake (also to a proxy), which is what it is for.
        return aiohttp.ClientTimeout(
            total=total, connect=None, sock_connect=self._timeouts.connect, sock_read=self._timeouts.read
        )

    async def request(
        self,
        method: Method,
        url: str,
        *,
        headers: Headers,
        content: Body = None,
        timeout: Seconds = None,
    ) -> Response:
        try:
            response = await self._get_session().request(
                method,
                url,
                headers=dict(headers),
                data=content,
                proxy=self._proxy,
                allow_redirects=False,
                timeout=self._client_timeout(timeout),  # None: the session's own
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise _translate(error, url) from error
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
