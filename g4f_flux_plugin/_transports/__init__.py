"""Pluggable HTTP transports: pick one by name, instance, or ``G4F_FLUX_TRANSPORT``."""

from __future__ import annotations

import os

from .base import Response, Timeouts, Transport

__all__ = ["Response", "Timeouts", "Transport", "make_transport", "TRANSPORT_NAMES"]

TRANSPORT_NAMES = ("aiohttp", "curl_cffi")


def make_transport(
    choice: "str | Transport | None" = None, *, proxy: str | None = None,
    timeouts: Timeouts = Timeouts(),
) -> tuple[Transport, bool]:
    """Return ``(transport, owned)``; ``owned`` is false for a caller's instance,
    which the caller closes. ``None`` reads ``G4F_FLUX_TRANSPORT``, else aiohttp."""
    if isinstance(choice, Transport):
        return choice, False
    name = (choice or os.environ.get("G4F_FLUX_TRANSPORT") or "aiohttp").strip().lower().replace("-", "_")
    if name == "aiohttp":
        from ._aiohttp import AiohttpTransport

        return AiohttpTransport(proxy=proxy, timeouts=timeouts), True
    if name in ("curl_cffi", "curl"):
        try:
            from ._curl_cffi import CurlCffiTransport
        except ImportError as error:
            raise ValueError(
                "transport 'curl_cffi' needs curl_cffi: pip install 'g4f-flux-plugin[curl_cffi]'"
            ) from error
        return CurlCffiTransport(proxy=proxy, timeouts=timeouts), True
    raise ValueError(f"unknown transport {choice!r}: use one of {', '.join(TRANSPORT_NAMES)} or a Transport")
