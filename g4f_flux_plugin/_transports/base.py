"""The transport interface: the smallest surface the Space client needs.

A transport sends one HTTP request and hands back a :class:`Response` whose
body is read as raw bytes, chunk by chunk, exactly as they arrived: the SSE
decoder, not the HTTP library, splits lines (aiohttp's line reader splits on
LF only, curl_cffi's emits a spurious empty line on a CRLF split across
chunks). Transports never follow redirects (the Space client does, so a token
never crosses to another origin) and translate their library's exceptions
into :class:`~g4f_flux_plugin._errors.SpaceConnectError` (nothing was sent)
and :class:`~g4f_flux_plugin._errors.SpaceConnectionError` (it broke later),
raised ``from`` the original.

A transport owns a session (keep-alive connections) and may serve many
generations, at the same time too; :meth:`Transport.aclose` releases all of
it. Closing a :class:`Response` whose body was not read to its end drops its
connection at once, so the server sees the client go.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from .._errors import SpaceProtocolError

__all__ = ["DEFAULT_TIMEOUTS", "Body", "Headers", "Method", "Response", "Seconds", "Timeouts", "Transport"]

#: The HTTP methods the client sends (Gradio's API needs no others).
Method = Literal["GET", "POST"]
#: A request's headers, sent as given.
Headers = Mapping[str, str]
#: A request's body, if it has one.
Body = bytes | None
#: A duration in seconds; ``None``: no bound of its own.
Seconds = float | None


@dataclass(frozen=True)
class Timeouts:
    """Connect timeout, and the longest silence allowed between two reads.

    ``read`` must exceed Gradio's 15-second heartbeat, or a healthy but slow
    queue would look dead. There is deliberately no total timeout: an event
    stream lasts as long as the job, bounded only by the generation's deadline.
    """

    connect: float = 10.0
    read: float = 45.0


#: The timeouts a transport gets unless told otherwise (immutable, so shared).
DEFAULT_TIMEOUTS = Timeouts()


class Response(ABC):
    """A response whose headers have arrived and whose body has not been read."""

    status: int
    #: Header names are lower-case.
    headers: Mapping[str, str]
    url: str

    @abstractmethod
    def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        """Yield the body's bytes as they arrive (may be called once)."""

    async def read(self, limit: int) -> bytes:
        """Read the whole body, refusing one larger than ``limit`` bytes."""
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise SpaceProtocolError(f"response of {declared} bytes exceeds the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        # aclosing: raising mid-body must close the byte generator now, not
        # leave it to a finalizer task at garbage collection.
        async with aclosing(self.aiter_bytes()) as body:
            async for chunk in body:
                size += len(chunk)
                if size > limit:
                    raise SpaceProtocolError(f"response exceeds the {limit}-byte limit")
                chunks.append(chunk)
        return b"".join(chunks)

    @abstractmethod
    async def aclose(self) -> None:
        """Release the response (abandoning any unread body)."""

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Transport(ABC):
    """Sends requests over one session; see the module docstring."""

    #: The name used by ``transport="..."`` and ``G4F_FLUX_TRANSPORT``.
    name: str = ""

    @abstractmethod
    async def request(
        self, method: Method, url: str, *, headers: Headers, content: Body = None, timeout: Seconds = None
    ) -> Response:
        """Send a request and return once the response headers have arrived.

        ``timeout`` bounds the whole exchange, body included, and is enforced
        by the library itself, which then abandons the transfer and its
        connection (a stream opened only to be dropped, see the client's
        cancel). ``None``: only the transport's connect and read timeouts.
        """

    @abstractmethod
    async def aclose(self) -> None:
        """Close the session and every connection and response still open."""

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:  # never shows headers (a token may be in them)
        return f"<{type(self).__name__}>"
