"""The public surface: what ``g4f_flux_plugin`` exports, what importing it costs,
and the line between the client and the g4f adapter.

Each check runs in a fresh interpreter: which modules an import loads is
process state.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import g4f_flux_plugin

PROJECT = Path(__file__).resolve().parent.parent
# The modules that talk to a Gradio Space: none of them may import g4f.
CLIENT_MODULES = [
    "g4f_flux_plugin._params",
    "g4f_flux_plugin._config",
    "g4f_flux_plugin._sse",
    "g4f_flux_plugin._messages",
    "g4f_flux_plugin._http",
    "g4f_flux_plugin._transports",
    "g4f_flux_plugin._transports._aiohttp",
    "g4f_flux_plugin._transports._curl_cffi",
    "g4f_flux_plugin._transports.mock",
    "g4f_flux_plugin._transports.pool",
    "g4f_flux_plugin._gradio",
    "g4f_flux_plugin._batch",
    "g4f_flux_plugin._retry",
    "g4f_flux_plugin._errors",
    "g4f_flux_plugin._client",
    "g4f_flux_plugin._download",
]


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=PROJECT
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_documented_names_import():
    out = run(
        "from g4f_flux_plugin import (AiohttpTransport, CurlCffiTransport, MockTransport, Transport,"
        " ProgressEvent, GeneratedImage, SpaceError, QuotaExceededError, SpaceTimeoutError,"
        " SpaceRateLimitError, SpaceStatusError, SpaceAuthError, SpaceProtocolError, StreamCutError,"
        " SpaceConnectError, SpaceConnectionError, JobCancelledError, FluxClientError, FluxClient,"
        " BlackForestLabs_Flux1Schnell, load_entry_point_providers)\n"
        "print(BlackForestLabs_Flux1Schnell.__name__, issubclass(MockTransport, Transport))"
    )
    assert out == "BlackForestLabs_Flux1Schnell True"


def test_every_exported_name_resolves():
    for name in g4f_flux_plugin.__all__:
        assert getattr(g4f_flux_plugin, name) is not None, name
    with pytest.raises(AttributeError):
        g4f_flux_plugin.NoSuchName  # noqa: B018


def test_a_bare_import_loads_neither_g4f_nor_an_http_library():
    out = run(
        "import sys, g4f_flux_plugin\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('g4f', 'aiohttp', 'curl_cffi')))"
    )
    assert out == "[]"


def test_the_client_imports_nothing_of_g4f():
    out = run(
        "import importlib, sys\n"
        f"for name in {CLIENT_MODULES!r}: importlib.import_module(name)\n"
        "from g4f_flux_plugin import FluxClient, SpaceError, MockTransport\n"
        "print(sorted(m for m in sys.modules if m == 'g4f' or m.startswith('g4f.')))"
    )
    assert out == "[]"


def test_the_readme_shows_only_public_imports():
    readme = (PROJECT / "README.md").read_text()
    assert "g4f_flux_plugin._" not in readme
