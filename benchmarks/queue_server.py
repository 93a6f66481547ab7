"""A canned Gradio queue server for the scale section: one job at a time, the rest queued.

The real replica (Gradio on two shared cores) spends milliseconds of its own
CPU on every join and broadcasts a new estimation to every waiting job each
time one starts, so with a thousand jobs queued the time it takes to admit
them measures Gradio, not the client. This server speaks the same wire
protocol as Gradio 6's queue (routes under ``/gradio_api``; the messages are
those of a real capture) and does nothing else, so what is measured is the
client. It serves the real replica's ``/config`` and ``/info`` (fetched by
the benchmark and passed in a file), with its own root.

``POST {prefix}/queue/join``       queue a job, answer ``{"event_id": ...}``
``GET {prefix}/queue/data``        the session's event stream: an
                                   ``estimation`` for each queued job, a
                                   ``heartbeat`` every 15 s of silence, then
                                   ``process_starts`` / ``process_completed``,
                                   and ``close_stream`` once the session has
                                   no job left (as Gradio 6 does)
``GET {prefix}/heartbeat/{session}`` held open (gradio_client opens it)
``GET {prefix}/file=...``          a tiny image

Jobs run one at a time, ``--job-ms`` each, but only while the server is
*released*; ``POST /_bench/hold`` stops starting new ones (nothing moves),
``POST /_bench/release`` lets them run, ``GET /_bench/jobs`` is the record
(per job: seed, joined_at, stream_at, ended_at, wall-clock seconds),
``GET /_bench/status`` its counts (joined, streaming, waiting),
``POST /_bench/reset`` clears it. It prints ``QUEUE SERVER READY URL``.

    python benchmarks/queue_server.py --port P --config FILE [--job-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PREFIX = "/gradio_api"
HEARTBEAT_S = 15.0
# Nothing in the scale section downloads an image, but its URL must answer: a
# few placeholder bytes (not a decodable image).
IMAGE_BYTES = b"RIFF\x0c\x00\x00\x00WEBPVP8 "


@dataclass
class Job:
    """One queued job and when the server saw each step of it."""

    event_id: str
    session: str
    seed: Any
    joined_at: float
    stream_at: float | None = None
    ended_at: float | None = None


@dataclass
class Session:
    """The jobs of one session_hash and the messages waiting for its stream."""

    pending: set[str] = field(default_factory=set)
    listening: bool = False
    messages: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


class QueueServer:
    """The server's state: the queue, the sessions, the record and the hold switch."""

    def __init__(self, config: dict[str, Any], info: dict[str, Any], job_s: float) -> None:
        self.config = config
        self.info = info
        self.job_s = job_s
        self.queue: deque[Job] = deque()
        self.jobs: list[Job] = []
        self.sessions: dict[str, Session] = {}
        self.released = asyncio.Event()
        self.released.set()
        self.wakeup = asyncio.Event()
        self.root = ""

    def session(self, key: str) -> Session:
        return self.sessions.setdefault(key, Session())

    async def join(self, request: web.Request) -> web.Response:
        body = await request.json()
        data = body.get("data") or []
        job = Job(
            uuid.uuid4().hex, str(body.get("session_hash")), data[1] if len(data) > 1 else None, time.time()
        )
        self.jobs.append(job)
        self.queue.append(job)
        session = self.session(job.session)
        if session.listening:  # gradio_client: one stream serves every job of its session
            job.stream_at = job.joined_at
        session.pending.add(job.event_id)
        session.messages.put_nowait(
            {
                "msg": "estimation",
                "event_id": job.event_id,
                "rank": len(self.queue) - 1,
                "queue_size": len(self.queue),
            }
        )
        self.wakeup.set()
        return web.json_response({"event_id": job.event_id})

    async def data(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("session_hash", "")
        session = self.session(key)
        now = time.time()
        for job in self.jobs:
            if job.session == key and job.stream_at is None:
                job.stream_at = now
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        session.listening = True
        try:
            while True:
                try:
                    message = await asyncio.wait_for(session.messages.get(), HEARTBEAT_S)
                except TimeoutError:
                    message = {"msg": "heartbeat"}
                if message is None:
                    if session.pending:  # a job joined after the last one ended: keep streaming
                        continue
                    await response.write(b'data: {"msg":"close_stream","event_id":null}\n\n')
                    self.sessions.pop(key, None)
                    break
                await response.write(
                    b"data: " + json.dumps(message, separators=(",", ":")).encode() + b"\n\n"
                )
        finally:
            session.listening = False
        return response

    async def heartbeat(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await response.write(b'data: {"msg":"heartbeat"}\n\n')

    async def run_jobs(self) -> None:
        """One job at a time, in join order, while released."""
        while True:
            await self.released.wait()
            if not self.queue:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            job = self.queue.popleft()
            session = self.session(job.session)
            session.messages.put_nowait(
                {"msg": "process_starts", "event_id": job.event_id, "eta": self.job_s}
            )
            await asyncio.sleep(self.job_s)
            job.ended_at = time.time()
            url = f"{self.root}{PREFIX}/file=/tmp/gradio/{job.event_id}/image.webp"
            output = {
                "data": [
                    {
                        "path": f"/tmp/gradio/{job.event_id}/image.webp",
                        "url": url,
                        "size": None,
                        "orig_name": "image.webp",
                        "mime_type": None,
                        "is_stream": False,
                        "meta": {"_type": "gradio.FileData"},
                    },
                    job.seed,
                ],
                "is_generating": False,
                "duration": self.job_s,
                "average_duration": self.job_s,
                "render_config": None,
                "changed_state_ids": [],
            }
            session.messages.put_nowait(
                {"msg": "process_completed", "event_id": job.event_id, "output": output, "success": True}
            )
            session.pending.discard(job.event_id)
            if not session.pending:
                session.messages.put_nowait(None)  # close_stream, as Gradio 6 does

    # -- routes outside Gradio ----------------------------------------------------
    async def get_config(self, request: web.Request) -> web.Response:
        return web.json_response({**self.config, "root": self.root})

    async def get_info(self, request: web.Request) -> web.Response:
        return web.json_response(self.info)

    async def file(self, request: web.Request) -> web.Response:
        return web.Response(body=IMAGE_BYTES, content_type="image/webp")

    async def hold(self, request: web.Request) -> web.Response:
        self.released.clear()
        return web.json_response({"held": True})

    async def release(self, request: web.Request) -> web.Response:
        self.released.set()
        return web.json_response({"held": False})

    async def reset(self, request: web.Request) -> web.Response:
        self.jobs = [job for job in self.jobs if job.ended_at is None]
        return web.json_response({"success": True})

    async def status(self, request: web.Request) -> web.Response:
        joined = len(self.jobs)
        streaming = sum(1 for job in self.jobs if job.stream_at is not None)
        return web.json_response({"joined": joined, "streaming": streaming, "waiting": len(self.queue)})

    async def record(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"seed": j.seed, "joined_at": j.joined_at, "stream_at": j.stream_at, "ended_at": j.ended_at}
                for j in self.jobs
            ]
        )


