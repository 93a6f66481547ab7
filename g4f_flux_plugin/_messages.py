"""Gradio's messages and payloads, read into events, results and errors: pure.

This is the part that changes whenever Gradio does, so it does no I/O and
keeps no state: each function takes what one message or payload holds and
returns a :class:`~._events.ProgressEvent`, a :class:`~._events.GeneratedImage`
or the error to raise. What each Gradio generation sends:

- ``/call/`` stream, ``event: error``: ``null`` on Gradio <= 6.12 (all of 4.x
  and 5.x: the text is lost), an object ``{"error", "title", ...}`` from 6.13,
  and a bare string such as ``"404: Not Found"`` for a dropped job;
- ``/call/`` stream, ``event: complete``: ``[FileData, seed]``;
- queue stream: ``estimation``, ``process_starts``, ``progress``, ``log``
  (toasts), ``process_completed`` with ``success`` and ``output`` (``{"data"}``
  or ``{"error", "title"}``); Gradio 4 quotes a ``gr.Error`` message
  (``repr``), which :func:`~._errors.error_from_space` undoes;
- ``FileData``: ``url`` (Gradio 5+, and 4 behind most proxies) or only a
  ``path``, from which the file route is built; a cancelled job completes
  with empty output.
"""

from __future__ import annotations

import json
from typing import Any

from ._config import SpaceConfig
from ._errors import JobCancelledError, SpaceProtocolError, error_from_space
from ._events import GeneratedImage, ProgressEvent
from ._http import origin_of
from ._params import ImageRequest

__all__ = ["call_error", "image_from_output", "parse_json", "queue_progress", "queue_result"]


def parse_json(text: str) -> Any:
    """An event's data as JSON; :class:`SpaceProtocolError` when it is not."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # "[[[[..." nested past the parser's depth, within the size limit
        raise SpaceProtocolError(f"malformed JSON in an event: {text[:100]!r}") from None


def call_error(data: Any) -> Exception:
    """The error for a ``/call/`` stream's ``event: error`` data."""
    # Gradio <= 6.12 sends null; 6.13+ an object with error and title; a
    # dropped job is a bare string such as "404: Not Found".
    if isinstance(data, dict):
        return error_from_space(data.get("error"), data.get("title"))
    return error_from_space(data)


def queue_result(
    config: SpaceConfig, message: dict[str, Any], event_id: str, request: ImageRequest
) -> GeneratedImage:
    """The image of a ``process_completed`` message, or raise the job's error."""
    output = message.get("output")
    output = output if isinstance(output, dict) else {}
    if not message.get("success"):
        raise error_from_space(output.get("error"), output.get("title") or message.get("title"))
    return image_from_output(config, output.get("data"), event_id, request)


def queue_progress(message: dict[str, Any], event_id: str) -> ProgressEvent | None:
    """The progress event a queue message stands for, or ``None`` (heartbeats,
    ``process_generating``, and kinds of newer Gradio)."""
    kind = message.get("msg")
    if kind == "estimation":
        rank, size, eta = (
            _int(message.get("rank")),
            _int(message.get("queue_size")),
            _float(message.get("rank_eta")),
        )
        return ProgressEvent("queued", rank=rank, queue_size=size, eta=eta, event_id=event_id)
    if kind == "process_starts":
        return ProgressEvent("started", eta=_float(message.get("eta")), event_id=event_id)
    if kind == "progress":
        for unit in message.get("progress_data") or []:
            if not isinstance(unit, dict):
                continue
            length, index = _int(unit.get("length")), _int(unit.get("index"))
            if length and index is not None:
                return ProgressEvent("step", index=min(index + 1, length), length=length, event_id=event_id)
        return None
    if kind == "log":
        return ProgressEvent(
            "log",
            level=_str(message.get("level")),
            title=_str(message.get("title")),
            message=_str(message.get("log")),
            event_id=event_id,
        )
    return None  # heartbeat, process_generating, and messages of newer Gradio


def image_from_output(config: SpaceConfig, data: Any, event_id: str, request: ImageRequest) -> GeneratedImage:
    """The ``[FileData, seed]`` output as a :class:`GeneratedImage`."""
    if data is None or (isinstance(data, list) and not data) or data == {}:
        # Gradio completes a cancelled job successfully, with no output.
        raise JobCancelledError("the job was cancelled on the Space before it produced an image")
    if not isinstance(data, list):
        raise SpaceProtocolError("the Space's output is not a list")
    file = data[0]
    if file is None:
        raise SpaceProtocolError("the Space returned no image")
    seed = data[1] if len(data) > 1 else None
    url = path = mime = None
    if isinstance(file, dict):
        url, path, mime = file.get("url"), file.get("path"), file.get("mime_type")
    elif isinstance(file, str):
        path = file
    if isinstance(url, str) and _is_http(url):
        pass
    elif isinstance(path, str) and path:
        url = config.url(f"/file={path}")  # Gradio 4 and proxies that drop the url
    else:
        raise SpaceProtocolError("the Space's output names no image file")
    return GeneratedImage(
        url=url,
        seed=_int(seed),
        path=path if isinstance(path, str) else None,
        mime_type=mime if isinstance(mime, str) else None,
        event_id=event_id,
        request=request,
    )


def _is_http(url: str) -> bool:
    try:
        origin_of(url)
    except SpaceProtocolError:
        return False
    return True


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
