"""Image bytes: recognise the format, read the size, embed and read metadata.

Pure functions on ``bytes``, with no third-party import: metadata goes into
the image's container without decoding or re-encoding a pixel, so the
Space's lossy WebP is written exactly as it was made (a Pillow round trip
would compress it a second time). Only :func:`convert`, for a file asked in
another format, needs Pillow, and imports it when called.

Where the fields go, in forms common tools (and Pillow) read back:

- **WebP**: an ``EXIF`` chunk (the container gains a ``VP8X`` header if it had
  none), per the WebP container specification;
- **JPEG**: an ``APP1`` ``Exif`` segment right after ``SOI``/``APP0``;
- **PNG**: ``iTXt`` chunks (UTF-8) before ``IEND``.

The EXIF is a little TIFF: ``ImageDescription`` (the prompt), ``Software``,
and in the Exif IFD ``UserComment``: the whole record as JSON, ASCII-only
(``\\u`` escapes), which is the lossless copy (EXIF's ASCII type cannot hold
every prompt). PNG holds the prompt in ``Description``, the tool in
``Software`` and the JSON record in ``g4f-flux``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "MetadataError",
    "build_exif",
    "convert",
    "dimensions",
    "embed",
    "read",
    "sniff",
]

#: The formats this module reads and writes, and their usual file extension.
FORMATS = {"webp": ".webp", "png": ".png", "jpeg": ".jpg"}
#: File extensions understood, with the format each one means.
EXTENSIONS = {".webp": "webp", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}

PNG_KEY = "g4f-flux"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"
_EXIF_HEADER = b"Exif\x00\x00"  # how an EXIF block starts inside a JPEG APP1 segment

# TIFF tags (EXIF 2.32, section 4.6).
_IMAGE_DESCRIPTION = 0x010E
_SOFTWARE = 0x0131
_EXIF_IFD = 0x8769
_EXIF_VERSION = 0x9000
_USER_COMMENT = 0x9286
_ASCII, _LONG, _UNDEFINED = 2, 4, 7
# UserComment starts with an 8-byte character code (EXIF 2.32, table 9).
_CHARSET_ASCII = b"ASCII\x00\x00\x00"
_CHARSET_UNICODE = b"UNICODE\x00"

# WebP VP8X flags (RIFF container spec: Rsv|I|L|E|X|A|R, most significant first).
_VP8X_ALPHA = 0x10
_VP8X_EXIF = 0x08


class MetadataError(ValueError):
    """The bytes are not an image this module understands, or are damaged."""


# -- recognising ------------------------------------------------------------
def sniff(data: bytes) -> str | None:
    """``"webp"``, ``"png"`` or ``"jpeg"`` from the leading bytes, else ``None``."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    if data.startswith(_JPEG_SOI + b"\xff"):
        return "jpeg"
    return None


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) read from the image's headers; ``MetadataError`` if unreadable.

    This doubles as the check that downloaded bytes really are an image:
    a truncated or foreign file fails here.
    """
    kind = sniff(data)
    if kind == "webp":
        return _webp_dimensions(data)
    if kind == "png":
        chunks = list(_png_chunks(data))
        if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
            raise MetadataError("PNG without a valid IHDR chunk")
        if chunks[-1][0] != b"IEND":
            raise MetadataError("PNG truncated: no IEND chunk")
        width, height = struct.unpack(">II", chunks[0][1][:8])
        return _positive(width, height)
    if kind == "jpeg":
        for marker, payload in _jpeg_segments(data):
            # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if len(payload) < 5:
                    break
                height, width = struct.unpack(">HH", payload[1:5])
                return _positive(width, height)
        raise MetadataError("JPEG without a frame header")
    raise MetadataError("not a WebP, PNG or JPEG image")


def _positive(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise MetadataError(f"image with an empty size {width}x{height}")
    return width, height


# -- EXIF -------------------------------------------------------------------
def build_exif(fields: dict[str, Any], software: str) -> bytes:
    """A little-endian TIFF block: IFD0 (ImageDescription, Software, Exif IFD
    pointer) and an Exif IFD (ExifVersion, UserComment with ``fields`` as JSON)."""
    record = json.dumps(fields, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    prompt = str(fields.get("prompt", ""))
    ifd0 = [
        # EXIF's ASCII type is 7-bit in the spec, but UTF-8 is what exiftool,
        # Windows and browsers expect in practice; the JSON copy is exact.
        (_IMAGE_DESCRIPTION, _ASCII, prompt.encode("utf-8") + b"\x00"),
        (_SOFTWARE, _ASCII, software.encode("utf-8") + b"\x00"),
        (_EXIF_IFD, _LONG, None),  # offset filled in below
    ]
    exif_ifd = [
        (_EXIF_VERSION, _UNDEFINED, b"0232"),
        (_USER_COMMENT, _UNDEFINED, _CHARSET_ASCII + record.encode("ascii")),
    ]
    # Layout: header (8) | IFD0 | IFD0 data | Exif IFD | Exif IFD data.
    ifd0_size = 2 + 12 * len(ifd0) + 4
    ifd0_data_size = sum(_padded(len(v)) for _, _, v in ifd0 if v is not None and len(v) > 4)
    exif_offset = 8 + ifd0_size + ifd0_data_size
    filled = [(t, k, struct.pack("<I", exif_offset) if v is None else v) for t, k, v in ifd0]
    return b"II*\x00" + struct.pack("<I", 8) + _ifd(filled, 8) + _ifd(exif_ifd, exif_offset)


def _padded(size: int) -> int:
    return size + (size & 1)  # TIFF offsets are word-aligned


def _ifd(entries: list[tuple[int, int, bytes]], offset: int) -> bytes:
    """One IFD at ``offset`` followed by the values that do not fit in an entry."""
    entries = sorted(entries)  # TIFF 6.0: entries in ascending tag order
    data_offset = offset + 2 + 12 * len(entries) + 4
    table, data = [struct.pack("<H", len(entries))], []
    for tag, kind, value in entries:
        count = len(value) // 4 if kind == _LONG else len(value)
        if len(value) <= 4:
            field = value.ljust(4, b"\x00")
        else:
            field = struct.pack("<I", data_offset)
            data.append(value.ljust(_padded(len(value)), b"\x00"))
            data_offset += _padded(len(value))
        table.append(struct.pack("<HHI", tag, kind, count) + field)
    table.append(b"\x00\x00\x00\x00")  # no next IFD
    return b"".join(table + data)


def _read_exif(tiff: bytes) -> dict[str, Any] | None:
    """The JSON record in an EXIF block's UserComment, or ``None``."""
    if tiff.startswith(_EXIF_HEADER):
        tiff = tiff[len(_EXIF_HEADER) :]
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    try:
        ifd0 = _parse_ifd(tiff, order, struct.unpack(order + "I", tiff[4:8])[0])
        pointer = ifd0.get(_EXIF_IFD)
        if pointer is None:
            return None
        comment = _parse_ifd(tiff, order, struct.unpack(order + "I", pointer[:4])[0]).get(_USER_COMMENT)
    except (struct.error, IndexError):
        return None
    if not comment:
        return None
    code, text = comment[:8], comment[8:]
    if code == _CHARSET_UNICODE:
        decoded = text.decode("utf-16-le" if order == "<" else "utf-16-be", "replace")
    else:
        decoded = text.decode("utf-8", "replace")
    return _record(decoded.rstrip("\x00 "))


