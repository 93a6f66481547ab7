"""Pluggable HTTP transports: pick one by name, instance, or ``G4F_FLUX_TRANSPORT``."""

from __future__ import annotations

import os

from .base import DEFAULT_TIMEOUTS, Response, Timeouts, Transport

__all__ = ["TRANSPORT_NAMES", "Response", "Timeouts", "Transport", "make_transport", "transport_name"]

TRANSPORT_NAMES = ("aiohttp", "curl_cffi")


def transport_name(choice: str | None) -> str:
    """The transport kind a name stands for (``None``: ``$G4F_FLUX_TRANSPORT``,
    else ``"aiohttp"``); ``ValueError`` for an unknown one."""
    name = (choice or os.environ.get("G4F_FLUX_TRANSPORT") or "aiohttp").strip().lower().replace("-", "_")
    if name == "curl":
        name = "curl_cffi"
    if name not in TRANSPORT_NAMES:
        raise ValueError(
            f"unknown transport {choice or name!r}: use one of {', '.join(TRANSPORT_NAMES)} or a Transport"
        )
    return name


def make_transport(
    choice: str | Transport | None = None,
    *,
    proxy: str | None = None,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    keep_cookies: bool = True,
) -> tuple[Transport, bool]:
    """Return ``(transport, owned)``; ``owned`` is false for a caller's instance,
    which the caller closes. ``None`` reads ``G4F_FLUX_TRANSPORT``, else aiohttp.
    ``keep_cookies`` false makes a transport that never stores a cookie (one
    shared by unrelated callers)."""
    if isinstance(choice, Transport):
        return choice, False
    name = transport_name(choice)
    if name == "aiohttp":
        from ._aiohttp import AiohttpTransport

        return AiohttpTransport(proxy=proxy, timeouts=timeouts, keep_cookies=keep_cookies), True
    try:
        from ._curl_cffi import CurlCffiTransport
    except ImportError as error:
        raise ValueError(
            "transport 'curl_cffi' needs curl_cffi: pip install 'g4f-flux-plugin[curl_cffi]'"
        ) from error
    return CurlCffiTransport(proxy=proxy, timeouts=timeouts, keep_cookies=keep_cookies), True
