"""Example-based tests of the sans-I/O SSE decoder (g4f_flux_plugin._sse) and of the
tests' own encoder (sse_encoding).

Section numbers refer to the WHATWG HTML Living Standard, 9.2 "Server-sent
events"; the ``test_spec_*`` streams are the worked examples of 9.2.6.
"""

from __future__ import annotations

import pytest
from sse_encoding import encode_event

from g4f_flux_plugin._sse import (
    Event,
    SSEDecoder,
    SSEError,
    SSELimitError,
)


def decode(*chunks: bytes, **limits: int) -> tuple[list[Event], SSEDecoder]:
    """Feed the chunks in order, close, and return all events and the decoder."""
    decoder = SSEDecoder(**limits)
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    assert decoder.close() == []
    return events, decoder


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


# -- the worked examples of spec 9.2.6 ---------------------------------------


def test_spec_multiline_data_yhoo() -> None:
    events, decoder = decode(b"data: YHOO\ndata: +2\ndata: 10\n\n")
    assert events == [Event(event="message", data="YHOO\n+2\n10", id=None, retry=None)]
    assert not decoder.pending


def test_spec_test_stream_comment_ids_and_leading_space() -> None:
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    decoder = SSEDecoder()
    # "The first block has just a comment, and will fire nothing."
    assert decoder.feed(b": test stream\n\n") == []
    # The second fires "first event" and then sets the last event ID to "1".
    assert decoder.feed(b"data: first event\nid: 1\n\n") == [Event(data="first event", id="1")]
    assert decoder.last_event_id == "1"
    # The third has an "id" field with no value, which resets the ID to "".
    assert decoder.feed(b"data:second event\nid\n\n") == [Event(data="second event", id="")]
    assert decoder.last_event_id == ""
    # The last keeps one of its two leading spaces.
    assert decoder.feed(b"data:  third event\n\n") == [Event(data=" third event", id="")]

    events, _ = decode(stream)
    assert [e.data for e in events] == ["first event", "second event", " third event"]
    assert [e.id for e in events] == ["1", "", ""]


def test_spec_the_last_block_needs_a_blank_line() -> None:
    # "the end of the stream is not enough to trigger the dispatch of the last event"
    events, decoder = decode(b"data: first event\n\ndata:  third event\n")
    assert [e.data for e in events] == ["first event"]
    assert decoder.pending


def test_spec_empty_data_and_newline_data() -> None:
    events, decoder = decode(b"data\n\ndata\ndata\n\ndata:")
    # First block: data ""; middle block: data "\n"; the last is discarded.
    assert events == [Event(data=""), Event(data="\n")]
    assert decoder.pending


def test_spec_space_after_colon_is_optional() -> None:
    events, _ = decode(b"data:test\n\ndata: test\n\n")
    assert events == [Event(data="test"), Event(data="test")]


def test_spec_event_types_add_remove() -> None:
    # The named-event example of 9.2.4 (listened to with addEventListener).
    stream = b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    events, _ = decode(stream)
    assert [(e.event, e.data) for e in events] == [
        ("add", "73857293"),
        ("remove", "2153"),
        ("add", "113411"),
    ]


# -- line ends ----------------------------------------------------------------

STREAM_LF = b"event: e\nid: 1\ndata: one\ndata: two\n\n: c\ndata: three\n\n"
EXPECTED = [Event(event="e", data="one\ntwo", id="1"), Event(data="three", id="1")]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
@pytest.mark.parametrize("chunking", ["whole", "bytewise"])
def test_cr_lf_crlf_are_equivalent(eol: bytes, chunking: str) -> None:
    stream = STREAM_LF.replace(b"\n", eol)
    chunks = [stream] if chunking == "whole" else bytewise(stream)
    events, decoder = decode(*chunks)
    assert events == EXPECTED
    assert not decoder.pending


def test_mixed_line_ends_in_one_stream() -> None:
    events, _ = decode(b"event: e\r\nid: 1\rdata: one\ndata: two\r\n\r\n: c\rdata: three\n\n")
    assert events == EXPECTED


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    # curl_cffi's line iterator reads the LF after a chunk-final CR as a second,
    # empty line, which dispatches "a" too early and loses the join with "b".
    events, _ = decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert events == [Event(data="a\nb")]


