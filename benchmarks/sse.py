"""SSE decoding: MB/s of the plugin's decoder on a recorded Gradio stream, beside
httpx-sse and a naive split, and a check that feeding it byte by byte stays linear."""

from __future__ import annotations

import codecs
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

from common import Plan, available, rotated
from report import Target, md_table
from stats import Dist, fmt, fmt_ratio, ratio

# Every queue/data message of the project's Gradio 6.31 captures 07, 08 and 10
# (queued jobs, progress, gr.Error and plain exceptions, toasts, a generator,
# heartbeats), verbatim and in the order they were sent.
RECORDED_QUEUE_MESSAGES = r"""
{"msg":"estimation","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","rank":0,"queue_size":1,"rank_eta":0.6123877763748169}
{"msg":"process_starts","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","eta":0.6123877763748169}
{"msg":"progress","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","progress_data":[{"index":0,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"estimation","event_id":"d068462bfd7943759efe092b8fd0c63a","rank":0,"queue_size":1,"rank_eta":1.099591851234436}
{"msg":"estimation","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","rank":1,"queue_size":2,"rank_eta":1.7018663883209229}
{"msg":"progress","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","progress_data":[{"index":1,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","progress_data":[{"index":2,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"process_completed","event_id":"3efc6a7269624d2293effd3f4ad9ed1a","output":{"data":[{"path":"/tmp/gradio/781bac4ee98e4f2682d51a2b546c50bdf811c344e5fe956b6b66a08d41a3a1bc/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/781bac4ee98e4f2682d51a2b546c50bdf811c344e5fe956b6b66a08d41a3a1bc/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":0.6059010028839111,"average_duration":0.4436396598815918,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.6059010028839111,"avg_time":0.4436396598815918}
{"msg":"estimation","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","rank":0,"queue_size":1,"rank_eta":1.223539193471273}
{"msg":"process_starts","event_id":"d068462bfd7943759efe092b8fd0c63a","eta":0.6117776234944662}
{"msg":"progress","event_id":"d068462bfd7943759efe092b8fd0c63a","progress_data":[{"index":0,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"d068462bfd7943759efe092b8fd0c63a","progress_data":[{"index":1,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"d068462bfd7943759efe092b8fd0c63a","progress_data":[{"index":2,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"process_completed","event_id":"d068462bfd7943759efe092b8fd0c63a","output":{"data":[{"path":"/tmp/gradio/c538daf0960fb70718327883c7bc9178ad6aceeac7672fa5cd63ff18048ad8d0/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/c538daf0960fb70718327883c7bc9178ad6aceeac7672fa5cd63ff18048ad8d0/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},2],"is_generating":false,"duration":0.6019954681396484,"average_duration":0.4700322945912679,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.6019954681396484,"avg_time":0.4700322945912679}
{"msg":"process_starts","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","eta":0.6115366816520691}
{"msg":"progress","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","progress_data":[{"index":0,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","progress_data":[{"index":1,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","progress_data":[{"index":2,"length":3,"unit":"steps","progress":null,"desc":null}]}
{"msg":"process_completed","event_id":"2f1b17d4234e4744ae46f3c07f4b98b7","output":{"data":[{"path":"/tmp/gradio/3af8a6d1daafd4464681fdcfe7103ec052d5047a592eefff7a9f28b0f4718620/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/3af8a6d1daafd4464681fdcfe7103ec052d5047a592eefff7a9f28b0f4718620/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},3],"is_generating":false,"duration":0.602092981338501,"average_duration":0.48889810698372976,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.602092981338501,"avg_time":0.48889810698372976}
{"msg":"close_stream","event_id":null}
{"msg":"estimation","event_id":"3c7eaff60c464098bfcd720ed9a834a0","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"3c7eaff60c464098bfcd720ed9a834a0","eta":null}
{"msg":"estimation","event_id":"ec1ef5e969bd4580bb622a1a55b329d9","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"ec1ef5e969bd4580bb622a1a55b329d9","eta":null}
{"msg":"estimation","event_id":"98afe83afbc44e6caea148853af295de","rank":0,"queue_size":1,"rank_eta":0.20810914039611816}
{"msg":"process_starts","event_id":"98afe83afbc44e6caea148853af295de","eta":0.20810914039611816}
{"msg":"log","event_id":"98afe83afbc44e6caea148853af295de","log":"Waiting for a GPU to become available","level":"info","duration":10.0,"visible":true,"title":"ZeroGPU queue"}
{"msg":"estimation","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","rank":0,"queue_size":1,"rank_eta":0.6158504486083984}
{"msg":"process_starts","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","eta":0.6158504486083984}
{"msg":"process_completed","event_id":"3c7eaff60c464098bfcd720ed9a834a0","output":{"error":"You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. ","duration":10,"visible":true,"title":"ZeroGPU quota exceeded"},"success":false,"title":"ZeroGPU quota exceeded","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"process_completed","event_id":"ec1ef5e969bd4580bb622a1a55b329d9","output":{"error":null},"success":false,"title":"Error","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"log","event_id":"98afe83afbc44e6caea148853af295de","log":"GPU task is exceeding its requested duration and might be aborted","level":"warning","duration":10.0,"visible":true,"title":"ZeroGPU duration"}
{"msg":"process_completed","event_id":"98afe83afbc44e6caea148853af295de","output":{"data":[{"path":"/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":0.20074200630187988,"average_duration":0.2008293867111206,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.20074200630187988,"avg_time":0.2008293867111206}
{"msg":"process_generating","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","output":{"data":[{"path":"/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/7df6a236dec4b7de10262377084eb90e05616ac9bb7c582bd5f86ca175dd47bc/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":true,"duration":0.20071887969970703,"average_duration":0.16067986488342284,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"time_limit":null}
{"msg":"process_generating","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","output":{"data":[[["replace",["path"],"/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp"],["replace",["url"],"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp"]],[]],"is_generating":true,"duration":0.20081233978271484,"average_duration":0.16736861069997153,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"time_limit":null}
{"msg":"process_completed","event_id":"1bd01364ca4249fbb0a9ac1351aef52c","output":{"data":[{"path":"/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp","url":"http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/cc2221fba59c32d26a0ae9a49995abf5f19ef74a02fe9a3aaa060ce07e8033fb/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":0.0006139278411865234,"average_duration":0.14354651314871653,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":0.0006139278411865234,"avg_time":0.14354651314871653}
{"msg":"close_stream","event_id":null}
{"msg":"estimation","event_id":"9b797172e9cc493b874cef9f10b9ceb5","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"9b797172e9cc493b874cef9f10b9ceb5","eta":null}
{"msg":"estimation","event_id":"f05d9af9b0f64d97858f66b1af3fcee1","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"f05d9af9b0f64d97858f66b1af3fcee1","eta":null}
{"msg":"process_completed","event_id":"9b797172e9cc493b874cef9f10b9ceb5","output":{"error":"You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. ","duration":10,"visible":true,"title":"ZeroGPU quota exceeded"},"success":false,"title":"ZeroGPU quota exceeded","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"process_completed","event_id":"f05d9af9b0f64d97858f66b1af3fcee1","output":{"error":"CUDA out of memory (simulated plain exception)","visible":true},"success":false,"title":"Error","used_cache":null,"cache_duration":null,"avg_time":null}
{"msg":"close_stream","event_id":null}
{"msg":"estimation","event_id":"63e48e0fc9ae4db18c6c4997d048307f","rank":0,"queue_size":1,"rank_eta":null}
{"msg":"process_starts","event_id":"63e48e0fc9ae4db18c6c4997d048307f","eta":null}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":0,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":1,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":2,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"heartbeat","event_id":null}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[{"index":16,"length":17,"unit":"steps","progress":null,"desc":null}]}
{"msg":"progress","event_id":"63e48e0fc9ae4db18c6c4997d048307f","progress_data":[]}
{"msg":"process_completed","event_id":"63e48e0fc9ae4db18c6c4997d048307f","output":{"data":[{"path":"/tmp/gradio/cac1dffc30bd3a1aa67152924d038b0c1f1e9529c507768854e7bc107f0fb5c8/image.webp","url":"http://127.0.0.1:7862/gradio_api/file=/tmp/gradio/cac1dffc30bd3a1aa67152924d038b0c1f1e9529c507768854e7bc107f0fb5c8/image.webp","size":null,"orig_name":"image.webp","mime_type":null,"is_stream":false,"meta":{"_type":"gradio.FileData"}},1],"is_generating":false,"duration":17.007033824920654,"average_duration":17.007033824920654,"render_config":null,"changed_state_ids":[],"used_cache":null},"success":true,"title":null,"used_cache":null,"cache_duration":17.007033824920654,"avg_time":17.007033824920654}
{"msg":"close_stream","event_id":null}
"""


def recorded_messages() -> list[str]:
    """The recorded queue/data messages (JSON text), in order."""
    return [line for line in RECORDED_QUEUE_MESSAGES.strip().splitlines() if line]


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
