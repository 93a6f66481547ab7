"""Embedding and reading the CLI's metadata (``g4f_flux_plugin._metadata``).

Pure byte manipulation, checked against Pillow as the independent reader:
what is embedded must read back through Pillow, and the pixels must not change.
"""

from __future__ import annotations

import io
import json
import struct

import pytest
from hypothesis import example, given, settings, strategies as st

from g4f_flux_plugin import _metadata as m

Image = pytest.importorskip("PIL.Image")

RECORD = {
    "prompt": 'Un paysage d\'été ✓ "quoted"\nsecond line',
    "seed": 42,
    "width": 48,
    "height": 32,
    "steps": 4,
    "model": "black-forest-labs-flux-1-schnell",
    "space": "https://example.invalid",
}
SOFTWARE = "g4f-flux-plugin test"


def encode(fmt: str, mode: str = "RGB", **options) -> bytes:
    colour = (200, 100, 50, 128)[: len(mode)]
    out = io.BytesIO()
    Image.new(mode, (48, 32), colour).save(out, fmt, **options)
    return out.getvalue()


CASES = {
    "webp-lossy": lambda: encode("WEBP"),
    "webp-lossless": lambda: encode("WEBP", lossless=True),
    "webp-alpha": lambda: encode("WEBP", "RGBA"),
    "webp-lossless-alpha": lambda: encode("WEBP", "RGBA", lossless=True),
    "webp-with-xmp": lambda: encode("WEBP", xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"),
    "webp-with-exif": lambda: encode("WEBP", exif=Image.Exif().tobytes()),
    "png": lambda: encode("PNG"),
    "png-rgba": lambda: encode("PNG", "RGBA"),
    "jpeg": lambda: encode("JPEG"),
    "jpeg-with-exif": lambda: encode("JPEG", exif=Image.Exif().tobytes()),
}


@pytest.mark.parametrize("case", CASES)
def test_embedded_record_reads_back_and_pixels_are_unchanged(case):
    original = CASES[case]()
    embedded = m.embed(original, RECORD, SOFTWARE)
    assert m.read(embedded) == RECORD
    assert m.dimensions(embedded) == (48, 32)
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(embedded)) as after:
        assert after.size == (48, 32)
        assert before.convert("RGBA").tobytes() == after.convert("RGBA").tobytes()
        if after.format == "PNG":
            assert after.text["Description"] == RECORD["prompt"]
            assert json.loads(after.text[m.PNG_KEY]) == RECORD
            assert after.text["Software"] == SOFTWARE
        else:
            exif = after.getexif()
            assert exif[0x0131] == SOFTWARE
            comment = exif.get_ifd(0x8769)[0x9286]
            assert json.loads(comment[8:]) == RECORD
    if case == "webp-with-xmp":
        with Image.open(io.BytesIO(embedded)) as after:
            assert b"xmpmeta" in after.info["xmp"]  # other metadata survives


@pytest.mark.parametrize("case", CASES)
def test_embedding_twice_replaces_instead_of_adding(case):
    once = m.embed(CASES[case](), RECORD, SOFTWARE)
    changed = dict(RECORD, seed=7)
    twice = m.embed(once, changed, SOFTWARE)
    assert m.read(twice) == changed
    assert abs(len(twice) - len(once)) <= 2  # one record, not two


def test_ascii_prompt_is_the_plain_image_description():
    record = dict(RECORD, prompt="a cat holding a sign")
    with Image.open(io.BytesIO(m.embed(encode("WEBP"), record, SOFTWARE))) as image:
        assert image.getexif()[0x010E] == "a cat holding a sign"


def test_webp_image_data_is_copied_byte_for_byte():
    original = encode("WEBP")
    embedded = m.embed(original, RECORD, SOFTWARE)
    assert original[12:] in embedded  # the VP8 chunk, untouched
    assert embedded[12:16] == b"VP8X" and embedded[20] & 0x08  # EXIF flag set
    assert struct.unpack("<I", embedded[4:8])[0] == len(embedded) - 8


def test_sniff_and_dimensions():
    assert m.sniff(encode("WEBP")) == "webp"
    assert m.sniff(encode("PNG")) == "png"
    assert m.sniff(encode("JPEG")) == "jpeg"
    assert m.sniff(b"<html>") is None
    for fmt in ("WEBP", "PNG", "JPEG"):
        assert m.dimensions(encode(fmt)) == (48, 32)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG", "JPEG"])
def test_truncated_images_are_refused(fmt):
    data = encode(fmt)
    with pytest.raises(m.MetadataError):
        m.dimensions(data[: len(data) // 2] if fmt != "JPEG" else data[:20])


@pytest.mark.parametrize("target", ["png", "jpeg", "webp"])
def test_convert(target):
    converted = m.convert(encode("WEBP", "RGBA"), target)
    assert m.sniff(converted) == target and m.dimensions(converted) == (48, 32)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([b"", b"RIFF", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]))
@example(b"\x00\x00\x00\x00WEBPVP8X", b"RIFF")
@example(b"\x00\x00\x00\x0dIHDR", b"\x89PNG\r\n\x1a\n")
@example(b"", b"\x89PNG\r\n\x1a\n")  # no IEND: embed once returned it with no record
def test_damaged_bytes_raise_only_metadata_error(tail, head):
    data = head + tail
    read = m.read(data)
    assert read is None or isinstance(read, dict)
    _assert_refused_or_round_trips(data)


def _assert_refused_or_round_trips(data: bytes) -> None:
    """Damaged bytes are refused with MetadataError, or else treated as an image:
    a real size, and what is embedded reads back whole."""
    try:
        width, height = m.dimensions(data)
    except m.MetadataError:
        pass
    else:
        assert width > 0 and height > 0
    try:
        embedded = m.embed(data, RECORD, SOFTWARE)
    except m.MetadataError:
        pass
    else:
        # Accepting the bytes and then writing a record nobody can read back
        # would lose the prompt silently.
        assert m.read(embedded) == RECORD
        assert m.sniff(embedded) == m.sniff(data)


_VALID = {name: make() for name, make in CASES.items()}


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(_VALID)), st.data())
def test_truncated_or_corrupted_images_raise_only_metadata_error(case, data):
    original = m.embed(_VALID[case], RECORD, SOFTWARE)
    position = data.draw(st.integers(0, len(original) - 1))
    if data.draw(st.booleans()):
        damaged = original[:position]
    else:
        damaged = original[:position] + bytes([data.draw(st.integers(0, 255))]) + original[position + 1 :]
    read = m.read(damaged)
    assert read is None or isinstance(read, dict)
    _assert_refused_or_round_trips(damaged)


def test_webp_with_a_short_vp8x_header_is_refused():
    data = b"RIFF" + (12).to_bytes(4, "little") + b"WEBPVP8X" + (0).to_bytes(4, "little")
    with pytest.raises(m.MetadataError):
        m.embed(data, RECORD, SOFTWARE)
    with pytest.raises(m.MetadataError):
        m.dimensions(data)