def test_only_the_lf_right_after_a_chunk_final_cr_is_swallowed() -> None:
    # Once the chunk after the CR has started with something else, a later
    # chunk-initial LF is a line end of its own again.
    events, _ = decode(b"data: a\r", b"data: b\n", b"\n")
    assert events == [Event(data="a\nb")]


def test_cr_cr_across_chunks_is_a_blank_line() -> None:
    # The opposite mistake: after a chunk-final CR only an LF may be swallowed.
    events, _ = decode(b"data: a\r", b"\r")
    assert events == [Event(data="a")]


def test_chunk_final_cr_dispatches_without_waiting() -> None:
    # A CR already ends the line; the event must not wait for the next chunk.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [Event(data="a")]
    assert decoder.feed(b"\ndata: b\n\n") == [Event(data="b")]


def test_only_cr_lf_crlf_end_lines() -> None:
    # Unlike str.splitlines(), U+2028, U+0085, VT, FF and FS are ordinary characters.
    text = "a\u2028b\x85c\x0bd\x0ce\x1cf"
    events, _ = decode(f"data: {text}\n\n".encode())
    assert events == [Event(data=text)]


# -- byte-order mark ------------------------------------------------------------


def test_bom_whole() -> None:
    events, _ = decode(b"\xef\xbb\xbfdata: a\n\n")
    assert events == [Event(data="a")]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"\xef", b"\xbb\xbfdata: a\n\n"],
        [b"\xef\xbb", b"\xbfdata: a\n\n"],
        [b"\xef", b"\xbb", b"\xbf", b"data: a\n\n"],
        [b"\xef\xbb\xbf", b"data: a\n\n"],
        [b"", b"\xef", b"", b"\xbb\xbfdata: a\n\n"],
    ],
)
def test_bom_split_across_chunks(chunks: list[bytes]) -> None:
    events, decoder = decode(*chunks)
    assert events == [Event(data="a")]
    assert not decoder.pending


def test_bom_only_stripped_once_at_start() -> None:
    # A second BOM is part of the first line, making its field "\ufeffdata".
    events, _ = decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n")
    assert events == [Event(data="b")]
    # A BOM later in the stream is not stripped either.
    events, _ = decode(b"data: a\n\n\xef\xbb\xbfdata: b\n\ndata: c\n\n")
    assert events == [Event(data="a"), Event(data="c")]
    # And one inside a value is kept.
    events, _ = decode(b"data: \xef\xbb\xbfx\n\n")
    assert events == [Event(data="\ufeffx")]


def test_short_first_chunks_that_are_not_a_bom() -> None:
    events, _ = decode(b"d", b"ata: a\n\n")
    assert events == [Event(data="a")]
    # A BOM prefix that is then contradicted is an invalid byte, not dropped.
    events, _ = decode(b"\xef\xbb", b"data: a\n\ndata: b\n\n")
    assert events == [Event(data="b")]


def test_lone_bom_prefix_at_close_is_pending() -> None:
    _, decoder = decode(b"\xef\xbb")
    assert decoder.pending
    _, decoder = decode(b"\xef\xbb\xbf")
    assert not decoder.pending


# -- UTF-8 ----------------------------------------------------------------------


def test_utf8_sequence_split_across_chunks() -> None:
    raw = "data: caf\u00e9 \U0001f600\n\n".encode()
    events, _ = decode(*bytewise(raw))
    assert events == [Event(data="caf\u00e9 \U0001f600")]


# -- comments, fields -----------------------------------------------------------


def test_comments_are_ignored() -> None:
    events, decoder = decode(b": ping\n\n:\n\ndata: a\n: in the middle\ndata: b\n\n:tail\n")
    assert events == [Event(data="a\nb")]
    # A trailing comment line does not leave an event pending.
    assert not decoder.pending


def test_only_one_space_is_removed_and_only_a_space() -> None:
    events, _ = decode(b"data:   x\n\ndata:\tx\n\ndata: \n\n")
    assert [e.data for e in events] == ["  x", "\tx", ""]


