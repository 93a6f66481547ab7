"""g4f's servers for the tests: ``g4f api`` and ``g4f gui`` in subprocesses, and
what the tests of them share (the OpenAI SDK's images, optional tools).

The servers run on 127.0.0.1 through :mod:`launch` and are stopped by their PID.
"""

from __future__ import annotations

import base64
import os
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from g4f_subprocess import G4FProcess
from launch import ServerProcess, StartError, free_port

#: How long a g4f server may take to answer its first request.
START_TIMEOUT = 90.0


def needed(what: str) -> None:
    """Skip for a missing optional tool, but fail under CI, which must run everything."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must run these tests)", pytrace=False)
    pytest.skip(what)


def import_or_skip(module: str, package: str):
    """Import ``module``, or :func:`needed` when ``package`` is not installed."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        needed(f"{package} is not installed (install the package's `test` extra)")


class Server:
    """A g4f server process on 127.0.0.1 (``python -m g4f ...``)."""

    def __init__(self, name: str, args: list[str], proc: G4FProcess, env: dict) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = ServerProcess(
            [sys.executable, "-m", "g4f", *[a.format(port=self.port) for a in args]],
            log_path=proc.root / f"{name}-{self.port}.log",
            env=proc.env(env),
            cwd=proc.cwd,
            name=name,
        )
        self.process = self.server.process

    def wait_until_up(self, path: str) -> None:
        try:
            self.server.wait_ready(url=self.base + path, timeout=START_TIMEOUT)
        except StartError as error:
            pytest.fail(str(error), pytrace=False)

    def log(self, chars: int = 4000) -> str:
        """The end of the server's output."""
        return self.server.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        self.server.stop()


@contextmanager
def g4f_api(proc: G4FProcess, space_url: str) -> Iterator[Server]:
    """``g4f api`` with its GUI mount (a2wsgi), the Space set to ``space_url``; stopped on exit."""
    import_or_skip("a2wsgi", "a2wsgi (g4f api's GUI)")
    server = Server(
        "g4f-api",
        ["api", "--bind", "127.0.0.1:{port}", "--disable-pa-auto-download"],
        proc,
        {"G4F_FLUX_SCHNELL_URL": space_url},
    )
    try:
        server.wait_until_up("/v1/providers")
        yield server
    finally:
        server.stop()


@contextmanager
def g4f_gui(proc: G4FProcess, space_url: str) -> Iterator[Server]:
    """``g4f gui`` (Flask; its async views need flask[async]), the Space set to ``space_url``."""
    import_or_skip("asgiref", "flask[async] (g4f gui)")
    server = Server(
        "g4f-gui",
        ["gui", "--host", "127.0.0.1", "--port", "{port}"],
        proc,
        {"G4F_FLUX_SCHNELL_URL": space_url},
    )
    try:
        server.wait_until_up("/backend-api/v2/providers")
        yield server
    finally:
        server.stop()


def image_of(data, response_format: str) -> bytes:
    """The bytes of one image of an OpenAI SDK images answer (``url`` or ``b64_json``)."""
    if response_format == "b64_json":
        assert data.url is None
        return base64.b64decode(data.b64_json, validate=True)
    with urllib.request.urlopen(data.url, timeout=30) as response:
        return response.read()
