"""Writing a finished image: conversion, metadata, the sidecar, and the
whole-or-nothing write that a resumed batch relies on.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from .. import __version__
from .planning import FORMAT_SUFFIX

if TYPE_CHECKING:
    from .planning import Job
    from .reporter import Reporter
    from .running import Settings

__all__ = ["finish_image", "write_atomic"]

#: The fields embedded in the image and written to the sidecar.
FIELDS = ("prompt", "seed", "width", "height", "steps", "model", "space")


def finish_image(
    job: Job, settings: Settings, data: bytes, kind: str, record: dict[str, object], reporter: Reporter
) -> dict[str, object]:
    """Convert, embed, and write one image (and its sidecar); complete ``record``.

    Blocking work (Pillow, the file system): the caller runs it in a thread.
    """
    import json

    from .. import _metadata

    target = settings.format or kind
    if target != kind:
        data = _metadata.convert(data, target)
    path = job.path
    if not job.suffix_fixed and os.path.splitext(path)[1].lower() not in _suffixes_of(target):
        path = os.path.splitext(path)[0] + FORMAT_SUFFIX[target]
    record["width"], record["height"] = _metadata.dimensions(data)
    record["path"] = path
    fields = {key: record[key] for key in FIELDS}
    if settings.metadata:
        try:
            data = _metadata.embed(data, fields, f"g4f-flux-plugin {__version__}")
        except _metadata.MetadataError as error:
            reporter.warn(f"{path}: metadata not embedded: {error}")
    if settings.sidecar:
        sidecar = {**fields, "url": record["url"], "generator": f"g4f-flux-plugin {__version__}"}
        text = json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n"
        write_atomic(os.path.splitext(path)[0] + ".json", text.encode("utf-8"))
    # The image last: its existence is what marks the job done for a resumed batch.
    write_atomic(path, data)
    return record


def _suffixes_of(kind: str) -> tuple[str, ...]:
    return (".jpg", ".jpeg") if kind == "jpeg" else (FORMAT_SUFFIX[kind],)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file, then rename)."""
    import secrets

    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.part")
    # os.open with 0o666 lets the umask decide the mode, as for any new file.
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as error:
        raise OSError(error.errno, error.strerror, path) from error  # name the file asked for
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise OSError(error.errno, error.strerror, path) from error
        raise