@pytest.mark.parametrize(
    "stream, expected",
    [
        pytest.param(
            b"data: a\xffb\xe2\x82\n\n", [Event(data="a\ufffdb\ufffd")], id="invalid-utf8-is-replaced"
        ),
        pytest.param(b"data\n\n", [Event(data="")], id="data-without-colon"),
        pytest.param(b"data\ndata: x\ndata\n\n", [Event(data="\nx\n")], id="data-lines-without-colon"),
        pytest.param(
            b'event: a:b\ndata: {"k": "v"}\n\n',
            [Event(event="a:b", data='{"k": "v"}')],
            id="value-keeps-later-colons",
        ),
        pytest.param(
            b"Data: x\ndata : y\n data: z\ndatas: w\nEvent: e\n\ndata: ok\n\n",
            [Event(data="ok")],
            id="field-names-are-case-sensitive-and-exact",
        ),
        pytest.param(b"foo: bar\nx\ndata: x\nbaz\n\n", [Event(data="x")], id="unknown-fields-are-ignored"),
        pytest.param(
            b"event: x\nevent:\ndata: a\n\n",
            [Event(event="message", data="a")],
            id="empty-event-type-means-message",
        ),
    ],
)
def test_one_stream_decodes_to(stream: bytes, expected: list[Event]) -> None:
    events, _ = decode(stream)
    assert events == expected


# -- dispatch -------------------------------------------------------------------


def test_block_without_data_is_not_dispatched() -> None:
    # httpx-sse yields an event for such a block; spec 9.2.6 step 2 does not.
    events, _ = decode(b"event: foo\n\nid: 3\n\nretry: 10\n\n\n\n")
    assert events == []


def test_block_without_data_resets_the_event_type() -> None:
    events, _ = decode(b"event: ignored\n\ndata: x\n\n")
    assert events == [Event(event="message", data="x")]


def test_trailing_data_after_the_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: b") == [Event(data="a")]
    assert decoder.pending
    assert decoder.close() == []
    assert decoder.pending


# -- id -------------------------------------------------------------------------


def test_id_with_nul_is_ignored() -> None:
    events, decoder = decode(b"id: 5\ndata: a\n\nid: 6\x00\ndata: b\n\n")
    assert [e.id for e in events] == ["5", "5"]
    assert decoder.last_event_id == "5"


def test_nul_is_fine_elsewhere() -> None:
    events, _ = decode(b"event: e\x00\ndata: a\x00b\n\n")
    assert events == [Event(event="e\x00", data="a\x00b")]


