"""Serialising server-sent events, for the tests of the decoder (g4f_flux_plugin._sse).

The client only ever reads event streams, so the encoder lives here, beside
the tests that build streams with it, and not in the package.
"""

from __future__ import annotations

__all__ = ["encode_event"]


def encode_event(
    *,
    data: str,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """Serialise one event as UTF-8 ``text/event-stream`` bytes.

    ``data`` is split on ``"\\n"`` into one ``data:`` line per line, so the
    decoder gives it back unchanged.  ``comment`` (also split on ``"\\n"``)
    becomes ``:`` lines before the fields.  Lines end with LF and the event
    with a blank line.  A value the format cannot carry raises ``ValueError``:
    any CR (it would end a line), LF in ``event`` or ``id`` (only ``data`` and
    comments may span lines), NUL in ``id`` (a decoder ignores such an id) and
    a negative ``retry``.
    """
    out: list[str] = []
    if comment is not None:
        if "\r" in comment:
            raise ValueError("comment must not contain CR")
        out.extend(f": {line}\n" if line else ":\n" for line in comment.split("\n"))
    if event is not None:
        if "\r" in event or "\n" in event:
            raise ValueError("event must not contain CR or LF")
        out.append(f"event: {event}\n")
    if id is not None:
        if "\r" in id or "\n" in id or "\0" in id:
            raise ValueError("id must not contain CR, LF or NUL")
        out.append(f"id: {id}\n")
    if retry is not None:
        if isinstance(retry, bool) or not isinstance(retry, int):
            raise TypeError("retry must be an int")
        if retry < 0:
            raise ValueError("retry must be >= 0")
        out.append(f"retry: {retry:d}\n")
    if "\r" in data:
        raise ValueError("data must not contain CR")
    # One space after the colon always: the decoder strips exactly one, so a
    # value that itself starts with a space survives the round trip.
    out.extend(f"data: {line}\n" if line else "data:\n" for line in data.split("\n"))
    out.append("\n")
    return "".join(out).encode("utf-8")
