"""The scenarios of the fault server: what each route of a fake Gradio Space does.

A scenario is a :class:`Scenario` subclass that overrides one step of a
healthy Space (config, submit, stream, cancel, file); :data:`SCENARIOS` maps
their names, which tests pass to ``FaultServer.use``. A job's events are
written once, protocol-neutrally (:class:`EventWriter`), and rendered in the
call or the queue protocol's format. The server that runs them is in
``fault_server.py``.

Every loop in a handler is bounded (bytes sent, or seconds), so nothing runs
on after a test, even when the client never disconnects.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import uuid
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    import aiohttp
    from fault_server import FaultServer

#: Path of the image every successful job "made" (as Gradio names them).
IMAGE_PATH = "/tmp/gradio/5ba60ea81c8f7cd2f1576ee6c5cd5d4ccfb88cece0dba52c0d8935de40f31bb6/image.webp"
IMAGE_BYTES = b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00fault-server!"
QUOTA_ERROR = {
    "error": "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. ",
    "duration": 10,
    "visible": True,
    "title": "ZeroGPU quota exceeded",
}
#: The 502 page of a typical front proxy: what must never be dumped into a message.
HTML_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{status} {reason}</title>'
    "<style>body {{ font-family: sans-serif }}</style></head>\n<body><h1>{reason}</h1>"
    '<p>The upstream server is not answering. <a href="https://status.example">Status</a></p>'
    "</body></html>\n"
)
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
CHUNK = b"x" * (64 << 10)  # preallocated, so hostile bodies cost the server no memory
MAX_HANDLER_SECONDS = 30.0  # no handler outlives this, whatever the client does

# Queue sessions of every server of the process: a job joined on one server
# (after a redirect) can be read on another, as behind a shared proxy.
_SESSIONS: dict[str, str] = {}


def gradio_config(prefix: str = "/gradio_api") -> dict:
    """A trimmed Gradio 6.31 ``/config`` with the Space's layout: two example
    dependencies, then ``infer`` (fn 2, triggered by the Run button, id 5).
    Gradio 4 (``prefix=""``) had no ``api_prefix`` key at all. The inputs
    carry the Space's labels: the client recognises its layout by them."""

    def slider(id_, label, minimum, maximum, step, value):
        return {
            "id": id_,
            "type": "slider",
            "props": {"label": label, "minimum": minimum, "maximum": maximum, "step": step, "value": value},
        }

    config = {
        "version": "6.31.0" if prefix else "4.44.1",
        "mode": "blocks",
        "enable_queue": True,
        "protocol": "sse_v3",
        "components": [
            {"id": 4, "type": "textbox", "props": {"label": "Prompt", "value": ""}},
            {"id": 5, "type": "button", "props": {"value": "Run"}},
            {"id": 6, "type": "image", "props": {"format": "webp"}},
            slider(8, "Seed", 0, 2147483647, 1, 0),
            {"id": 9, "type": "checkbox", "props": {"label": "Randomize seed", "value": True}},
            slider(11, "Width", 256, 2048, 32, 1024),
            slider(12, "Height", 256, 2048, 32, 1024),
            slider(15, "Number of inference steps", 1, 50, 1, 4),
            {"id": 18, "type": "dataset", "props": {}},
        ],
        "dependencies": [
            {
                "id": 0,
                "api_name": "load_example_input",
                "targets": [[18, "click"]],
                "inputs": [18],
                "outputs": [4],
                "queue": False,
            },
            {
                "id": 1,
                "api_name": "load_example",
                "targets": [[None, "then"]],
                "inputs": [18],
                "outputs": [6, 8],
                "queue": True,
            },
            {
                "id": 2,
                "api_name": "infer",
                "targets": [[5, "click"], [4, "submit"]],
                "inputs": [4, 8, 9, 11, 12, 15],
                "outputs": [6, 8],
                "queue": True,
            },
        ],
    }
    if prefix:
        config["api_prefix"] = prefix
    return config