def test_id_persists_across_events() -> None:
    events, decoder = decode(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\ndata: d\n\n")
    assert [e.id for e in events] == ["7", "7", "8", "8"]
    assert decoder.last_event_id == "8"


def test_id_is_none_until_sent() -> None:
    events, decoder = decode(b"data: a\n\n")
    assert events[0].id is None
    assert decoder.last_event_id == ""


def test_last_event_id_is_committed_by_a_blank_line_even_without_data() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 1\n") == []
    # spec 9.2.6 dispatch step 1 runs on the blank line, not on the id field.
    assert decoder.last_event_id == ""
    assert decoder.feed(b"\n") == []
    assert decoder.last_event_id == "1"
    # An id in a block that is cut off never becomes the last event ID.
    decoder.feed(b"id: 2\ndata: x\n")
    decoder.close()
    assert decoder.last_event_id == "1"
    assert decoder.pending


def test_id_set_after_data_in_the_same_block_applies_to_it() -> None:
    events, _ = decode(b"data: a\nid: 9\n\n")
    assert events == [Event(data="a", id="9")]


# -- retry ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("5000", 5000), ("007", 7)])
def test_retry_valid(value: str, expected: int) -> None:
    events, decoder = decode(f"retry: {value}\ndata: a\n\n".encode())
    assert events == [Event(data="a", retry=expected)]
    assert decoder.retry == expected


@pytest.mark.parametrize(
    "line",
    [
        "retry: +5",
        "retry: 5.0",
        "retry:",
        "retry: ",
        "retry:  5",  # the value is " 5": only one space is removed
        "retry: 5 ",
        "retry: -1",
        "retry: 1e3",
        "retry: 5_0",
        "retry: \u0663",  # ARABIC-INDIC DIGIT THREE: a digit, not an ASCII digit
        "retry: \u00b2",  # SUPERSCRIPT TWO: str.isdigit() says yes
        "retry",
    ],
)
def test_retry_invalid_is_ignored(line: str) -> None:
    events, decoder = decode(f"{line}\ndata: a\n\n".encode())
    assert events == [Event(data="a", retry=None)]
    assert decoder.retry is None


def test_retry_absurdly_long_is_ignored_not_raised() -> None:
    # Past CPython's int-from-str digit limit, int() would raise ValueError.
    events, decoder = decode(b"retry: " + b"9" * 5000 + b"\ndata: a\n\n")
    assert events == [Event(data="a")]
    assert decoder.retry is None
    # Leading zeros do not count towards that limit.
    _, decoder = decode(b"retry: " + b"0" * 5000 + b"42\n\n")
    assert decoder.retry == 42


def test_retry_applies_even_without_a_dispatched_event() -> None:
    events, decoder = decode(b"retry: 1500\n\ndata: a\n\n")
    # The reconnection time is a property of the stream (spec 9.2.6) ...
    assert decoder.retry == 1500
    # ... while Event.retry only reports a retry field of the event's own block.
    assert events == [Event(data="a", retry=None)]


def test_later_valid_retry_wins_and_invalid_does_not_reset() -> None:
    events, decoder = decode(b"retry: 10\nretry: 20\nretry: x\ndata: a\n\n")
    assert events[0].retry == 20
    assert decoder.retry == 20


# -- limits -----------------------------------------------------------------------


def test_line_at_the_limit_is_fine() -> None:
    events, _ = decode(b"data: 1234\n\n", max_line_bytes=10)
    assert events == [Event(data="1234")]
    events, _ = decode(*bytewise(b"data: 1234\r\n\r\n"), max_line_bytes=10)
    assert events == [Event(data="1234")]


def test_line_over_the_limit_with_its_line_end_raises() -> None:
    decoder = SSEDecoder(max_line_bytes=10)
    with pytest.raises(SSELimitError, match=r"max_line_bytes=10 \(11 bytes\)"):
        decoder.feed(b"data: ok\n\ndata: 12345\n\n")


def test_line_over_the_limit_without_a_line_end_raises_early() -> None:
    # A server that never sends a newline is stopped as soon as it passes the limit.
    decoder = SSEDecoder(max_line_bytes=10)
    assert decoder.feed(b"data: 1234") == []
    with pytest.raises(SSELimitError, match=r"max_line_bytes=10 \(11 bytes before its line end"):
        decoder.feed(b"5")


def test_endless_line_fed_bytewise_stops_at_the_limit() -> None:
    decoder = SSEDecoder(max_line_bytes=100)
    fed = 0

    def feed_bytewise() -> None:
        nonlocal fed
        for _ in range(10_000):
            decoder.feed(b"x")
            fed += 1

    with pytest.raises(SSELimitError):
        feed_bytewise()
    assert fed == 100


def test_endless_line_after_a_complete_one_in_the_same_chunk() -> None:
    decoder = SSEDecoder(max_line_bytes=10)
    with pytest.raises(SSELimitError, match="before its line end"):
        decoder.feed(b"data: a\n\n" + b"x" * 11)


def test_long_lines_across_chunks_count_as_one() -> None:
    decoder = SSEDecoder(max_line_bytes=10)
    decoder.feed(b"data:")
    with pytest.raises(SSELimitError, match="max_line_bytes"):
        decoder.feed(b" 123456\n")


def test_event_over_the_limit_raises() -> None:
    # The data buffer of "12345" and "123" is "12345\n123\n": 10 bytes.
    decoder = SSEDecoder(max_event_bytes=10)
    assert decoder.feed(b"data: 12345\ndata: 123\n\n") == [Event(data="12345\n123")]
    # It is reset per event, and one more byte is too many.
    decoder.feed(b"data: 12345\ndata: 123\n")
    with pytest.raises(SSELimitError, match=r"max_event_bytes=10 \(11 bytes"):
        decoder.feed(b"data\n")


def test_event_limit_counts_utf8_bytes() -> None:
    decoder = SSEDecoder(max_event_bytes=10)
    with pytest.raises(SSELimitError, match="max_event_bytes"):
        decoder.feed("data: \u00e9\u00e9\u00e9\u00e9\u00e9\n".encode())  # 10 bytes + LF


def test_decoder_is_unusable_after_an_error() -> None:
    decoder = SSEDecoder(max_line_bytes=4)
    with pytest.raises(SSELimitError) as excinfo:
        decoder.feed(b"data: x\n\n")
    assert isinstance(excinfo.value, SSEError)
    assert isinstance(excinfo.value, ValueError)
    with pytest.raises(SSEError, match="unusable"):
        decoder.feed(b"\n")
    # close() stays safe to call (e.g. in a finally) and reports the stream as cut.
    assert decoder.close() == []
    assert decoder.pending


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"max_line_bytes .* must be positive"):
        SSEDecoder(max_line_bytes=0)
    with pytest.raises(ValueError, match="max_event_bytes must be positive"):
        SSEDecoder(max_event_bytes=0)


