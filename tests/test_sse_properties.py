"""Hypothesis properties of the sans-I/O SSE decoder (g4f_flux_plugin._sse) and of the
tests' own encoder (sse_encoding).

* Chunking does not matter: any split of a byte stream gives the same
  events, last event ID, reconnection time and pending state as one feed.
* CR, LF and CRLF line ends are interchangeable.
* The decoder agrees with a deliberately naive, line-by-line transcription
  of WHATWG HTML 9.2.6 run on the whole decoded stream.
* encode_event output decodes back to what was encoded.

The ``@example`` pins are the inputs that break typical hand-written
decoders, so they run every time whatever Hypothesis generates.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, example, given, settings, strategies as st
from sse_encoding import encode_event

from g4f_flux_plugin._sse import Event, SSEDecoder

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ---------------------------------------------------------------

# Characters a line may hold: anything but CR and LF (which would end it) and
# surrogates (which UTF-8 cannot encode), biased towards the ones that matter
# to the grammar (colon, space, NUL, BOM) and to splitlines()-style decoders.
_SPECIAL = st.sampled_from([":", " ", "\x00", "\ufeff", "\u2028", "\x85", "\x0b", "\u00e9", "\U0001f600"])
_LINE_CHAR = st.one_of(
    _SPECIAL,
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
)
_LINE_TEXT = st.text(_LINE_CHAR, max_size=12)


@st.composite
def _field_line(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["data", "data", "event", "id", "retry", "", "foo", "Data", "data "]))
    sep = draw(st.sampled_from(["", ":", ": ", ":  "]))
    value = draw(
        st.one_of(
            _LINE_TEXT,
            st.integers(0, 10**6).map(str),
            st.sampled_from(["+5", "5.0", " 5", "\u0663", "1\x00"]),
        )
    )
    if not sep and name:
        return name  # "name" alone: the whole line is the field name
    return name + sep + value


_LINE = st.one_of(_field_line(), st.just(""), _LINE_TEXT)
_EOL = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def event_streams(draw: st.DrawFn) -> bytes:
    """Byte streams built from SSE-like lines, with mixed line ends, raw junk bytes and maybe a BOM."""
    parts: list[bytes] = []
    if draw(st.booleans()):
        parts.append(b"\xef\xbb\xbf")
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.integers(0, 9)) == 0:
            # Arbitrary bytes: invalid UTF-8, stray CRs and LFs, BOM pieces.
            parts.append(draw(st.binary(max_size=6)))
        else:
            parts.append((draw(_LINE) + draw(_EOL)).encode("utf-8"))
    if draw(st.booleans()):
        parts.append(draw(_LINE).encode("utf-8"))  # unterminated tail
    return b"".join(parts)


# -- helpers --------------------------------------------------------------------


def run(chunks: list[bytes]) -> tuple[list[Event], str, int | None, bool]:
    decoder = SSEDecoder()
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    assert decoder.close() == []
    return events, decoder.last_event_id, decoder.retry, decoder.pending


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


_LINE_END = re.compile(r"\r\n|\r|\n")


def reference(stream: bytes) -> tuple[list[Event], str, int | None, bool]:
    """WHATWG HTML 9.2.6 transcribed as literally as possible, on the whole stream at once."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):  # UTF-8 decode strips one leading BOM
        text = text[1:]
    *lines, unterminated = _LINE_END.split(text)
    data_buf = event_buf = ""
    id_buf = None  # "" in the spec; None stands for "never set" (Event.id)
    last_id = None
    retry = event_retry = None
    in_event = False
    events = []
    for line in lines:
        if line == "":
            last_id = id_buf
            if data_buf == "":
                event_buf = ""
            else:
                if data_buf.endswith("\n"):
                    data_buf = data_buf[:-1]
                events.append(Event(event_buf or "message", data_buf, id_buf, event_retry))
                data_buf = event_buf = ""
            event_retry = None
            in_event = False
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        in_event = True
        if field == "event":
            event_buf = value
        elif field == "data":
            data_buf += value + "\n"
        elif field == "id":
            if "\x00" not in value:
                id_buf = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = event_retry = int(value)
    return events, last_id or "", retry, bool(unterminated) or in_event


# -- properties ------------------------------------------------------------------


