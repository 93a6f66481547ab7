"""HTTP on top of a transport: headers, the token's scope, redirects, limits.

The token is attached per request, and only when the request's origin
(scheme, host, port) is the Space's own: a redirect or a file URL pointing
anywhere else gets no ``Authorization`` header. Only ``http`` and ``https``
URLs are requested at all.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import Any
from urllib.parse import urljoin, urlsplit

from ._errors import SpaceProtocolError, error_from_status
from ._transports import Response, Transport

__all__ = ["HttpClient", "origin_of"]

MAX_JSON_BYTES = 1 << 20  # /config of the Space is about 50 kB
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; ``SpaceProtocolError`` otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise SpaceProtocolError(f"refusing to follow a non-HTTP URL: {url[:200]!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise SpaceProtocolError(f"invalid port in URL: {url[:200]!r}") from None
    return scheme, parts.hostname.lower(), port


class HttpClient:
    """Requests to one Space over one transport, with the token kept in scope."""

    def __init__(self, transport: Transport, root: str, token: str | None = None) -> None:
        self.transport = transport
        self.root = root.rstrip("/")
        self._origin = origin_of(self.root)
        self._token = token

    def __repr__(self) -> str:  # the token never appears in a repr
        return f"<HttpClient root={self.root!r} token={'set' if self._token else 'none'}>"

    def headers_for(self, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Headers for a request to ``url``: the token only on the Space's origin."""
        headers = {"x-gradio-user": "api", "accept-encoding": "gzip, deflate"}
        if self._token and origin_of(url) == self._origin:
            headers["authorization"] = f"Bearer {self._token}"
        if extra:
            headers.update(extra)
        return headers

    async def open(self, method: str, url: str, *, payload: Any = None,
                   accept: str | None = None) -> Response:
        """Send a request, following redirects by hand; return the final response."""
        content = None if payload is None else json.dumps(payload).encode()
        for _ in range(MAX_REDIRECTS + 1):
            extra = {"content-type": "application/json"} if content is not None else {}
            if accept:
                extra["accept"] = accept
            response = await self.transport.request(
                method, url, headers=self.headers_for(url, extra), content=content
            )
            if response.status not in _REDIRECTS or "location" not in response.headers:
                return response
            await response.aclose()
            url = urljoin(url, response.headers["location"])
            origin_of(url)  # refuse file:, data:, javascript: and friends
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, content = "GET", None
        raise SpaceProtocolError(f"more than {MAX_REDIRECTS} redirects")

    async def json(self, method: str, url: str, *, payload: Any = None, what: str) -> Any:
        """Send a request and return its JSON body; typed errors on failure."""
        response = await self.open(method, url, payload=payload, accept="application/json")
        async with response:
            if response.status >= 400:
                body = await _read_excerpt(response)
                raise error_from_status(response.status, body, response.headers.get("retry-after"), what)
            body = await response.read(MAX_JSON_BYTES)
        try:
            return json.loads(body)
        except ValueError:
            raise SpaceProtocolError(f"{what}: the Space did not answer JSON") from None

    async def stream(self, url: str, *, what: str) -> Response:
        """Open an event stream; typed errors for an error status."""
        response = await self.open("GET", url, accept="text/event-stream")
        if response.status >= 400:
            async with response:
                body = await _read_excerpt(response)
            raise error_from_status(response.status, body, response.headers.get("retry-after"), what)
        return response


async def _read_excerpt(response: Response, limit: int = 64 << 10) -> bytes:
    # An error body is only quoted in a message: read its head, never all of
    # it (a proxy's 8 MB error page still has its <title> near the top).
    head = b""
    try:
        async with aclosing(response.aiter_bytes()) as body:
            async for chunk in body:
                head += chunk
                if len(head) >= limit:
                    break
    except Exception:  # a broken error page still yields a status error
        pass
    return head[:limit]