# -- close and pending ------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "pending"),
    [
        (b"", False),
        (b"data: a\n\n", False),
        (b"data: a\n\n: keep-alive\n", False),
        (b"data: a\n\n\n\n", False),
        (b"data: a\n", True),  # a complete line, but no blank line
        (b"data: a", True),  # a partial line
        (b"event: x\n", True),  # a field line that no blank line ended
        (b":", True),  # even an unfinished comment is an unfinished line
        (b"data: a\r", True),
        (b"data: a\r\r", False),
    ],
)
def test_close_reports_what_was_dropped(stream: bytes, pending: bool) -> None:
    decoder = SSEDecoder()
    decoder.feed(stream)
    assert decoder.pending is pending
    assert decoder.close() == []
    assert decoder.pending is pending
    assert decoder.close() == []  # idempotent


def test_feed_after_close_is_an_error() -> None:
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(RuntimeError):
        decoder.feed(b"data: a\n\n")


def test_empty_feeds_and_buffer_types() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(bytearray(b"data: a\n")) == []
    assert decoder.feed(memoryview(b"\n")) == [Event(data="a")]
    assert not decoder.pending


# -- Event ----------------------------------------------------------------------------


def test_event_is_an_immutable_named_tuple() -> None:
    assert Event._fields == ("event", "data", "id", "retry")
    assert Event() == Event(event="message", data="", id=None, retry=None)
    event = decode(b"data: a\n\n")[0][0]
    with pytest.raises(AttributeError):
        event.data = "b"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    # Decoder-made events behave exactly like constructed ones.
    assert event == Event(data="a") and hash(event) == hash(Event(data="a"))
    assert repr(event) == "Event(event='message', data='a', id=None, retry=None)"
    assert (event.event, event.data, event.id, event.retry) == ("message", "a", None, None)


# -- encode_event -----------------------------------------------------------------------


def test_encode_event_layout() -> None:
    assert encode_event(data="a") == b"data: a\n\n"
    assert encode_event(data="") == b"data:\n\n"
    assert encode_event(data="a\n\nb") == b"data: a\ndata:\ndata: b\n\n"
    assert (
        encode_event(data="x", event="update", id="42", retry=3000, comment="hi\nthere")
        == b": hi\n: there\nevent: update\nid: 42\nretry: 3000\ndata: x\n\n"
    )


def test_encode_event_round_trips() -> None:
    stream = b"".join(
        [
            encode_event(data=" leading space\n", event="e", id="1", retry=0, comment=""),
            encode_event(data="", id=""),
            encode_event(data="caf\u00e9\n\U0001f600"),
        ]
    )
    events, decoder = decode(stream)
    assert events == [
        Event(event="e", data=" leading space\n", id="1", retry=0),
        Event(data="", id=""),
        Event(data="caf\u00e9\n\U0001f600", id=""),
    ]
    assert not decoder.pending


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "a\rb"},
        {"data": "a", "event": "a\nb"},
        {"data": "a", "event": "a\rb"},
        {"data": "a", "id": "1\n"},
        {"data": "a", "id": "1\x00"},
        {"data": "a", "retry": -1},
        {"data": "a", "comment": "x\ry"},
    ],
)
def test_encode_event_rejects_what_the_format_cannot_carry(kwargs: dict) -> None:
    # The message names the field that cannot be carried.
    field = next((name for name in kwargs if name != "data"), "data")
    with pytest.raises(ValueError, match=f"^{field} must"):
        encode_event(**kwargs)


def test_encode_event_rejects_a_non_int_retry() -> None:
    with pytest.raises(TypeError):
        encode_event(data="a", retry=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_event(data="a", retry=True)