@SETTINGS
@given(stream=event_streams(), cuts=st.lists(st.integers(min_value=0), max_size=8))
@example(stream=b"data: a\r\ndata: b\r\n\r\n", cuts=[8])  # CR | LF at a chunk boundary
@example(stream=b"data: a\r\r", cuts=[8])  # CR | CR: that one is a blank line
@example(stream=b"data: a\r\n\r\n", cuts=[8, 9, 10])  # every line end split
@example(stream=b"\xef\xbb\xbfdata: a\n\n", cuts=[1, 2])  # BOM in three pieces
@example(stream=b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", cuts=[3, 4])  # only one BOM goes
@example(stream="data: \u00e9\U0001f600\n\n".encode(), cuts=[7, 9, 10, 11])  # inside UTF-8
@example(stream=b"data: a\n\ndata: b", cuts=[12])  # unterminated tail
def test_any_chunking_gives_the_same_result(stream: bytes, cuts: list[int]) -> None:
    whole = run([stream])
    assert run(split(stream, cuts)) == whole
    assert run([stream[i : i + 1] for i in range(len(stream))]) == whole


@SETTINGS
@given(stream=event_streams())
@example(stream=b"data: a\r\n\r\ndata: b\r\rdata: c\n\n")
@example(stream=b"data: \xe2\x82\n\n")  # truncated UTF-8 right before a line end
@example(stream=b"\xef\xbbdata: x\n\ndata: y\n\n")  # a BOM prefix that is not a BOM
@example(stream=b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n")  # an id with NUL is ignored
@example(stream="retry: 1\n\nretry: \u0663\ndata: a\n\n".encode())  # a non-ASCII digit
def test_decoder_matches_the_spec_reference(stream: bytes) -> None:
    assert run([stream]) == reference(stream)


@SETTINGS
@given(
    lines=st.lists(_LINE, max_size=12),
    eols=st.lists(_EOL, min_size=12, max_size=12),
    cuts=st.lists(st.integers(min_value=0), max_size=4),
)
@example(lines=["data: a", "", "data: b", ""], eols=["\r", "\r\n", "\r", "\r"] + ["\n"] * 8, cuts=[8])
def test_line_end_style_does_not_matter(lines: list[str], eols: list[str], cuts: list[int]) -> None:
    lf = "".join(line + "\n" for line in lines).encode()
    mixed = []
    for i, line in enumerate(lines):
        eol = eols[i]
        # A CR line end directly followed by an LF would merge with it into a
        # single CRLF (one line end where two were meant). That happens only
        # when the next line is empty and ends in LF, so end that one in CRLF.
        if i and mixed[-1].endswith("\r") and not line and eol == "\n":
            eol = "\r\n"
        mixed.append(line + eol)
    expected = run([lf])
    assert run([lf.replace(b"\n", b"\r")]) == expected
    assert run([lf.replace(b"\n", b"\r\n")]) == expected
    mixed_bytes = "".join(mixed).encode()
    assert run([mixed_bytes]) == expected
    assert run(split(mixed_bytes, cuts)) == expected


# What encode_event can carry.  Surrogates are excluded everywhere because
# UTF-8 cannot encode them.  CR is excluded everywhere because it is a line
# end the decoder would split on (data's LFs become separate "data:" lines,
# but a CR would not survive).  Event names and ids may not hold LF either:
# a line end would cut the field short.  Ids may not hold NUL because the
# spec tells a decoder to ignore such an id.
_NO_SURROGATES = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")
_DATA = st.text(st.one_of(_NO_SURROGATES, st.sampled_from(["\n", " ", ":", "\ufeff", "\u2028"])), max_size=20)
_NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=8)
_ID = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=8)

_ENCODED = st.fixed_dictionaries(
    {"data": _DATA},
    optional={
        "event": _NAME,
        "id": _ID,
        "retry": st.integers(min_value=0, max_value=2**64),
        "comment": st.text(_NO_SURROGATES, max_size=8),
    },
)


@SETTINGS
@given(items=st.lists(_ENCODED, max_size=6), cuts=st.lists(st.integers(min_value=0), max_size=6))
@example(items=[{"data": ""}], cuts=[])
@example(items=[{"data": "\n"}], cuts=[])
@example(items=[{"data": " x ", "event": " e", "id": " 1"}], cuts=[])
@example(items=[{"data": "\ufeffa", "comment": "\ufeff"}], cuts=[1])
@example(items=[{"data": "a\u2028b\x85c", "event": "\x00"}], cuts=[])
@example(items=[{"data": "a", "id": "1"}, {"data": "b"}, {"data": "c", "id": ""}], cuts=[])
@example(items=[{"data": "a", "event": "", "retry": 0}], cuts=[])
def test_encode_event_round_trips(items: list[dict], cuts: list[int]) -> None:
    stream = b"".join(encode_event(**item) for item in items)
    expected = []
    last_id = None
    for item in items:
        if "id" in item:
            last_id = item["id"]
        expected.append(
            Event(
                event=item.get("event") or "message",
                data=item["data"],
                id=last_id,
                retry=item.get("retry"),
            )
        )
    events, last_event_id, _, pending = run(split(stream, cuts))
    assert events == expected
    assert last_event_id == (last_id or "")
    assert not pending
