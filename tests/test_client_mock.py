"""The client's logic without a socket: :class:`MockTransport` plays the Space.

Fast tests of what the client decides: which requests it makes and in what
order, where the token goes, when it retries, when it rediscovers a stale
config, and how it cancels. The real-server tests (the Gradio replica) stay
the proof that this matches Gradio; these pin the decisions in milliseconds.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest
from _helpers import FAST, WEBP, sse
from fault_server import gradio_config

from g4f_flux_plugin import (
    FluxClient,
    GeneratedImage,
    MockResponse,
    MockTransport,
    QuotaExceededError,
    SpaceStatusError,
)
from g4f_flux_plugin._config import ConfigCache, parse_config

ROOT = "https://space.example"
TOKEN = "hf_MockTransportToken0123456789"


class FakeSpace:
    """A scripted Space: ``answers`` maps a path suffix to a list of responses
    handed out in turn (the last one repeats)."""

    def __init__(self, prefix: str = "/gradio_api", version: str | None = None, **answers: list) -> None:
        self.prefix = prefix
        self.version = version
        self.answers = answers

    def file(self, seed: int) -> list:
        path = f"/tmp/gradio/{seed}/image.webp"
        return [{"path": path, "url": f"{ROOT}{self.prefix}/file={path}"}, seed]

    def __call__(self, request) -> MockResponse:
        if not request.url.startswith(ROOT + "/"):
            return MockResponse(404)
        path = request.url[len(ROOT) :].split("?")[0]
        if path == "/config":
            config = gradio_config(self.prefix)
            config["version"] = self.version or config["version"]
            return MockResponse(200, json=config)
        if not path.startswith(self.prefix + "/") or path.startswith(self.prefix + "/v0/"):
            return MockResponse(404, content=b'{"detail": "Not Found"}')  # another generation's routes
        if "/file=" in path:
            return MockResponse(200, content=WEBP, headers={"content-type": "image/webp"})
        for suffix, queue in self.answers.items():
            if path.endswith(suffix.replace("__", "/")):
                return queue.pop(0) if len(queue) > 1 else queue[0]
        if path.endswith("/call/infer"):
            return MockResponse(200, json={"event_id": "e1"})
        if path.endswith("/call/infer/e1"):
            return MockResponse(
                200, chunks=sse(("complete", self.file(7))), headers={"content-type": "text/event-stream"}
            )
        if path.endswith("/cancel"):
            return MockResponse(200, json={"success": True})
        return MockResponse(404, content=b'{"detail": "Not Found"}')


def client(space, **options) -> tuple[FluxClient, MockTransport]:
    transport = MockTransport(space)
    options.setdefault("retry_policy", FAST)
    options.setdefault("config_cache", ConfigCache())
    return FluxClient(
        ROOT, transport=transport, protocol=options.pop("protocol", "call"), **options
    ), transport


def paths(transport: MockTransport) -> list[str]:
    return [f"{r.method} {r.url[len(ROOT) :].split('?')[0]}" for r in transport.requests]


async def test_a_call_job_makes_three_requests_and_yields_the_image():
    flux, transport = client(FakeSpace(), token=TOKEN)
    image = await flux.image("a fox", seed=7, width=512, height=512, steps=2)
    assert isinstance(image, GeneratedImage) and image.seed == 7
    assert image.url == f"{ROOT}/gradio_api/file=/tmp/gradio/7/image.webp"
    assert paths(transport) == ["GET /config", "POST /gradio_api/call/infer", "GET /gradio_api/call/infer/e1"]
    assert transport.requests[1].json() == {"data": ["a fox", 7, False, 512, 512, 2]}


async def test_the_token_goes_in_x_hf_authorization_to_the_space_only():
    flux, transport = client(FakeSpace(), token=TOKEN)
    image = await flux.image("a fox", seed=7)
    data, kind = await flux.download(image.url)  # the Space's origin: token
    assert (data, kind) == (WEBP, "webp")
    with pytest.raises(SpaceStatusError):
        await flux.download("https://cdn.example/image.webp")  # another origin: no token (and a 404)
    for request in transport.requests:
        assert "authorization" not in request.headers
        assert request.headers["user-agent"].startswith("g4f-flux-plugin/")
    space_side = [r for r in transport.requests if r.url.startswith(ROOT)]
    assert all(r.headers["x-hf-authorization"] == f"Bearer {TOKEN}" for r in space_side)
    foreign = [r for r in transport.requests if r.url.startswith("https://cdn.example")]
    assert foreign and all("x-hf-authorization" not in r.headers for r in foreign)


async def test_a_full_queue_is_retried_within_the_policy():
    full = MockResponse(503, json={"detail": "Queue is full. Max size is 1 and size is 1."})
    flux, transport = client(
        FakeSpace(**{"/call/infer": [full, full, MockResponse(200, json={"event_id": "e1"})]})
    )
    image = await flux.image("a fox", seed=7)
    assert image.seed == 7
    assert paths(transport).count("POST /gradio_api/call/infer") == 3


async def test_retries_stop_at_the_policys_attempts():
    full = MockResponse(503, json={"detail": "Queue is full. Max size is 1 and size is 1."})
    flux, transport = client(FakeSpace(**{"/call/infer": [full]}))
    with pytest.raises(SpaceStatusError) as caught:
        await flux.image("a fox", seed=7)
    assert caught.value.status == 503
    assert paths(transport).count("POST /gradio_api/call/infer") == FAST.attempts


async def test_a_quota_error_is_never_retried():
    quota = MockResponse(
        200,
        chunks=sse(
            (
                "error",
                {
                    "error": "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12.",
                    "title": "ZeroGPU quota exceeded",
                },
            )
        ),
    )
    flux, transport = client(FakeSpace(**{"/call/infer/e1": [quota]}))
    with pytest.raises(QuotaExceededError) as caught:
        await flux.image("a fox", seed=7)
    assert caught.value.retry_after == 312.0
    assert paths(transport).count("POST /gradio_api/call/infer") == 1


async def test_a_stale_cached_config_is_rediscovered_once():
    cache = ConfigCache()
    cache.put(parse_config(ROOT, gradio_config("/gradio_api/v0")))  # the Space moved its routes
    flux, transport = client(FakeSpace(), config_cache=cache)
    image = await flux.image("a fox", seed=7)
    assert image.seed == 7
    assert paths(transport) == [
        "POST /gradio_api/v0/call/infer",
        "GET /config",
        "POST /gradio_api/call/infer",
        "GET /gradio_api/call/infer/e1",
    ]
    assert cache.get(ROOT).api_prefix == "/gradio_api"


def waiting_space(version: str) -> FakeSpace:
    """A Space where the job waits in the queue, its stream open."""
    waiting = MockResponse(
        200,
        chunks=sse(
            (None, {"msg": "estimation", "event_id": "q1", "rank": 0, "queue_size": 1, "rank_eta": 3.0})
        ),
        headers={"content-type": "text/event-stream"},
        hold_open=True,
    )
    return FakeSpace(
        version=version,
        **{"/queue/join": [MockResponse(200, json={"event_id": "q1"})], "/queue/data": [waiting]},
    )


async def stop_at(flux: FluxClient, kind: str) -> None:
    async with aclosing(flux.generate("a fox", seed=7)) as generation:
        async for event in generation:
            if event.kind == kind:
                break


@pytest.mark.parametrize("version", ["4.44.1", "5.50.0", "6.31.0"])
async def test_closing_a_queued_job_whose_stream_is_open_drops_it_and_posts_cancel(version):
    flux, transport = client(waiting_space(version), protocol="queue")
    await stop_at(flux, "queued")
    # Leaving the stream dropped it (what Gradio 4 and 5 need); then /cancel.
    assert paths(transport) == [
        "GET /config",
        "POST /gradio_api/queue/join",
        "GET /gradio_api/queue/data",
        "POST /gradio_api/cancel",
    ]
    join, cancel = transport.requests[1].json(), transport.requests[-1].json()
    assert cancel == {"session_hash": join["session_hash"], "fn_index": 2, "event_id": "q1"}


class StalledStreamSpace(FakeSpace):
    """The job's own stream never gets its headers (as a queued ``/call/`` GET
    before a heartbeat); later streams of the session answer at once."""

    def __init__(self, version: str) -> None:
        super().__init__(version=version, **{"/queue/join": [MockResponse(200, json={"event_id": "q1"})]})
        self.streams = 0
        self.stalled = asyncio.Event()  # set once the job's own stream is waiting

    async def __call__(self, request) -> MockResponse:
        if "/queue/data" in request.url:
            self.streams += 1
            if self.streams == 1:
                self.stalled.set()
                await asyncio.Event().wait()  # until the client gives up (cancelled)
            return MockResponse(200, chunks=[], headers={"content-type": "text/event-stream"})
        return super().__call__(request)


@pytest.mark.parametrize(
    ("version", "after"),
    [
        # Gradio 4 and 5: only a dropped stream of the session takes a queued job
        # off, and /cancel must come after it (its completion message would end
        # the stream normally, which cleans nothing).
        ("4.44.1", ["GET /gradio_api/queue/data", "POST /gradio_api/cancel"]),
        ("5.50.0", ["GET /gradio_api/queue/data", "POST /gradio_api/cancel"]),
        # Gradio 6: /cancel removes a queued job itself, so it goes first.
        ("6.31.0", ["POST /gradio_api/cancel", "GET /gradio_api/queue/data"]),
    ],
)
async def test_a_job_stopped_while_its_stream_opens_gets_a_stream_dropped_for_it(version, after):
    space = StalledStreamSpace(version)
    flux, transport = client(space, protocol="queue")
    generation = asyncio.create_task(flux.image("a fox", seed=7))
    await asyncio.wait_for(space.stalled.wait(), 5)
    generation.cancel()  # the caller gives up while the stream request hangs
    with pytest.raises(asyncio.CancelledError):
        await generation
    order = paths(transport)
    # The job's own stream was asked for and never opened; the cancel follows.
    assert order[:3] == ["GET /config", "POST /gradio_api/queue/join", "GET /gradio_api/queue/data"]
    assert order[3:] == after
    join = transport.requests[1].json()
    dropped = [r for r in transport.requests if "/queue/data" in r.url]
    assert all(r.url.endswith(f"session_hash={join['session_hash']}") for r in dropped)


async def test_a_transport_the_caller_passes_stays_open():
    flux, transport = client(FakeSpace())
    async with flux:
        await flux.image("a fox", seed=7)
    assert transport.closed is False


def test_bad_input_is_refused_before_any_request():
    transport = MockTransport(FakeSpace())
    with pytest.raises(ValueError, match="timeout"):
        FluxClient(ROOT, transport=transport, timeout=0)
    with pytest.raises(ValueError, match="protocol"):
        FluxClient(ROOT, transport=transport, protocol="grpc")
    with pytest.raises(ValueError, match="plain http"):
        FluxClient("http://space.example", transport=transport, token=TOKEN)
    assert transport.requests == []


async def test_an_empty_prompt_is_refused_before_any_request():
    flux, transport = client(FakeSpace())
    with pytest.raises(ValueError, match="prompt"):
        await flux.image("")
    assert transport.requests == []