def file_data(root: str, prefix: str, *, path: str | None = IMAGE_PATH, url: Any = "auto") -> dict:
    """A Gradio ``FileData`` as the Space sends it; ``url=None`` leaves the key out."""
    data: dict[str, Any] = {
        "size": None,
        "orig_name": "image.webp",
        "mime_type": None,
        "is_stream": False,
        "meta": {"_type": "gradio.FileData"},
    }
    if path is not None:
        data["path"] = path
    if url == "auto":
        data["url"] = f"{root}{prefix}/file={path}"
    elif url is not None:
        data["url"] = url
    return data


def reset(request: web.BaseRequest) -> None:
    """Drop the connection with a TCP reset (SO_LINGER 0), as a crashed proxy does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Dropped(Exception):
    """The handler dropped the connection on purpose: nothing more to send."""


#: Headers a proxy (this module's and tests/_helpers.py's) does not pass on (RFC 9110, 7.6.1), and those it recomputes.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def forward(
    session: aiohttp.ClientSession, upstream: str, request: web.Request, headers: dict[str, str], body: bytes
) -> Any:
    """The request a reverse proxy (this module's and tests/_helpers.py's) sends
    upstream for ``request``: same method, path and query, no redirects followed.
    Used as ``async with forward(...) as response``."""
    return session.request(
        request.method, upstream + request.path_qs, headers=headers, data=body or None, allow_redirects=False
    )


@dataclass
class Recorded:
    """One request as a server or proxy of the tests saw it (``headers``: lower-case
    names; ``route``: the fault server's name for it, empty elsewhere)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    route: str = ""
    at: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, request: web.Request, body: bytes = b"", route: str = "") -> Recorded:
        """The record of ``request`` as it arrived (``body``: already read)."""
        return cls(
            request.method,
            request.path,
            request.query_string,
            {key.lower(): value for key, value in request.headers.items()},
            body,
            route,
        )

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class EventWriter:
    """Writes a job's events in the call or the queue protocol's format.

    ``crlf`` ends lines with CRLF; ``bytewise`` sends one byte per write and
    lets the loop run between them, so the client receives the stream in
    pieces as small as the network allows.
    """

    request: web.Request
    response: web.StreamResponse
    proto: str
    event_id: str
    _: KW_ONLY
    crlf: bool = False
    bytewise: bool = False

    async def raw(self, data: bytes) -> None:
        if self.crlf:
            data = data.replace(b"\n", b"\r\n")
        if not self.bytewise:
            await self.response.write(data)
            return
        for index in range(len(data)):
            await self.response.write(data[index : index + 1])
            await asyncio.sleep(0.0002)  # one TCP segment per byte (the server sets TCP_NODELAY)

    async def _call(self, name: str, data: Any) -> None:
        await self.raw(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

    async def _queue(self, message: dict) -> None:
        await self.raw(b"data: " + json.dumps(message, separators=(",", ":")).encode() + b"\n\n")

    async def heartbeat(self) -> None:
        if self.proto == "call":
            await self._call("heartbeat", None)
        else:
            await self._queue({"msg": "heartbeat", "event_id": None})

    async def progress(self, index: int, length: int) -> None:
        """Queue estimation/start/progress; the call protocol has none of them."""
        if self.proto == "call":
            return
        if index == 0:
            await self._queue(
                {"msg": "estimation", "event_id": self.event_id, "rank": 0, "queue_size": 1, "rank_eta": 0.5}
            )
            await self._queue({"msg": "process_starts", "event_id": self.event_id, "eta": 0.5})
        await self._queue(
            {
                "msg": "progress",
                "event_id": self.event_id,
                "progress_data": [
                    {"index": index, "length": length, "unit": "steps", "progress": None, "desc": None}
                ],
            }
        )

    async def complete(self, output: Any) -> None:
        """Success with ``output`` (``[FileData, seed]``); for the queue protocol
        ``output=None`` is the ``{}`` of a cancelled job."""
        if self.proto == "call":
            await self._call("complete", output)
        else:
            await self._queue(
                {
                    "msg": "process_completed",
                    "event_id": self.event_id,
                    "output": {} if output is None else {"data": output, "is_generating": False},
                    "success": True,
                    "title": None,
                }
            )

    async def error(self, payload: Any) -> None:
        """A failed job: the call protocol's ``error`` event with ``payload``
        as is; the queue protocol's ``process_completed`` with success false."""
        if self.proto == "call":
            await self._call("error", payload)
            return
        output = payload if isinstance(payload, dict) else {"error": payload}
        await self._queue(
            {
                "msg": "process_completed",
                "event_id": self.event_id,
                "output": output,
                "success": False,
                "title": output.get("title") or "Error",
            }
        )

    async def log(self, text: str, *, level: str = "info", title: str | None = None) -> None:
        """A toast (``gr.Info``/``gr.Warning``): a queue ``log`` message; the
        call protocol drops toasts."""
        if self.proto == "queue":
            await self._queue(
                {
                    "msg": "log",
                    "event_id": self.event_id,
                    "log": text,
                    "level": level,
                    "title": title,
                    "duration": 10,
                    "visible": True,
                }
            )

    async def close_stream(self) -> None:
        if self.proto == "queue":
            await self._queue({"msg": "close_stream", "event_id": None})

    async def unexpected_error(self, message: str = "404: Not Found") -> None:
        await self._queue(
            {
                "msg": "unexpected_error",
                "event_id": None,
                "message": message,
                "session_not_found": True,
                "success": False,
            }
        )


# -- scenarios ------------------------------------------------------------------


class Scenario:
    """``ok``: a healthy Gradio 6 Space (2 progress steps, then the image).

    Subclasses override one step. Options common to the failing ones:
    ``times`` -- fail that many attempts, then behave (default: always).
    """

    name = "ok"

    def __init__(self, server: FaultServer, **options: Any) -> None:
        self.server = server
        self.options = options

    def failing(self, route: str) -> bool:
        """Whether this attempt (the n-th request to ``route``) should fail."""
        times = self.options.get("times")
        return times is None or self.server.count(route) <= times

    # Routes. Each returns a response, or raises _Dropped after reset().
    async def config(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(gradio_config(self.server.prefix))

    async def submit(self, request: web.Request, proto: str, payload: Any) -> web.StreamResponse:
        if proto == "queue" and not (isinstance(payload, dict) and payload.get("session_hash")):
            return web.json_response({"detail": "Session hash not found."}, status=400)
        event_id = uuid.uuid4().hex
        if proto == "queue":
            _SESSIONS[payload["session_hash"]] = event_id
        return web.json_response({"event_id": event_id})

    async def stream(self, request: web.Request, proto: str, event_id: str | None) -> web.StreamResponse:
        response = await self.open_stream(request)
        writer = EventWriter(
            request,
            response,
            proto,
            event_id or "",
            crlf=self.options.get("crlf", False),
            bytewise=self.options.get("bytewise", False),
        )
        if proto == "queue" and event_id is None:
            await writer.unexpected_error()
            return response
        await self.script(writer)
        await writer.close_stream()
        return response

    async def open_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        return response

    async def script(self, writer: EventWriter) -> None:
        """The job's events; by default two steps and the image."""
        await writer.progress(0, 2)
        await writer.progress(1, 2)
        await writer.complete(self.output())

    def output(self) -> list:
        return [file_data(self.server.root, self.server.prefix), 7]

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"success": True})

    async def file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=IMAGE_BYTES, content_type="image/webp")


