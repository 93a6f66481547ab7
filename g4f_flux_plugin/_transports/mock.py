"""A transport that calls a function instead of a server, for tests without sockets.

Modelled on httpx's ``MockTransport``::

    def handler(request: MockRequest) -> MockResponse:
        if request.url.endswith("/config"):
            return MockResponse(200, json=config)
        return MockResponse(404)

    async with MockTransport(handler) as transport:
        ...  # give it to the client as transport=

The handler may be a plain function or a coroutine function. It may raise
(a :class:`~.._errors.SpaceConnectError`, say) to play a failing network.
A body may be bytes, or an iterable of byte chunks handed out one by one,
which is how an event stream is played.
"""

from __future__ import annotations

import asyncio
import inspect
import json as json_module
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import Body, Headers, Method, Response, Seconds, Transport

__all__ = ["MockRequest", "MockResponse", "MockTransport"]


@dataclass(frozen=True)
class MockRequest:
    """What the client sent: method, URL, headers (lower-case names) and body."""

    method: Method
    url: str
    headers: Mapping[str, str]
    content: bytes | None = None

    def json(self) -> Any:
        """The body, decoded as JSON."""
        return json_module.loads(self.content or b"null")


class MockResponse(Response):
    """A canned answer: ``MockResponse(200, json={...})``, ``content=b"..."``
    or ``chunks=[b"data: 1\\n\\n", ...]`` for a stream. ``hold_open=True``
    keeps the body open after its chunks until the response is closed, as an
    event stream of a job that has not ended does."""

    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = None,
        content: bytes | None = None,
        chunks: Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        hold_open: bool = False,
    ) -> None:
        self.status = status
        self.headers = {key.lower(): value for key, value in (headers or {}).items()}
        if json is not None:
            content = json_module.dumps(json).encode()
            self.headers.setdefault("content-type", "application/json")
        self._chunks = list(chunks) if chunks is not None else [content or b""]
        self.url = ""
        self.closed = False
        self._hold_open = hold_open
        self._closing: asyncio.Event | None = None

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        for chunk in self._chunks:
            if chunk:
                yield chunk
        if self._hold_open and not self.closed:
            self._closing = asyncio.Event()
            await self._closing.wait()

    async def aclose(self) -> None:
        self.closed = True
        if self._closing is not None:
            self._closing.set()


Handler = Callable[[MockRequest], "MockResponse | Awaitable[MockResponse]"]


@dataclass
class MockTransport(Transport):
    """A :class:`Transport` whose every request is answered by ``handler``.

    ``requests`` records what was sent, in order; ``closed`` says whether
    :meth:`aclose` ran (a transport the client owns must be closed by it).
    """

    handler: Handler
    requests: list[MockRequest] = field(default_factory=list)
    closed: bool = False
    name = "mock"

    async def request(
        self, method: Method, url: str, *, headers: Headers, content: Body = None, timeout: Seconds = None
    ) -> Response:
        sent = MockRequest(method, url, {key.lower(): value for key, value in headers.items()}, content)
        self.requests.append(sent)
        answer = self.handler(sent)
        if inspect.isawaitable(answer):
            answer = await answer
        answer.url = url
        return answer

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:  # never shows headers (a token may be in them)
        return f"<MockTransport {len(self.requests)} requests>"
