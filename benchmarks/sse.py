"""SSE decoding: MB/s of the plugin's decoder on a recorded Gradio stream, beside
httpx-sse and a naive split, and a check that feeding it byte by byte stays linear."""

from __future__ import annotations

import codecs
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import Plan, available, rotated
from report import Target, md_table
from stats import Dist, fmt, fmt_ratio, ratio

# Every queue/data message of the project's Gradio 6.31 captures 07, 08 and 10
# (queued jobs, progress, gr.Error and plain exceptions, toasts, a generator,
# heartbeats), verbatim and in the order they were sent, one a line.
RECORDED_QUEUE_MESSAGES = Path(__file__).with_name("recorded_queue_messages.jsonl")


def recorded_messages() -> list[str]:
    """The recorded queue/data messages (JSON text), in order."""
    return [line for line in RECORDED_QUEUE_MESSAGES.read_text(encoding="utf-8").splitlines() if line]


def build_stream(target_bytes: int) -> bytes:
    """A Gradio queue/data event stream of at least ``target_bytes``: the recorded messages, repeated."""
    block = "".join(f"data: {message}\n\n" for message in recorded_messages()).encode()
    return block * max(1, -(-target_bytes // len(block)))


def decode_ours(stream: bytes, chunk: int) -> int:
    """Events decoded by the plugin's decoder, fed ``chunk`` bytes at a time."""
    from g4f_flux_plugin._sse import SSEDecoder

    decoder = SSEDecoder(
        max_line_bytes=max(1 << 20, len(stream) + 1), max_event_bytes=max(1 << 20, len(stream) + 1)
    )
    count = 0
    feed = decoder.feed
    for start in range(0, len(stream), chunk):
        count += len(feed(stream[start : start + chunk]))
    decoder.close()
    return count


def decode_httpx_sse(stream: bytes, chunk: int) -> int:
    """Events decoded by httpx-sse's pipeline, fed ``chunk`` bytes at a time."""
    # httpx-sse's own pipeline: httpx's incremental UTF-8 text decoding, its
    # SSE line splitter (CR, LF, CRLF across chunks), then its decoder.
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text = codecs.getincrementaldecoder("utf-8")("replace")
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    count = 0
    for start in range(0, len(stream), chunk):
        piece = text.decode(stream[start : start + chunk])
        if not piece:
            continue
        for line in lines.decode(piece):
            if decoder.decode(line.rstrip("\n")) is not None:
                count += 1
    for line in lines.flush():
        if decoder.decode(line) is not None:
            count += 1
    return count


def decode_naive(stream: bytes, chunk: int) -> int:
    """Events found by a naive split on blank lines, fed ``chunk`` bytes at a time."""
    # What many clients do: buffer, split on a blank line, take "data: ".
    buffer = b""
    count = 0
    for start in range(0, len(stream), chunk):
        buffer += stream[start : start + chunk]
        *blocks, buffer = buffer.split(b"\n\n")
        for block in blocks:
            if block.startswith(b"data: "):
                block[6:].decode()
                count += 1
    return count


OURS = "g4f_flux_plugin._sse"
HTTPX_SSE = "httpx-sse (SSELineDecoder + SSEDecoder)"


def decoders() -> dict[str, Callable[[bytes, int], int]]:
    """The decoders compared, by name (httpx-sse when installed)."""
    found = {OURS: decode_ours}
    if available("httpx_sse"):
        found[HTTPX_SSE] = decode_httpx_sse
    found["naive split(b'\\n\\n')"] = decode_naive
    return found


@dataclass
class SSEResult:
    """MB/s per (decoder, feeding) and the linearity pairs (small, large input)."""

    stream_bytes: int
    events: int
    mbps: dict[tuple[str, str], Dist]
    linearity: dict[str, tuple[Dist, Dist]]
    linearity_sizes: dict[str, tuple[int, int]]


def _mbps(function: Callable[[bytes, int], int], stream: bytes, chunk: int) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    count = function(stream, chunk)
    return len(stream) / (time.perf_counter() - start) / 1e6, count


def measure(plan: Plan) -> SSEResult:
    """Every decoder on the same streams, interleaved, then the linearity check."""
    stream = build_stream(int(plan.sse_mb * 1e6))
    small_stream = stream[: plan.sse_byte_kb * 1000]
    small_stream = small_stream[: small_stream.rfind(b"\n\n") + 2]
    cases = [("64 KiB chunks", 65536, stream), (f"byte at a time ({plan.sse_byte_kb} kB)", 1, small_stream)]
    expected = {id(s): decode_ours(s, 65536) for _, _, s in cases}
    functions = decoders()
    mbps: dict[tuple[str, str], Dist] = {
        (name, label): Dist([]) for name in functions for label, _, _ in cases
    }
    for rep in range(plan.sse_reps):
        for label, chunk, data in cases:
            for name in rotated(list(functions), rep):
                rate, count = _mbps(functions[name], data, chunk)
                if count != expected[id(data)]:
                    raise RuntimeError(f"{name} decoded {count} events, expected {expected[id(data)]}")
                mbps[(name, label)].values.append(rate)

    # Linearity: byte-at-a-time throughput on a 10x larger input must not drop.
    realistic = build_stream(1_000_000)
    small = realistic[:100_000]
    small = small[: small.rfind(b"\n\n") + 2]
    long_line = lambda n: b"data: " + b"x" * n + b"\n\n"  # noqa: E731 - one event, one huge line
    linearity = {"recorded stream": (Dist([]), Dist([])), "one long data line": (Dist([]), Dist([]))}
    sizes = {"recorded stream": (len(small), len(realistic)), "one long data line": (100_000, 1_000_000)}
    inputs = {
        "recorded stream": (small, realistic),
        "one long data line": (long_line(100_000), long_line(1_000_000)),
    }
    reps = max(1, plan.sse_reps // 2)
    for _ in range(reps):
        for key, (a, b) in inputs.items():
            linearity[key][0].values.append(_mbps(decode_ours, a, 1)[0])
            linearity[key][1].values.append(_mbps(decode_ours, b, 1)[0])
    return SSEResult(len(stream), expected[id(stream)], mbps, linearity, sizes)


def targets(sse: SSEResult) -> list[Target]:
    """Ours vs httpx-sse in 64 KiB chunks, and byte-at-a-time linearity."""
    found = []
    ours = sse.mbps[(OURS, "64 KiB chunks")].median
    if (HTTPX_SSE, "64 KiB chunks") in sse.mbps:
        theirs = sse.mbps[(HTTPX_SSE, "64 KiB chunks")].median
        r = ratio(ours, theirs)
        found.append(
            Target(
                "SSE decoder vs httpx-sse, 64 KiB chunks",
                ">= 1.0x",
                f"{fmt(ours)} vs {fmt(theirs)} MB/s",
                r,
                r is not None and r >= 1.0,
            )
        )
    else:
        found.append(
            Target(
                "SSE decoder vs httpx-sse, 64 KiB chunks", ">= 1.0x", "httpx-sse not installed", None, None
            )
        )
    for key, (small, large) in sse.linearity.items():
        r = ratio(large.median, small.median)
        a, b = sse.linearity_sizes[key]
        found.append(
            Target(
                f"SSE decoder linear byte at a time ({key}): MB/s at {b // 1000} kB / at {a // 1000} kB",
                ">= 0.8x",
                f"{fmt(large.median, 2)} vs {fmt(small.median, 2)} MB/s",
                r,
                r is not None and r >= 0.8,
            )
        )
    return found


def render(sse: SSEResult, plan: Plan) -> str:
    """The SSE decoding section."""
    out = ["## SSE decoding\n"]
    out.append(
        f"A Gradio queue/data stream of {sse.stream_bytes / 1e6:.2f} MB ({sse.events:,} events): "
        "the messages recorded from Gradio 6.31 (queue jobs, progress, errors, logs, heartbeats), "
        "repeated. Every decoder must return the same number of events. httpx-sse is fed the way "
        "its `aiter_sse` feeds it: incremental UTF-8 decoding, its `SSELineDecoder`, then its "
        f"`SSEDecoder`. Median of {plan.sse_reps} runs, MB/s (higher is better).\n"
    )
    labels = sorted({label for _, label in sse.mbps}, key=lambda s: not s.startswith("64"))
    ours = {label: sse.mbps[(OURS, label)].median for label in labels}
    rows = []
    for name in sorted({name for name, _ in sse.mbps}, key=list(decoders()).index):
        row = [name]
        for label in labels:
            d = sse.mbps[(name, label)]
            row += [
                f"{fmt(d.median, 2)} ({fmt(d.p10, 2)}–{fmt(d.p90, 2)})",
                fmt_ratio(ratio(d.median, ours[label])),
            ]
        rows.append(row)
    header = ["decoder"]
    for label in labels:
        header += [f"{label} MB/s (p10–p90)", "vs ours"]
    out.append(md_table(header, rows))
    out.append("")
    out.append(
        "Linearity of `g4f_flux_plugin._sse` fed one byte at a time (a quadratic buffer would make the "
        "larger input much slower per byte):\n"
    )
    rows = []
    for key, (small, large) in sse.linearity.items():
        a, b = sse.linearity_sizes[key]
        rows.append(
            [
                key,
                f"{fmt(small.median, 2)} MB/s at {a / 1000:.0f} kB",
                f"{fmt(large.median, 2)} MB/s at {b / 1000:.0f} kB",
                fmt_ratio(ratio(large.median, small.median)),
            ]
        )
    out.append(md_table(["input", "small", "large", "large / small"], rows))
    return "\n".join(out) + "\n"
