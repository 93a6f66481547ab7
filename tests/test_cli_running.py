"""The command's None handling, found by ``mypy --strict`` in ``cli/running.py``.

- a generation that ends without an image is a typed error in plain words,
  not an ``AttributeError`` on ``None``;
- an image without the request it was made from is still written (its sizes
  unknown), not an ``AttributeError``;
- ``G4F_FLUX_DEBUG`` prints the failing job's traceback (the exception of a
  finished task, never ``None``).

The first two replace the client's ``generate`` (and ``download``): a real
Space cannot break the client's contract this way. The third runs against a
closed port on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
from launch import free_port

from g4f_flux_plugin._client import FluxClient
from g4f_flux_plugin._events import GeneratedImage, ProgressEvent
from g4f_flux_plugin.cli import main
from g4f_flux_plugin.cli.running import EXIT_OK

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, format="WEBP")
    return out.getvalue()


def _command(tmp_path: Path, *extra: str) -> list[str]:
    # A loopback root the replaced client never reaches.
    return ["a fox", "--api-base", "http://127.0.0.1:9", "-o", str(tmp_path / "fox.webp"), "-q", *extra]


def test_a_generation_without_an_image_is_a_protocol_error(tmp_path, monkeypatch, capsys):
    async def no_image(self: FluxClient, prompt: str, **_: Any) -> AsyncGenerator[Any, None]:
        yield ProgressEvent("submitted", event_id="e1")

    monkeypatch.setattr(FluxClient, "generate", no_image)
    assert main(_command(tmp_path)) != EXIT_OK
    err = capsys.readouterr().err
    assert "ended without an image" in err, err
    assert "AttributeError" not in err and "NoneType" not in err, err
    assert not (tmp_path / "fox.webp").exists()


def test_an_image_without_its_request_is_still_written(tmp_path, monkeypatch, capsys):
    async def bare_image(self: FluxClient, prompt: str, **_: Any) -> AsyncGenerator[Any, None]:
        yield GeneratedImage(url="http://127.0.0.1:9/file=fox.webp", seed=7)  # request=None

    async def download(self: FluxClient, url: str) -> tuple[bytes, str]:
        return _webp(), "webp"

    monkeypatch.setattr(FluxClient, "generate", bare_image)
    monkeypatch.setattr(FluxClient, "download", download)
    assert main(_command(tmp_path, "--json", "--width", "512")) == EXIT_OK
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["seed"] == 7 and record["steps"] is None
    assert (tmp_path / "fox.webp").read_bytes()[:4] == b"RIFF"


def test_debug_prints_the_failing_jobs_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("G4F_FLUX_DEBUG", "1")
    closed = f"http://127.0.0.1:{free_port()}"
    argv = ["a fox", "--api-base", closed, "-o", str(tmp_path / "fox.webp"), "-q", "--timeout", "10"]
    assert main(argv) != EXIT_OK
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err, err
    assert "SpaceConnectError" in err, err