def _parse_ifd(tiff: bytes, order: str, offset: int) -> dict[int, bytes]:
    """Raw value bytes of each tag of one IFD (types ASCII, BYTE, UNDEFINED, LONG)."""
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 7: 1, 9: 4}
    (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
    values = {}
    for index in range(count):
        start = offset + 2 + 12 * index
        tag, kind, number = struct.unpack(order + "HHI", tiff[start : start + 8])
        size = sizes.get(kind, 0) * number
        if size <= 4:
            values[tag] = tiff[start + 8 : start + 8 + size]
        else:
            (where,) = struct.unpack(order + "I", tiff[start + 8 : start + 12])
            values[tag] = tiff[where : where + size]
    return values


def _record(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# -- WebP (RIFF container, developers.google.com/speed/webp/docs/riff_container)
def _webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size
    if end > len(data):
        raise MetadataError("WebP truncated: the RIFF size exceeds the data")
    chunks, position = [], 12
    while position + 8 <= end:
        fourcc = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        payload = data[position + 8 : position + 8 + size]
        if len(payload) != size:
            raise MetadataError(f"WebP truncated inside the {fourcc!r} chunk")
        chunks.append((fourcc, payload))
        position += 8 + _padded(size)  # odd-sized payloads are padded with one zero byte
    if not chunks:
        raise MetadataError("WebP without chunks")
    return chunks


def _webp_pack(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")
        for fourcc, payload in chunks
    )
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _webp_bitstream(fourcc: bytes, payload: bytes) -> tuple[int, int, bool]:
    """(width, height, has_alpha) of a simple-format WebP's image chunk."""
    if fourcc == b"VP8 ":
        # RFC 6386 section 9.1: 3-byte frame tag, start code 9d 01 2a, then
        # 14-bit width and height (2 bits of scale each).
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
            raise MetadataError("WebP with a damaged VP8 frame header")
        width, height = struct.unpack("<HH", payload[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    if fourcc == b"VP8L":
        # WebP lossless bitstream spec, section 3: signature 0x2f, then 14 bits
        # of width - 1, 14 of height - 1, 1 alpha_is_used bit, 3 version bits.
        if len(payload) < 5 or payload[0] != 0x2F:
            raise MetadataError("WebP with a damaged VP8L header")
        (bits,) = struct.unpack("<I", payload[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    raise MetadataError(f"WebP starting with an unexpected {fourcc!r} chunk")


def _webp_dimensions(data: bytes) -> tuple[int, int]:
    first, payload = _webp_chunks(data)[0]
    if first == b"VP8X":
        if len(payload) < 10:
            raise MetadataError("WebP with a short VP8X chunk")
        width = int.from_bytes(payload[4:7], "little") + 1
        height = int.from_bytes(payload[7:10], "little") + 1
        return _positive(width, height)
    width, height, _ = _webp_bitstream(first, payload)
    return _positive(width, height)


def _webp_embed(data: bytes, exif: bytes) -> bytes:
    chunks = _webp_chunks(data)
    first, payload = chunks[0]
    if first == b"VP8X" and len(payload) < 10:
        raise MetadataError("WebP with a short VP8X chunk")
    if first != b"VP8X":
        # A simple-format file: the extended format's VP8X header is required
        # before any metadata chunk, with the canvas size and feature flags.
        width, height, alpha = _webp_bitstream(first, payload)
        header = bytes([_VP8X_ALPHA if alpha else 0, 0, 0, 0])
        header += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", header))
    flags = chunks[0][1][0] | _VP8X_EXIF
    chunks[0] = (b"VP8X", bytes([flags]) + chunks[0][1][1:])
    chunks = [chunk for chunk in chunks if chunk[0] != b"EXIF"]
    # Chunk order: image data, then EXIF, then XMP, then unknown chunks.
    where = next((i for i, (fourcc, _) in enumerate(chunks) if fourcc == b"XMP "), len(chunks))
    chunks.insert(where, (b"EXIF", exif))
    return _webp_pack(chunks)


# -- PNG (ISO/IEC 15948) ----------------------------------------------------
def _png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    position = len(_PNG_SIGNATURE)
    while position < len(data):
        if position + 12 > len(data):
            raise MetadataError("PNG truncated inside a chunk header")
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        payload = data[position + 8 : position + 8 + length]
        if len(payload) != length or position + 12 + length > len(data):
            raise MetadataError(f"PNG truncated inside the {kind!r} chunk")
        yield kind, payload
        position += 12 + length
        if kind == b"IEND":
            return


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _itxt(keyword: str, text: str) -> bytes:
    # keyword NUL, compression flag 0, method 0, empty language NUL, empty
    # translated keyword NUL, then UTF-8 text.
    return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def _png_keyword(kind: bytes, payload: bytes) -> str | None:
    if kind not in (b"tEXt", b"iTXt", b"zTXt"):
        return None
    return payload.split(b"\x00", 1)[0].decode("latin-1")


def _png_embed(data: bytes, fields: dict[str, Any], software: str) -> bytes:
    record = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    ours = {"Description": str(fields.get("prompt", "")), "Software": software, PNG_KEY: record}
    out = [_PNG_SIGNATURE]
    ended = False
    for kind, payload in _png_chunks(data):
        if _png_keyword(kind, payload) in ours:
            continue  # replaced below, never duplicated
        if kind == b"IEND":
            out.extend(_itxt(key, value) for key, value in ours.items())
            ended = True
        out.append(_png_chunk(kind, payload))
    if not ended:
        # Our chunks go before IEND: without one the file is truncated, and
        # returning it would drop the record without a word.
        raise MetadataError("PNG truncated: no IEND chunk")
    return b"".join(out)


def _png_read(data: bytes) -> dict[str, Any] | None:
    for kind, payload in _png_chunks(data):
        if kind == b"iTXt" and _png_keyword(kind, payload) == PNG_KEY:
            _, rest = payload.split(b"\x00", 1)
            if rest[:1] != b"\x00":
                return None  # compressed: not written by this module
            # skip flag, method, then language and translated keyword (NUL-ended)
            _, _, text = rest[2:].split(b"\x00", 2)
            return _record(text.decode("utf-8", "replace"))
    return None


# -- JPEG (ITU T.81, EXIF 2.32 section 4.5.4) ---------------------------------
def _jpeg_split(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The header segments as (marker, payload), and where the scan (SOS) starts."""
    segments: list[tuple[int, bytes]] = []
    position = 2
    while position < len(data):
        if data[position] != 0xFF:
            raise MetadataError("JPEG with a damaged segment marker")
        start = position
        while position < len(data) and data[position] == 0xFF:
            position += 1  # fill bytes before a marker
        if position >= len(data):
            break
        marker = data[position]
        position += 1
        if marker in (0xD9, 0xDA):
            return segments, start
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue  # markers without a length, meaningless here
        if position + 2 > len(data):
            break
        (length,) = struct.unpack(">H", data[position : position + 2])
        if length < 2 or position + length > len(data):
            raise MetadataError("JPEG truncated inside a segment")
        segments.append((marker, data[position + 2 : position + length]))
        position += length
    raise MetadataError("JPEG truncated before its image data")


def _jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    return _jpeg_split(data)[0]


def _jpeg_embed(data: bytes, exif: bytes) -> bytes:
    segment = _EXIF_HEADER + exif
    if len(segment) + 2 > 0xFFFF:
        raise MetadataError("metadata too large for a JPEG APP1 segment (64 KiB)")
    segments, scan = _jpeg_split(data)
    # Any EXIF already there is replaced, never duplicated.
    kept = [(m, p) for m, p in segments if not (m == 0xE1 and p.startswith(_EXIF_HEADER))]
    # JFIF wants its APP0 right after SOI, EXIF its APP1: APP0 first, then APP1.
    at = 1 if kept and kept[0][0] == 0xE0 else 0
    kept.insert(at, (0xE1, segment))
    head = b"".join(bytes([0xFF, m]) + struct.pack(">H", len(p) + 2) + p for m, p in kept)
    return _JPEG_SOI + head + data[scan:]


def _jpeg_read(data: bytes) -> dict[str, Any] | None:
    for marker, payload in _jpeg_segments(data):
        if marker == 0xE1 and payload.startswith(_EXIF_HEADER):
            return _read_exif(payload[len(_EXIF_HEADER) :])
    return None


# -- the public operations ----------------------------------------------------
def embed(data: bytes, fields: dict[str, Any], software: str) -> bytes:
    """``data`` with ``fields`` (a JSON-able record; ``prompt`` is also written
    where viewers show a description) embedded; the pixels are untouched."""
    kind = sniff(data)
    if kind == "webp":
        return _webp_embed(data, build_exif(fields, software))
    if kind == "png":
        return _png_embed(data, fields, software)
    if kind == "jpeg":
        return _jpeg_embed(data, build_exif(fields, software))
    raise MetadataError("not a WebP, PNG or JPEG image")


def read(data: bytes) -> dict[str, Any] | None:
    """The record :func:`embed` wrote, or ``None`` (no record, or unreadable)."""
    kind = sniff(data)
    try:
        if kind == "webp":
            exif = next((p for fourcc, p in _webp_chunks(data) if fourcc == b"EXIF"), None)
            return _read_exif(exif) if exif is not None else None
        if kind == "png":
            return _png_read(data)
        if kind == "jpeg":
            return _jpeg_read(data)
    except (MetadataError, struct.error, ValueError):
        return None
    return None


def convert(data: bytes, kind: str) -> bytes:
    """Re-encode ``data`` as ``kind`` (``"webp"``, ``"png"``, ``"jpeg"``) with Pillow.

    Raises :class:`ImportError` with an install hint when Pillow is missing.
    """
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            "converting the image needs Pillow: pip install 'g4f-flux-plugin[cli]' "
            "(or keep the Space's WebP format)"
        ) from error
    import io

    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image: Image.Image = opened
        if kind == "jpeg" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")  # JPEG has no alpha channel
        out = io.BytesIO()
        options = {"jpeg": {"quality": 95}, "webp": {"quality": 90}, "png": {}}[kind]
        image.save(out, format=kind.upper(), **options)
    return out.getvalue()
