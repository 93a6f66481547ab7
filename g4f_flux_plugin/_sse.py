"""A sans-I/O decoder for Server-Sent Events.

In the manner of h11, nothing here touches a socket: the caller reads bytes
from whatever transport it uses, hands them to :meth:`SSEDecoder.feed` in
chunks of any size, and gets back the :class:`Event` objects those bytes
completed.  At the end of the stream it calls :meth:`SSEDecoder.close` and
may look at :attr:`SSEDecoder.pending` to tell a clean end from a stream that
was cut in the middle of an event::

    decoder = SSEDecoder()
    async for chunk in response.aiter_bytes():
        for event in decoder.feed(chunk):
            handle(event)
    decoder.close()
    if decoder.pending:
        raise ConnectionError("event stream cut in the middle of an event")

Parsing follows the WHATWG HTML Living Standard, section 9.2 "Server-sent
events", subsections 9.2.5 "Parsing an event stream" and 9.2.6 "Interpreting
an event stream" (https://html.spec.whatwg.org/multipage/server-sent-events.html).
Comments below quote the rule they implement as "spec 9.2.6: ...".

Two deliberate additions to the spec, both to protect the caller from a
hostile or broken server: a line may not grow beyond ``max_line_bytes`` and
the data of one event may not grow beyond ``max_event_bytes``; either raises
:class:`SSELimitError`.

Only the standard library is used.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "Event",
    "SSEDecoder",
    "SSEError",
    "SSELimitError",
]

_BOM = b"\xef\xbb\xbf"  # U+FEFF encoded as UTF-8
# CPython refuses int() on strings longer than this many digits by default
# (sys.get_int_max_str_digits, CVE-2020-10735); a retry value that long is
# nonsense anyway, so it is ignored rather than allowed to raise ValueError.
_MAX_RETRY_DIGITS = 4300


class SSEError(ValueError):
    """Base class of the errors the decoder raises for a malformed or hostile stream."""


class SSELimitError(SSEError):
    """A line or the data of one event grew beyond the decoder's size limit."""


