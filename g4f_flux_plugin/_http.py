"""HTTP on top of a transport: headers, the token's scope, redirects, limits.

The token travels as ``X-HF-Authorization: Bearer <token>``, the header
Hugging Face's proxy authenticates with and strips before the request reaches
the Space's own code (gradio_client does the same since 1.11.1).
``Authorization`` is never used: the proxy passes it on, and any function of
the Space could read it from ``gr.Request``.

The token is attached per request, and only when the request's origin
(scheme, host, port) is the Space's own: a redirect or a file URL pointing
anywhere else gets none. Over plain ``http`` it goes to a loopback host only
(a local replica, an SSH tunnel), never in clear text across a network. Only
``http`` and ``https`` URLs are requested at all.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from contextlib import aclosing
from typing import Any
from urllib.parse import urljoin, urlsplit

from . import __version__
from ._errors import NotAGradioAppError, SpaceProtocolError, error_from_status
from ._transports import Response, Transport
from ._transports.base import Method

__all__ = ["USER_AGENT", "HttpClient", "choose_token", "is_loopback", "origin_of", "read_excerpt"]

log = logging.getLogger(__package__)

#: Names the caller, so the Space's owner and Hugging Face can tell what calls them.
USER_AGENT = f"g4f-flux-plugin/{__version__}"
#: Hugging Face's proxy consumes this header and strips it (see the module docstring).
TOKEN_HEADER = "x-hf-authorization"

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


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost``, 127.0.0.0/8 or ``::1``."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cleartext(url: str) -> bool:
    """Whether a token sent to ``url`` would cross a network unencrypted."""
    scheme, host, _ = origin_of(url)
    return scheme == "http" and not is_loopback(host)


def choose_token(root: str, explicit: str | None, environment: str | None) -> str | None:
    """The token to send to the Space at ``root``, or ``None``.

    ``explicit`` is a token the user passed (``api_key=``, ``--token``);
    ``environment`` one found in ``$HF_TOKEN``. Over plain ``http`` to a host
    that is not loopback, an explicit token is a ``ValueError`` (the user asked
    for something unsafe, and is told before any request), while a token from
    the environment is quietly left out: the user never asked to send it there.
    """
    if explicit:
        if _cleartext(root):
            raise ValueError(
                f"refusing to send the Hugging Face token to {origin_label(root)} over plain "
                "http: it would cross the network in clear text. Use an https:// address, or "
                "a loopback one (127.0.0.1, ::1, localhost) for a local replica or a tunnel."
            )
        return explicit
    if environment:
        if _cleartext(root):
            log.debug(
                "not sending $HF_TOKEN to %s: plain http to a host that is not loopback", origin_label(root)
            )
            return None
        return environment
    return None


def origin_label(url: str) -> str:
    """``scheme://host:port`` of ``url``, for messages (IPv6 hosts in brackets)."""
    scheme, host, port = origin_of(url)
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


class HttpClient:
    """Requests to one Space over one transport, with the token kept in scope."""

    def __init__(
        self, transport: Transport, root: str, token: str | None = None, *, token_header: str = TOKEN_HEADER
    ) -> None:
        self.transport = transport
        # The Hub's API reads "authorization" (what huggingface_hub sends it);
        # a Space gets the token only in TOKEN_HEADER (see the module docstring).
        self._token_header = token_header
        self.root = root.rstrip("/")
        self._origin = origin_of(self.root)
        if token and _cleartext(self.root):
            # choose_token() decides for callers; this guards every other path.
            raise ValueError(f"refusing to send a token to {origin_label(self.root)} over plain http")
        self._token = token

    def __repr__(self) -> str:  # the token never appears in a repr
        return f"<HttpClient root={self.root!r} token={'set' if self._token else 'none'}>"

    @property
    def token(self) -> str | None:
        """The token this client sends to the Space: for keying what is
        remembered per caller (hashed there), never for a message or a log."""
        return self._token

    def headers_for(self, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Headers for a request to ``url``: the token only on the Space's origin."""
        headers = {"user-agent": USER_AGENT, "x-gradio-user": "api", "accept-encoding": "gzip, deflate"}
        if self._token and origin_of(url) == self._origin:
            headers[self._token_header] = f"Bearer {self._token}"
        if extra:
            headers.update(extra)
        return headers

    async def open(
        self,
        method: Method,
        url: str,
        *,
        payload: Any = None,
        accept: str | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send a request, following redirects by hand; return the final response.

        ``timeout`` bounds each exchange, enforced by the transport itself."""
        content = None if payload is None else json.dumps(payload).encode()
        for _ in range(MAX_REDIRECTS + 1):
            extra = {"content-type": "application/json"} if content is not None else {}
            if accept:
                extra["accept"] = accept
            response = await self.transport.request(
                method,
                url,
                headers=self.headers_for(url, extra),
                content=content,
                **({} if timeout is None else {"timeout": timeout}),
            )
            if response.status not in _REDIRECTS or "location" not in response.headers:
                return response
            await response.aclose()
            url = urljoin(url, response.headers["location"])
            origin_of(url)  # refuse file:, data:, javascript: and friends
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, content = "GET", None
        raise SpaceProtocolError(f"more than {MAX_REDIRECTS} redirects")

    async def json(self, method: Method, url: str, *, payload: Any = None, what: str) -> Any:
        """Send a request and return its JSON body; typed errors on failure."""
        response = await self.open(method, url, payload=payload, accept="application/json")
        async with response:
            if response.status >= 400:
                body = await read_excerpt(response)
                raise error_from_status(response.status, body, response.headers.get("retry-after"), what)
            body = await response.read(MAX_JSON_BYTES)
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # deep nesting fits in 1 MiB
            if body.lstrip()[:1] == b"<":  # a front's page, not the app: see _states
                raise NotAGradioAppError(f"{what}: an HTML page came where JSON was due") from None
            raise SpaceProtocolError(f"{what}: the Space did not answer JSON") from None

    async def stream(self, url: str, *, what: str) -> Response:
        """Open an event stream; typed errors for an error status."""
        response = await self.open("GET", url, accept="text/event-stream")
        if response.status >= 400:
            async with response:
                body = await read_excerpt(response)
            raise error_from_status(response.status, body, response.headers.get("retry-after"), what)
        return response


async def read_excerpt(response: Response, limit: int = 64 << 10) -> bytes:
    """The first ``limit`` bytes of an error response's body (fewer if it is shorter).

    Never fails: a body that breaks off yields what arrived, so the caller can
    still raise the error its status calls for.
    """
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
