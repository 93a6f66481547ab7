"""FLUX.1-schnell through the public Hugging Face Space: a client, and a g4f provider plugin.

Importing this package is cheap: every public name below is imported on
first access (PEP 562), so ``import g4f_flux_plugin`` loads neither g4f nor
an HTTP library, and ``g4f-flux --help`` and the start-up hook stay fast.

- The client, which knows nothing of g4f: :class:`FluxClient`,
  :class:`ProgressEvent`, :class:`GeneratedImage`, the transports
  (:class:`Transport`, :class:`AiohttpTransport`, :class:`CurlCffiTransport`,
  :class:`MockTransport`) and the error tree rooted in :class:`FluxClientError`.
- The g4f adapter: :class:`BlackForestLabs_Flux1Schnell`, and
  :func:`load_entry_point_providers`, which registers every ``g4f.providers``
  entry point into g4f, and :func:`autoload`, what the start-up hook runs
  when g4f is imported (entry points, model routes, the GUI's list).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

# What type checkers see (``X as X``: an explicit re-export); at run time
# __getattr__ imports each name on first use.
if TYPE_CHECKING:
    from ._client import FluxClient as FluxClient
    from ._errors import (
        FluxClientError as FluxClientError,
        JobCancelledError as JobCancelledError,
        QuotaExceededError as QuotaExceededError,
        SpaceAuthError as SpaceAuthError,
        SpaceConnectError as SpaceConnectError,
        SpaceConnectionError as SpaceConnectionError,
        SpaceError as SpaceError,
        SpaceProtocolError as SpaceProtocolError,
        SpaceRateLimitError as SpaceRateLimitError,
        SpaceStatusError as SpaceStatusError,
        SpaceTimeoutError as SpaceTimeoutError,
        StreamCutError as StreamCutError,
    )
    from ._events import GeneratedImage as GeneratedImage, ProgressEvent as ProgressEvent
    from ._registry import autoload as autoload, load_entry_point_providers as load_entry_point_providers
    from ._transports._aiohttp import AiohttpTransport as AiohttpTransport
    from ._transports._curl_cffi import CurlCffiTransport as CurlCffiTransport
    from ._transports.base import Transport as Transport
    from ._transports.mock import (
        MockRequest as MockRequest,
        MockResponse as MockResponse,
        MockTransport as MockTransport,
    )
    from .providers import BlackForestLabs_Flux1Schnell as BlackForestLabs_Flux1Schnell

__version__ = "0.2.1"

# Public name -> the module that defines it.
_EXPORTS = {
    "BlackForestLabs_Flux1Schnell": ".providers",
    "load_entry_point_providers": "._registry",
    "autoload": "._registry",
    "FluxClient": "._client",
    "ProgressEvent": "._events",
    "SpaceMemory": "._memory",
    "QuotaStatus": "._memory",
    "GeneratedImage": "._events",
    "Transport": "._transports.base",
    "AiohttpTransport": "._transports._aiohttp",
    "CurlCffiTransport": "._transports._curl_cffi",
    "MockTransport": "._transports.mock",
    "MockRequest": "._transports.mock",
    "MockResponse": "._transports.mock",
    **dict.fromkeys(
        (
            "FluxClientError",
            "SpaceError",
            "JobCancelledError",
            "SpaceBusyError",
            "QuotaExceededError",
            "SpaceRateLimitError",
            "SpaceStatusError",
            "SpaceAuthError",
            "SpaceProtocolError",
            "StreamCutError",
            "SpaceConnectError",
            "SpaceConnectionError",
            "SpaceTimeoutError",
            "SpaceUnavailableError",
        ),
        "._errors",
    ),
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> object:
    # PEP 562: g4f takes about a second to import, aiohttp half of that.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