def status_response(
    status: int,
    *,
    html: bool = True,
    retry_after: str | None = None,
    detail: str | None = None,
    body_bytes: int = 0,
) -> web.StreamResponse:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    reason = REASONS.get(status, "Error")
    if html:
        text = HTML_PAGE.format(status=status, reason=reason)
        if body_bytes:  # a huge page: only a short excerpt may ever be read
            text += "<!--" + "-" * body_bytes + "-->"
        return web.Response(status=status, text=text, content_type="text/html", headers=headers)
    return web.json_response({"detail": detail or reason}, status=status, headers=headers)


class SpaceNotFound(Scenario):
    """``space_404``: every route answers 404, as for a Space that does not exist."""

    name = "space_404"

    async def config(self, request):
        return web.json_response({"detail": "Not Found"}, status=404)

    submit = stream = cancel = file = lambda self, request, *args: self.config(request)


class ConfigMissing(Scenario):
    """``config_404``: only ``/config`` answers 404; the API routes work."""

    name = "config_404"

    async def config(self, request):
        return web.json_response({"detail": "Not Found"}, status=404)


class ConfigNotJson(Scenario):
    """``config_not_json``: ``/config`` answers 200 with an HTML page."""

    name = "config_not_json"

    async def config(self, request):
        return web.Response(text="<html><body>Building the Space...</body></html>", content_type="text/html")