class Event(NamedTuple):
    """One dispatched server-sent event.

    A named tuple: immutable and without a per-instance dict, like a frozen
    slotted dataclass, and twice as fast to build (building the dataclass
    took about a fifth of the decoder's time on a Gradio stream). Being a
    tuple, it also compares equal to a plain tuple of the same four values.

    ``event``
        The event type: the last ``event`` field of the block, or ``"message"``
        when there was none or it was empty (spec 9.2.6, dispatch steps 5-6).
    ``data``
        The ``data`` field values of the block joined with ``"\\n"``.
    ``id``
        The stream's last event ID at dispatch time (spec 9.2.6, dispatch
        step 5: it persists across events until the server sets it again).
        ``None`` if the stream has not sent a valid ``id`` field yet; ``""``
        if the server explicitly reset it with an empty ``id`` field.
    ``retry``
        The reconnection time in milliseconds if this block carried a valid
        ``retry`` field, else ``None``.  (The spec makes ``retry`` a property of
        the stream, not of the event; see :attr:`SSEDecoder.retry`.)
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


def _utf8_len(text: str) -> int:
    # str.isascii() is O(1) in CPython (the compact-ASCII flag), so the
    # common ASCII/JSON case never pays for an encode just to count bytes.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _parse_retry(value: str) -> int | None:
    # spec 9.2.6: "If the field value consists of only ASCII digits, then
    # interpret the field value as an integer in base ten ... Otherwise,
    # ignore the field."  str.isdigit() alone would also accept digits such
    # as "\u0663" or "\u00b2", and int() would accept "+5", " 5" or "5_0",
    # hence isascii() and isdigit() together, before int().
    if not (value.isascii() and value.isdigit()):
        return None
    digits = value.lstrip("0") or "0"
    if len(digits) > _MAX_RETRY_DIGITS:
        return None
    return int(digits)


class SSEDecoder:
    """Incremental, sans-I/O decoder of a ``text/event-stream`` byte stream.

    Feed it bytes with :meth:`feed` as they arrive, in chunks of any size and
    split at any byte (inside a UTF-8 sequence, inside the byte-order mark,
    between the CR and LF of a CRLF); it returns the events those bytes
    completed.  The work done is linear in the total input however it is
    chunked: the unfinished last line is buffered once and never rescanned.

    ``max_line_bytes`` bounds the length of one line (without its line end),
    checked as soon as the buffered unfinished line passes it, so a server
    that sends bytes without ever sending a newline is stopped early.
    ``max_event_bytes`` bounds the data buffer of one event, measured as the
    spec defines that buffer (every ``data`` value plus one LF each) in UTF-8
    bytes of the decoded text.  Either overflow raises :class:`SSELimitError`.

    After :meth:`feed` has raised, the decoder is unusable: its state is
    that of a half-processed chunk, so every later :meth:`feed` raises
    :class:`SSEError` again.  :meth:`close` still works (it returns ``[]``
    and leaves :attr:`pending` true), so it is safe in a ``finally``.
    Events completed earlier in the failing chunk are lost with the
    exception.  Calling :meth:`feed` after :meth:`close` is a programming
    error and raises ``RuntimeError``.
    """

    __slots__ = (
        "_at_start",
        "_bom_buf",
        "_closed",
        "_data",
        "_data_size",
        "_dropped",
        "_error",
        "_etype",
        "_ev_retry",
        "_id_buf",
        "_in_event",
        "_last_id",
        "_max_event",
        "_max_line",
        "_partial",
        "_partial_len",
        "_retry",
        "_skip_lf",
    )

    def __init__(self, *, max_line_bytes: int = 1 << 20, max_event_bytes: int = 4 << 20) -> None:
        if max_line_bytes < 1 or max_event_bytes < 1:
            raise ValueError("max_line_bytes and max_event_bytes must be positive")
        self._max_line = max_line_bytes
        self._max_event = max_event_bytes
        # Byte-level state.
        self._at_start = True  # the BOM check has not been decided yet
        self._bom_buf = b""  # a possible BOM prefix (b"\xef", b"\xef\xbb") held back
        self._skip_lf = False  # the last chunk ended in CR: an LF first in the next is its pair
        self._partial: list[bytes] = []  # pieces of the unfinished last line
        self._partial_len = 0
        # spec 9.2.6: "a data buffer, an event type buffer, and a last event ID
        # buffer must be associated with it. They must be initialized to the
        # empty string."  The data buffer is kept as the list of values (its
        # LFs implied) so that appending is O(1); the ID buffer starts as None
        # rather than "" only to let Event.id tell "never set" from "reset".
        self._data: list[str] = []
        self._data_size = 0
        self._etype = ""
        self._id_buf: str | None = None
        self._last_id: str | None = None  # the "last event ID string", set on dispatch
        self._ev_retry: int | None = None  # retry field seen in the current block
        self._retry: int | None = None  # the stream's reconnection time
        self._in_event = False  # a field line was seen since the last blank line
        self._closed = False
        self._dropped = False
        self._error: SSEError | None = None

    # -- public properties -------------------------------------------------

    @property
    def last_event_id(self) -> str:
        """The stream's last event ID string, as a reconnecting client would send it.

        spec 9.2.6, dispatch step 1: it is set from the last event ID buffer
        on every blank line (even one that dispatches nothing, so a block
        holding only ``id: 7`` still counts), and not by an ``id`` field whose
        block never ended.  ``""`` until the server sends an ``id``.
        """
        return self._last_id or ""

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds last set by a valid ``retry`` field, or ``None``.

        spec 9.2.6 applies a ``retry`` field when it is read, whether or not
        its block is ever dispatched, so this persists and may be set even if
        no :class:`Event` carried it.
        """
        return self._retry

    @property
    def pending(self) -> bool:
        """Whether a partial line or event is buffered (or, after :meth:`close`, was dropped).

        True when the stream so far ends inside a line, or after a field line
        that no blank line has yet ended (a block of only comments does not
        count).  After :meth:`close` it keeps the value it had at the close,
        so a caller can tell a clean end from a stream cut mid-event.
        """
        if self._closed:
            return self._dropped
        return bool(self._partial or self._bom_buf or self._in_event)

    # -- feeding -----------------------------------------------------------

    def feed(self, data: bytes) -> list[Event]:
        """Consume the next chunk of the stream; return the events it completed, in order."""
        if self._error is not None:
            raise SSEError(f"decoder is unusable after an earlier error: {self._error}")
        if self._closed:
            raise RuntimeError("feed() called after close()")
        if not data:
            return []
        data = bytes(data)  # accept bytearray/memoryview; a no-op for bytes

        if self._at_start:
            # spec 9.2.6: "The UTF-8 decode algorithm strips one leading UTF-8
            # Byte Order Mark (BOM), if any."  Only at the very start of the
            # stream, and the three bytes may arrive in separate chunks, so a
            # proper prefix of the BOM is held back until it is decided.
            if self._bom_buf:
                data = self._bom_buf + data
                self._bom_buf = b""
            if len(data) < 3 and _BOM.startswith(data):
                self._bom_buf = data
                return []
            self._at_start = False
            if data.startswith(_BOM):
                data = data[3:]
                if not data:
                    return []

        # spec 9.2.6: a line ends with "a U+000D CARRIAGE RETURN U+000A LINE
        # FEED (CRLF) character pair, a single U+000A LINE FEED (LF) character
        # not preceded by a U+000D CARRIAGE RETURN (CR) character, and a single
        # U+000D CARRIAGE RETURN (CR) character not followed by a U+000A LINE
        # FEED (LF) character".  Every line end is normalised to LF on the raw
        # bytes (safe: 0x0D and 0x0A never occur inside a UTF-8 sequence).  A
        # CR closing one chunk ends its line at once (waiting for the next
        # chunk would delay the event); if the next chunk then opens with LF,
        # that LF is the second half of the same CRLF and is dropped, instead
        # of being read as a second, empty line that would dispatch early.
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
                if not data:
                    return []
        if b"\r" in data:
            self._skip_lf = data[-1:] == b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

        end = data.rfind(b"\n")
        if end < 0:
            # No line end in this chunk: buffer it without scanning the
            # earlier pieces again (the join happens once, at the line end).
            self._partial.append(data)
            self._partial_len += len(data)
            if self._partial_len > self._max_line:
                self._fail_line(self._partial_len, unfinished=True)
            return []

        if self._partial:
            self._partial.append(data[:end])
            head = b"".join(self._partial)
        else:
            head = data[:end]
        tail = data[end + 1 :]
        self._partial = [tail] if tail else []
        self._partial_len = len(tail)
        if len(head) > self._max_line:
            # Only when the complete lines together pass the limit can one of
            # them; with the default 1 MiB limit and network-sized chunks
            # this split is rare, so the common path never pays for it.
            longest = max(map(len, head.split(b"\n")))
            if longest > self._max_line:
                self._fail_line(longest, unfinished=False)
        if self._partial_len > self._max_line:
            self._fail_line(self._partial_len, unfinished=True)

        # spec 9.2.6: "Streams must be decoded using the UTF-8 decode
        # algorithm" - with replacement of malformed sequences.  Decoding all
        # complete lines at once is correct because a line end can never sit
        # inside a UTF-8 sequence, so no sequence straddles ``head``'s edges.
        return self._process(head.decode("utf-8", "replace").split("\n"))

    def _process(self, lines: list[str]) -> list[Event]:
        # The hot loop: buffers live in locals and are written back once.
        events: list[Event] = []
        append_event = events.append
        data = self._data
        size = self._data_size
        max_event = self._max_event
        etype = self._etype
        id_buf = self._id_buf
        last_id = self._last_id
        ev_retry = self._ev_retry
        in_event = self._in_event

        for line in lines:
            # Fast path for the overwhelmingly common line, with the "data"
            # branch below inlined.  It is exact: the first colon of
            # "data:..." is the one right after "data".
            if line.startswith("data:"):
                value = line[6:] if line.startswith(" ", 5) else line[5:]
                data.append(value)
                size += (len(value) if value.isascii() else _utf8_len(value)) + 1
                in_event = True
                if size > max_event:
                    self._fail_event(size)
                continue

            if not line:
                # spec 9.2.6: "If the line is empty (a blank line) - Dispatch
                # the event".  Step 1: the last event ID string takes the
                # buffer's value, even if nothing is dispatched.
                last_id = id_buf
                # Step 2: "If the data buffer is an empty string, set the data
                # buffer and the event type buffer to the empty string and
                # return." - so a block without any data field (httpx-sse
                # yields one) dispatches nothing.
                if data:
                    # Step 3 drops the data buffer's final LF: joining the
                    # values with LF gives exactly that.  Steps 5-6: the type
                    # is "message" unless the event type buffer is non-empty.
                    append_event(
                        Event(
                            etype or "message",
                            data[0] if len(data) == 1 else "\n".join(data),
                            id_buf,
                            ev_retry,
                        )
                    )
                    data = []
                    size = 0
                # Step 7: "Set the data buffer and the event type buffer to the
                # empty string."
                etype = ""
                ev_retry = None
                in_event = False
                continue

            colon = line.find(":")
            if colon == 0:
                # spec 9.2.6: "If the line starts with a U+003A COLON
                # character (:) - Ignore the line."
                continue
            if colon < 0:
                # spec 9.2.6: "Otherwise, the string is not empty but does
                # not contain a U+003A COLON character (:) - Process the
                # field ... using the whole line as the field name, and the
                # empty string as the field value."
                name = line
                value = ""
            else:
                # spec 9.2.6: the field is the text "before the first U+003A
                # COLON character (:)", the value the text after it; "If
                # value starts with a U+0020 SPACE character, remove it".
                name = line[:colon]
                value = line[colon + 2 :] if line.startswith(" ", colon + 1) else line[colon + 1 :]
            in_event = True

            # spec 9.2.6: "Field names must be compared literally, with no
            # case folding performed."
            if name == "data":
                # "Append the field value to the data buffer, then append a
                # single U+000A LINE FEED (LF) character to the data buffer."
                # A bare "data" line appends "" and so makes the buffer "\n":
                # non-empty, so its block is dispatched with data "".
                data.append(value)
                size += _utf8_len(value) + 1
                if size > max_event:
                    self._fail_event(size)
            elif name == "event":
                # "Set the event type buffer to the field value."
                etype = value
            elif name == "id":
                # "If the field value does not contain U+0000 NULL, then set
                # the last event ID buffer to the field value. Otherwise,
                # ignore the field."
                if "\0" not in value:
                    id_buf = value
            elif name == "retry":
                parsed = _parse_retry(value)
                if parsed is not None:
                    ev_retry = self._retry = parsed
            # "Otherwise - The field is ignored."

        self._data = data
        self._data_size = size
        self._etype = etype
        self._id_buf = id_buf
        self._last_id = last_id
        self._ev_retry = ev_retry
        self._in_event = in_event
        return events

    def _fail_event(self, size: int) -> None:
        self._error = SSELimitError(
            f"SSE event data exceeds max_event_bytes={self._max_event} ({size} bytes buffered so far)"
        )
        raise self._error

    def _fail_line(self, length: int, *, unfinished: bool) -> None:
        where = " before its line end arrived" if unfinished else ""
        self._error = SSELimitError(
            f"SSE line exceeds max_line_bytes={self._max_line} ({length} bytes{where})"
        )
        raise self._error

    def close(self) -> list[Event]:
        """Signal the end of the stream; always returns ``[]``.

        spec 9.2.6: "Once the end of the file is reached, any pending data
        must be discarded. (If the file ends in the middle of an event, before
        the final empty line, the incomplete event is not dispatched.)"  What
        was discarded is reported by :attr:`pending`.  Calling it again is
        harmless.
        """
        if not self._closed:
            # After an error the buffers are half-updated; report the stream
            # as cut rather than trusting them.
            self._dropped = self._error is not None or self.pending
            self._closed = True
            self._partial = []
            self._partial_len = 0
            self._bom_buf = b""
            self._data = []
            self._data_size = 0
        return []
