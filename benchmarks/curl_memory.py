"""Where a waiting generation's memory goes over curl_cffi, part by part.

The scale section measures the whole: the provider's curl_cffi transport, and
the floor over curl_cffi. This script takes libcurl's share apart, with
curl_cffi alone (no provider code): N transfers held open at once against a
server (a child process) that answers each ``GET`` with the head of an event
stream and one event, then holds it, and answers each ``POST`` at once with
a small JSON body, as a Gradio queue does a join. Per variant, in a fresh
interpreter, it reports per waiting transfer:

- *RSS*: the process's resident memory, minus before;
- *C heap*: glibc's ``mallinfo2`` (bytes in use, including mmapped blocks),
  which libcurl's allocations and Python's large objects share;
- *Python*: ``tracemalloc``'s traced memory (Python's own allocations).

The variants turn on, one at a time, what the transport does: Chrome
impersonation, a ``POST`` (the join) on the handle before its stream,
libcurl's smallest upload buffer (16 KiB), and curl_cffi's streaming mode
against a request read whole. Linux and glibc only::

    python benchmarks/curl_memory.py [-n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import socket
import subprocess
import sys
import tracemalloc

from common import proc_status_kib, raise_descriptor_limit

JOIN_BODY = b'{"data": ["a fox", 0, true, 256, 256, 1], "fn_index": 2, "session_hash": "abcdefghijkl"}'

#: name -> (impersonate, join first, 16 KiB upload buffer, streamed)
VARIANTS = {
    "GET stream, no impersonation": (False, False, False, True),
    "GET stream, Chrome impersonation": (True, False, False, True),
    "POST then GET stream, impersonation, libcurl's default upload buffer": (True, True, False, True),
    "POST then GET stream, impersonation, 16 KiB upload buffer (the transport)": (True, True, True, True),
    "POST then GET read whole, impersonation, 16 KiB upload buffer (the floor)": (True, True, True, False),
}


# -- the holding server (a child process) --------------------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"POST"):
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                body = b'{"event_id": "0123456789abcdef0123456789abcdef"}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                continue
            event = b'data: {"msg": "estimation", "rank": 5, "queue_size": 1000}\n\n'
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                b"transfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (len(event), event)
            )
            await writer.drain()
            await reader.read()  # held until the client goes
            return
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


# -- one variant (a fresh interpreter) ---------------------------------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


def _c_heap() -> int:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def _rss() -> int:
    return proc_status_kib("VmRSS") * 1024


async def _variant(url: str, count: int, name: str) -> dict[str, float | str]:
    from curl_cffi import CurlOpt
    from curl_cffi.requests import AsyncSession

    impersonate, join, small_upload, streamed = VARIANTS[name]
    session = AsyncSession(
        timeout=0,
        impersonate="chrome" if impersonate else None,
        max_clients=count + 10,
        curl_options={CurlOpt.UPLOAD_BUFFERSIZE: 16 * 1024} if small_upload else {},
    )

    async def post_join() -> object:
        return await session.post(
            url, data=JOIN_BODY, headers={"content-type": "application/json"}, timeout=30
        )

    async def one() -> object:
        if join:
            await post_join()
        return await session.get(url, stream=streamed, headers={"accept": "text/event-stream"})

    await post_join()  # warm: the multi handle, one easy handle, the first connection
    gc.collect()
    tracemalloc.start()
    rss, heap, traced = _rss(), _c_heap(), tracemalloc.get_traced_memory()[0]
    pending = [asyncio.ensure_future(one()) for _ in range(count)]
    # Until the server holds every stream (streamed: each hands over its
    # response with the first event; read whole: the requests never end).
    for _ in range(100 if streamed else 30):
        await asyncio.sleep(0.1)
        if streamed and all(task.done() for task in pending):
            break
    await asyncio.sleep(1)
    gc.collect()
    kib = 1024 * count
    return {
        "variant": name,
        "rss_kib": (_rss() - rss) / kib,
        "c_heap_kib": (_c_heap() - heap) / kib,
        "python_kib": (tracemalloc.get_traced_memory()[0] - traced) / kib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=1000, help="transfers held at once")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _, limit = raise_descriptor_limit()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    if args.variant:
        result = asyncio.run(_variant(args.url, args.count, args.variant))
        print(json.dumps(result), flush=True)
        os._exit(0)  # the held transfers are the server's to drop
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        print(
            f"{args.count:,} transfers held at once; KiB per transfer (soft RLIMIT_NOFILE raised to {limit:,})\n"
        )
        print("| variant | RSS | C heap | Python |\n| --- | --- | --- | --- |")
        for name in VARIANTS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "-n",
                    str(args.count),
                    "--variant",
                    name,
                    "--url",
                    f"http://127.0.0.1:{port}/x",
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {name} | {row['rss_kib']:.1f} | {row['c_heap_kib']:.1f} | {row['python_kib']:.1f} |",
                flush=True,
            )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