class ConfigStatus(Scenario):
    """``config_status``: ``/config`` answers ``status`` (an HTML page) ``times`` times."""

    name = "config_status"

    async def config(self, request):
        if self.failing("config"):
            return status_response(self.options.get("status", 502))
        return await super().config(request)


class HugeJson(Scenario):
    """``huge_json``: ``/config`` (``route="config"``) or the submit answer
    (``route="submit"``) is a JSON document of ``size`` bytes (default 2 MiB),
    with a content-length, or chunked without one (``chunked=True``)."""

    name = "huge_json"

    async def _huge(self, request):
        size = self.options.get("size", 2 << 20)
        head, tail = b'{"event_id": "x", "padding": "', b'"}'
        if not self.options.get("chunked"):
            return web.Response(body=head + b"x" * size + tail, content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(head)
        sent = 0
        while sent < size:
            await response.write(CHUNK)
            sent += len(CHUNK)
        await response.write(tail)
        return response

    async def config(self, request):
        if self.options.get("route", "config") == "config":
            return await self._huge(request)
        return await super().config(request)

    async def submit(self, request, proto, payload):
        if self.options.get("route") == "submit":
            if proto == "queue":
                _SESSIONS[payload["session_hash"]] = "x"  # the padded answer's event id
            return await self._huge(request)
        return await super().submit(request, proto, payload)


class Redirect(Scenario):
    """``redirect``: ``route`` (``"config"`` or ``"submit"``) answers ``status``
    (default 307) to ``location``; ``{path}`` in it is replaced by the request's path."""

    name = "redirect"

    def _redirect(self, request):
        location = self.options["location"].replace("{path}", request.path)
        return web.Response(status=self.options.get("status", 307), headers={"location": location})

    async def config(self, request):
        if self.options.get("route", "config") == "config":
            return self._redirect(request)
        return await super().config(request)

    async def submit(self, request, proto, payload):
        if self.options.get("route") == "submit":
            return self._redirect(request)
        return await super().submit(request, proto, payload)


class SubmitStatus(Scenario):
    """``submit_status``: the submit answers ``status`` ``times`` times; ``html``
    (default true) sends a proxy's HTML page, else Gradio's JSON ``detail``;
    ``retry_after`` adds that header; ``body_bytes`` pads the page."""

    name = "submit_status"

    async def submit(self, request, proto, payload):
        if self.failing("submit"):
            return status_response(
                self.options.get("status", 502),
                html=self.options.get("html", True),
                retry_after=self.options.get("retry_after"),
                detail=self.options.get("detail"),
                body_bytes=self.options.get("body_bytes", 0),
            )
        return await super().submit(request, proto, payload)


class QueueFull(SubmitStatus):
    """``queue_full``: the submit answers Gradio's 503 "Queue is full" ``times`` times."""

    name = "queue_full"

    def __init__(self, server, **options):
        super().__init__(
            server, status=503, html=False, detail="Queue is full. Max size is 2 and size is 2.", **options
        )


class SubmitReset(Scenario):
    """``submit_reset``: the submit's connection is reset before any answer ``times`` times."""

    name = "submit_reset"

    async def submit(self, request, proto, payload):
        if self.failing("submit"):
            reset(request)
            raise _Dropped
        return await super().submit(request, proto, payload)


class NoEventId(Scenario):
    """``no_event_id``: the submit answers 200 with JSON that has no ``event_id``."""

    name = "no_event_id"

    async def submit(self, request, proto, payload):
        if proto == "queue":
            _SESSIONS[payload["session_hash"]] = "unused"
        return web.json_response({"id": "not-an-event-id", "success": True})


class StreamReset(Scenario):
    """``stream_reset``: the stream sends a heartbeat and a step, then is reset ``times`` times."""

    name = "stream_reset"

    async def script(self, writer):
        if not self.failing("stream"):
            return await super().script(writer)
        await writer.heartbeat()
        await writer.progress(0, 2)
        await asyncio.sleep(0.05)  # let the bytes arrive before the reset
        reset(writer.request)
        raise _Dropped


class StreamCut(Scenario):
    """``stream_cut``: ``heartbeats`` heartbeats (default 3), then the stream
    ends cleanly without a result (``close_stream`` on the queue protocol
    unless ``close_stream=False``), ``times`` times."""

    name = "stream_cut"

    async def script(self, writer):
        if not self.failing("stream"):
            return await super().script(writer)
        for _ in range(self.options.get("heartbeats", 3)):
            await writer.heartbeat()

    async def stream(self, request, proto, event_id):
        if not self.options.get("close_stream", True) and self.failing("stream"):
            response = await self.open_stream(request)
            await self.script(EventWriter(request, response, proto, event_id or ""))
            return response
        return await super().stream(request, proto, event_id)


class HeartbeatsForever(Scenario):
    """``heartbeats_forever``: a heartbeat every ``interval`` s (default 0.2) and nothing else."""

    name = "heartbeats_forever"

    async def script(self, writer):
        started = time.monotonic()
        while time.monotonic() - started < MAX_HANDLER_SECONDS:
            await writer.heartbeat()
            await asyncio.sleep(self.options.get("interval", 0.2))


class NoHeaders(Scenario):
    """``no_headers``: the stream request never gets response headers (a job
    queued on the call protocol, behind a proxy that buffers)."""

    name = "no_headers"

    async def stream(self, request, proto, event_id):
        started = time.monotonic()
        while time.monotonic() - started < MAX_HANDLER_SECONDS:
            if request.transport is None or request.transport.is_closing():
                break
            await asyncio.sleep(0.05)
        raise _Dropped


class SlowStream(Scenario):
    """``slow_stream``: a heartbeat every ``interval`` s for ``duration`` s, then the image."""

    name = "slow_stream"

    async def script(self, writer):
        started = time.monotonic()
        while time.monotonic() - started < self.options.get("duration", 2.0):
            await writer.heartbeat()
            await asyncio.sleep(self.options.get("interval", 0.3))
        await super().script(writer)


class SilentStream(Scenario):
    """``silent_stream``: headers (and a heartbeat if ``heartbeat``), then
    ``silence`` s without a byte, then the image; ``times`` times (later
    attempts answer at once)."""

    name = "silent_stream"

    async def script(self, writer):
        if self.failing("stream"):
            if self.options.get("heartbeat", True):
                await writer.heartbeat()
            await asyncio.sleep(self.options.get("silence", 3.0))
        await super().script(writer)


class Crlf(Scenario):
    """``crlf``: a healthy job whose stream ends lines with CRLF."""

    name = "crlf"

    def __init__(self, server, **options):
        super().__init__(server, crlf=True, **options)


class Bytewise(Scenario):
    """``bytewise``: a healthy job whose stream arrives one byte per write."""

    name = "bytewise"

    def __init__(self, server, **options):
        super().__init__(server, bytewise=True, **options)


class ErrorEvent(Scenario):
    """``error_event``: the job fails with ``payload`` (default ``None``): the
    call protocol's ``error`` event, the queue's ``process_completed`` false.
    With ``times``, only the first ``times`` jobs fail; the next ones succeed."""

    name = "error_event"

    async def script(self, writer):
        if not self.failing("submit"):
            await super().script(writer)
            return
        await writer.progress(0, 2)
        await writer.error(self.options.get("payload"))


class Quota(ErrorEvent):
    """``quota``: the job fails with ZeroGPU's quota ``gr.Error``."""

    name = "quota"

    def __init__(self, server, **options):
        super().__init__(server, payload=QUOTA_ERROR, **options)


class Toast(Scenario):
    """``toast``: the ``toasts`` given (``[(level, title, text), ...]``), then
    the image; ``image`` replaces the file's bytes (a real WebP for a caller
    that decodes it)."""

    name = "toast"

    async def script(self, writer):
        await writer.progress(0, 1)
        for level, title, text in self.options.get("toasts", []):
            await writer.log(text, level=level, title=title)
        await writer.complete(self.output())

    async def file(self, request):
        return web.Response(body=self.options.get("image", IMAGE_BYTES), content_type="image/webp")


class Complete(Scenario):
    """``complete``: the job completes with ``output`` as given (``None`` is a
    cancelled job: ``data: null`` on the call protocol, ``{}`` on the queue's),
    or with ``file`` (a FileData dict) and seed 7."""

    name = "complete"

    def output(self):
        if "file" in self.options:
            return [self.options["file"], 7]
        return self.options.get("output")


class MalformedJson(Scenario):
    """``malformed_json``: a ``data`` line that is not JSON."""

    name = "malformed_json"

    async def script(self, writer):
        name = b"event: complete\n" if writer.proto == "call" else b""
        await writer.raw(name + b'data: {"msg": "process_completed", "output": [{"path": \n\n')


async def _repeat(writer: Any, piece: bytes, size: int) -> None:
    """Write ``piece`` again and again until at least ``size`` bytes have gone."""
    sent = 0
    while sent < size:
        await writer.raw(piece)
        sent += len(piece)


class HugeLine(Scenario):
    """``huge_line``: a ``data`` line of ``size`` bytes (default 8 MiB), sent in 64 KiB writes."""

    name = "huge_line"

    async def script(self, writer):
        await writer.raw(b"data: ")
        await _repeat(writer, CHUNK, self.options.get("size", 8 << 20))
        await writer.raw(b"\n\n")


class HugeEvent(Scenario):
    """``huge_event``: one event of many 64 KiB ``data`` lines, ``size`` bytes in all (default 3 MiB)."""

    name = "huge_event"

    async def script(self, writer):
        await _repeat(writer, b"data: " + CHUNK + b"\n", self.options.get("size", 3 << 20))
        await writer.raw(b"\n")


class EndlessBytes(Scenario):
    """``endless_bytes``: bytes without a line end, until the client leaves
    (at most ``limit`` bytes, default 256 MiB, or the handler's time bound)."""

    name = "endless_bytes"

    async def script(self, writer):
        sent, started = 0, time.monotonic()
        while (
            sent < self.options.get("limit", 256 << 20) and time.monotonic() - started < MAX_HANDLER_SECONDS
        ):
            await writer.raw(CHUNK)
            sent += len(CHUNK)


class ForeignFile(Complete):
    """``foreign_file``: the FileData ``url`` points to ``host`` (another root)."""

    name = "foreign_file"

    def output(self):
        url = f"{self.options['host']}/gradio_api/file={IMAGE_PATH}"
        return [file_data(self.server.root, self.server.prefix, url=url), 7]


class UnexpectedError(Scenario):
    """``unexpected_error``: the queue stream says ``unexpected_error`` (unknown session)."""

    name = "unexpected_error"

    async def script(self, writer):
        await writer.unexpected_error()


SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls
    for cls in (
        Scenario,
        SpaceNotFound,
        ConfigMissing,
        ConfigNotJson,
        ConfigStatus,
        HugeJson,
        Redirect,
        SubmitStatus,
        QueueFull,
        SubmitReset,
        NoEventId,
        StreamReset,
        StreamCut,
        HeartbeatsForever,
        NoHeaders,
        SlowStream,
        SilentStream,
        Crlf,
        Bytewise,
        ErrorEvent,
        Quota,
        Toast,
        Complete,
        MalformedJson,
        HugeLine,
        HugeEvent,
        EndlessBytes,
        ForeignFile,
        UnexpectedError,
    )
}