def build_app(server: QueueServer) -> web.Application:
    """The aiohttp application with Gradio's routes and the control routes."""
    app = web.Application()
    app.router.add_get("/config", server.get_config)
    app.router.add_get(PREFIX + "/config", server.get_config)
    app.router.add_get(PREFIX + "/info", server.get_info)
    app.router.add_get("/info", server.get_info)
    app.router.add_post(PREFIX + "/queue/join", server.join)
    app.router.add_get(PREFIX + "/queue/data", server.data)
    app.router.add_get(PREFIX + "/heartbeat/{session}", server.heartbeat)
    app.router.add_get(PREFIX + "/file={path:.*}", server.file)
    app.router.add_post("/_bench/hold", server.hold)
    app.router.add_post("/_bench/release", server.release)
    app.router.add_post("/_bench/reset", server.reset)
    app.router.add_get("/_bench/jobs", server.record)
    app.router.add_get("/_bench/status", server.status)
    return app


async def serve(args: argparse.Namespace) -> None:
    """Serve until killed; announce readiness on stdout."""
    with open(args.config, encoding="utf-8") as file:
        canned = json.load(file)
    server = QueueServer(canned["config"], canned["info"], args.job_ms / 1000)
    server.root = f"http://127.0.0.1:{args.port}"
    runner = web.AppRunner(build_app(server), access_log=None, handler_cancellation=True)
    await runner.setup()
    # A backlog as deep as the burst: a thousand connections arrive at once.
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
    await site.start()
    jobs = asyncio.create_task(server.run_jobs())
    print(f"QUEUE SERVER READY {server.root}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        jobs.cancel()
        await runner.cleanup()


def main() -> None:
    """Entry point of ``python benchmarks/queue_server.py``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True, help="JSON file: {'config': ..., 'info': ...}")
    parser.add_argument("--job-ms", type=float, default=5.0, help="how long each job runs")
    args = parser.parse_args()
    from common import raise_descriptor_limit

    raise_descriptor_limit()  # one socket per waiting client
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
