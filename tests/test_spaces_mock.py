"""Spaces by id, their states, and lists that fail over, without a socket.

:class:`MockTransport` plays the Hub (``HF_ENDPOINT`` points at it) and
several Spaces, each on its own host. These pin what the client decides:
which requests it makes (the default Space: no Hub request; an id: one Hub
request per process), where the token goes, what each stage leads to, and
which Space of a list makes the image or which error is raised. The emulated
Hub in front of the real replica tests the same over sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing

import pytest
from _helpers import FAST, WEBP, sse
from fault_server import gradio_config

from g4f_flux_plugin import (
    FluxClient,
    GeneratedImage,
    MockResponse,
    MockTransport,
    ProgressEvent,
    QuotaExceededError,
    SpaceConnectError,
    SpaceError,
    SpaceStatusError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from g4f_flux_plugin._config import PUBLIC_SPACE_URL, ConfigCache
from g4f_flux_plugin._failover import most_useful, moves_on
from g4f_flux_plugin._hub import SpaceHosts, SpaceRuntime
from g4f_flux_plugin._memory import SpaceMemory
from g4f_flux_plugin._retry import RetryPolicy
from g4f_flux_plugin._spaces import PUBLIC_SPACE_ID, SpaceRef, parse_space, space_refs
from g4f_flux_plugin._states import not_a_gradio_app, stage_outcome

HUB = "https://hub.example"
TOKEN = "hf_SpacesMockToken0123456789"

IN_ERROR = b"Your space is in error, check its status on hf.co"
QUOTA = "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12."


class Space:
    """One scripted Space (call protocol): ``front`` is a list of answers to
    its ``/config`` handed out in turn before the app answers (``None``: the
    app), ``result`` what its job's stream says."""

    def __init__(self, root: str, *, front: list | None = None, result: object = None) -> None:
        self.root = root
        self.front = list(front or [])
        self.result = result

    def __call__(self, request) -> MockResponse:
        path = request.url[len(self.root) :].split("?")[0]
        if path == "/config" and self.front:
            answer = self.front.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if answer is not None:
                return answer
        if path == "/config":
            return MockResponse(200, json=gradio_config("/gradio_api"))
        if path == "/gradio_api/call/infer":
            return MockResponse(200, json={"event_id": "e1"})
        if path == "/gradio_api/call/infer/e1":
            if self.result == "hold":
                return MockResponse(200, chunks=sse(("generating", None)), hold_open=True)
            if isinstance(self.result, tuple):
                return MockResponse(
                    200, chunks=sse(("error", {"error": self.result[0], "title": self.result[1]}))
                )
            file = {"path": "/tmp/x.webp", "url": f"{self.root}/gradio_api/file=/tmp/x.webp"}
            return MockResponse(200, chunks=sse(("complete", [file, 7])))
        if path.startswith("/gradio_api/file="):
            return MockResponse(200, content=WEBP, headers={"content-type": "image/webp"})
        if path == "/gradio_api/cancel":
            return MockResponse(200, json={"success": True})
        return MockResponse(404, content=b'{"detail": "Not Found"}')


class Hub:
    """The Hub: ``spaces`` maps an id to its host (``None``: not found);
    ``stages`` an id to the stages it reports in turn (the last repeats)."""

    def __init__(self, spaces: dict[str, str | None], stages: dict[str, list] | None = None) -> None:
        self.spaces = spaces
        self.stages = stages or {}

    def __call__(self, request) -> MockResponse:
        path = request.url[len(HUB) :]
        for space_id, host in self.spaces.items():
            if path.startswith(f"/api/spaces/{space_id}"):
                if host is None:
                    return MockResponse(
                        404, json={"error": "Repository not found"}, headers={"x-error-code": "RepoNotFound"}
                    )
                if path.endswith("/runtime"):
                    stages = self.stages.get(space_id, ["RUNNING"])
                    stage = stages.pop(0) if len(stages) > 1 else stages[0]
                    stage, message = stage if isinstance(stage, tuple) else (stage, None)
                    return MockResponse(200, json={"stage": stage, "errorMessage": message})
                return MockResponse(200, json={"id": space_id, "host": host, "subdomain": "x"})
        return MockResponse(404, json={"error": "Repository not found"})


def world(hub: Hub | None, *spaces: Space) -> Callable:
    def handle(request):
        if request.url.startswith(HUB + "/"):
            assert hub is not None, "the Hub was asked"
            return hub(request)
        for space in spaces:
            if request.url.startswith(space.root + "/"):
                return space(request)
        raise SpaceConnectError(f"nothing listens at {request.url}")

    return handle


@pytest.fixture(autouse=True)
def _hub_env(monkeypatch, clean_env):
    monkeypatch.setenv("HF_ENDPOINT", HUB)


def flux_for(handler, space, **options) -> tuple[FluxClient, MockTransport]:
    transport = MockTransport(handler)
    options.setdefault("retry_policy", FAST)
    options.setdefault("config_cache", ConfigCache())
    options.setdefault("space_memory", SpaceMemory())
    flux = FluxClient(space=space, transport=transport, protocol="call", **options)
    flux.space_hosts = SpaceHosts()  # this test's process
    flux.poll_interval = 0.01
    return flux, transport


async def collect(flux: FluxClient, **options) -> list:
    items = []
    async with aclosing(flux.generate("a fox", seed=7, **options)) as generation:
        async for item in generation:
            items.append(item)
    return items


def hits(transport: MockTransport, prefix: str) -> list[str]:
    return [r.url[len(prefix) :].split("?")[0] for r in transport.requests if r.url.startswith(prefix + "/")]


# -- naming Spaces ------------------------------------------------------------------------
def test_ids_urls_and_lists_are_read_before_any_request(monkeypatch):
    assert parse_space("owner/name") == SpaceRef("owner/name", None)
    assert parse_space(" https://a.example/ ") == SpaceRef(None, "https://a.example")
    assert parse_space("https://huggingface.co/spaces/o/n") == SpaceRef("o/n", None)
    assert parse_space("spaces/o/n") == SpaceRef("o/n", None)
    # The public Space, by id or by URL: both known, no Hub request needed.
    assert (
        parse_space(PUBLIC_SPACE_ID)
        == parse_space(PUBLIC_SPACE_URL)
        == SpaceRef(PUBLIC_SPACE_ID, PUBLIC_SPACE_URL)
    )
    assert space_refs("a/b, https://c.example,a/b") == (
        SpaceRef("a/b", None),
        SpaceRef(None, "https://c.example"),
    )
    assert space_refs(["a/b", SpaceRef(None, "https://c.example")])[1].root == "https://c.example"
    assert space_refs(None, "x/y") == (SpaceRef("x/y", None),)  # api_base, the alias
    monkeypatch.setenv("G4F_FLUX_SCHNELL_URL", "e/f,g/h")
    assert [ref.id for ref in space_refs()] == ["e/f", "g/h"]
    monkeypatch.delenv("G4F_FLUX_SCHNELL_URL")
    assert space_refs() == (SpaceRef(PUBLIC_SPACE_ID, PUBLIC_SPACE_URL),)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"space": "not a space"}, "space"),
        ({"space": "ftp://a.example"}, "space"),
        ({"space": ["a/b", 3]}, "space"),
        ({"space": ",,"}, "space"),
        ({"api_base": "127.0.0.1:7860"}, "api_base"),
    ],
)
def test_a_bad_space_is_a_value_error_naming_its_source(kwargs, named):
    transport = MockTransport(lambda request: pytest.fail("a request was made"))
    with pytest.raises(ValueError, match=named):
        FluxClient(transport=transport, **kwargs)
    assert transport.requests == []


async def test_the_default_space_costs_no_hub_request():
    public = Space(PUBLIC_SPACE_URL)
    flux, transport = flux_for(world(None, public), None)
    image = await flux.image("a fox", seed=7)
    assert image.space == PUBLIC_SPACE_ID
    assert not any(r.url.startswith(HUB) for r in transport.requests)


async def test_an_id_is_resolved_once_per_process_and_the_token_goes_where_it_should():
    space = Space("https://owner-a.hf.example")
    hub = Hub({"owner/a": space.root})
    flux, transport = flux_for(world(hub, space), "owner/a", token=TOKEN)
    first = await flux.image("a fox", seed=7)
    second = FluxClient(space="owner/a", token=TOKEN, transport=transport, protocol="call")
    second.space_hosts = flux.space_hosts  # the class attribute, shared in a process
    await second.image("a fox", seed=7)
    assert first.space == "owner/a" and first.url.startswith(space.root)
    assert hits(transport, HUB) == ["/api/spaces/owner/a"]
    for request in transport.requests:
        if request.url.startswith(HUB):  # the Hub reads Authorization, as huggingface_hub sends it
            assert request.headers["authorization"] == f"Bearer {TOKEN}"
            assert "x-hf-authorization" not in request.headers
        else:  # the Space gets it only where HF's front strips it
            assert request.headers["x-hf-authorization"] == f"Bearer {TOKEN}"
            assert "authorization" not in request.headers
    # The image is fetched from the Space that made it, with the token.
    await flux.download(first.url)
    assert transport.requests[-1].headers["x-hf-authorization"] == f"Bearer {TOKEN}"


async def test_a_plain_http_hub_off_loopback_gets_no_token(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.example")
    seen = []

    def handle(request):
        seen.append(request)
        return MockResponse(404, json={"error": "Repository not found"})

    flux, _ = flux_for(handle, "owner/a", token=TOKEN)
    with pytest.raises(SpaceUnavailableError, match="not found"):
        await flux.image("a fox")
    assert seen and all("authorization" not in r.headers for r in seen)


async def test_a_missing_or_private_space_is_unavailable_at_once():
    flux, transport = flux_for(world(Hub({"owner/gone": None})), "owner/gone")
    with pytest.raises(SpaceUnavailableError, match="not found on the Hub, or it is private") as caught:
        await flux.image("a fox")
    assert caught.value.stage is None
    assert len(transport.requests) == 1  # one Hub request, no retries


# -- states ---------------------------------------------------------------------------
async def test_a_sleeping_space_is_woken_and_waited_for():
    space = Space(
        "https://sleepy.hf.example", front=[MockResponse(503), MockResponse(502, content=b"<html>")]
    )
    hub = Hub({"o/sleepy": space.root}, {"o/sleepy": ["SLEEPING", "APP_STARTING", "RUNNING"]})
    flux, transport = flux_for(world(hub, space), "o/sleepy")
    items = await collect(flux)
    news = [item for item in items if isinstance(item, ProgressEvent) and item.kind == "space"]
    assert "waking up" in news[0].message and "o/sleepy" in news[0].message
    assert "starting" in news[1].message
    assert items.index(news[0]) == 0  # the first thing the caller hears
    assert isinstance(items[-1], GeneratedImage) and items[-1].space == "o/sleepy"
    assert news[0].describe() == news[0].message
    assert hits(transport, HUB).count("/api/spaces/o/sleepy/runtime") == 2


async def test_a_building_space_is_waited_for_even_past_the_retry_attempts():
    front = [SpaceConnectError("refused")] * (FAST.attempts + 2)
    space = Space("https://build.hf.example", front=front)
    hub = Hub({"o/b": space.root}, {"o/b": ["BUILDING"] * (FAST.attempts + 2) + ["RUNNING"]})
    flux, _ = flux_for(world(hub, space), "o/b")
    items = await collect(flux)
    assert sum(1 for item in items if getattr(item, "kind", None) == "space") == FAST.attempts + 2
    assert isinstance(items[-1], GeneratedImage)


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        ("PAUSED", "paused by its owner"),
        (("RUNTIME_ERROR", "CUDA out of memory"), "RUNTIME_ERROR.*CUDA out of memory"),
        ("BUILD_ERROR", "BUILD_ERROR"),
        ("CONFIG_ERROR", "CONFIG_ERROR"),
        ("NO_APP_FILE", "NO_APP_FILE"),
    ],
)
async def test_a_paused_or_failed_space_is_unavailable_at_once(stage, words):
    space = Space("https://down.hf.example", front=[MockResponse(503, content=IN_ERROR)] * 5)
    hub = Hub({"o/down": space.root}, {"o/down": [stage]})
    flux, transport = flux_for(world(hub, space), "o/down")
    with pytest.raises(SpaceUnavailableError, match=words) as caught:
        await flux.image("a fox")
    assert caught.value.stage == (stage[0] if isinstance(stage, tuple) else stage)
    assert hits(transport, space.root) == ["/config"]  # no retries


async def test_a_running_space_s_gateway_error_is_retried_as_usual():
    space = Space("https://flaky.hf.example", front=[MockResponse(502)])
    hub = Hub({"o/f": space.root})
    flux, _ = flux_for(world(hub, space), "o/f")
    items = await collect(flux)
    kinds = [item.kind for item in items if isinstance(item, ProgressEvent)]
    assert kinds[0] == "retry" and "space" not in kinds
    assert isinstance(items[-1], GeneratedImage)


async def test_the_error_text_of_a_space_given_by_url_is_unavailable_without_retries():
    space = Space("https://url-only.example", front=[MockResponse(503, content=IN_ERROR)] * 5)
    flux, transport = flux_for(world(None, space), space.root)
    with pytest.raises(SpaceUnavailableError, match="in error"):
        await flux.image("a fox")
    assert hits(transport, space.root) == ["/config"]


async def test_a_full_queue_is_still_a_rate_limit_and_never_asks_the_hub():
    full = MockResponse(503, json={"detail": "Queue is full. Max size is 1 and size is 1."})
    space = Space("https://busy.hf.example", front=[full, full])
    flux, transport = flux_for(world(Hub({"o/busy": space.root}), space), "o/busy")
    await flux.image("a fox", seed=7)
    assert hits(transport, HUB) == ["/api/spaces/o/busy"]  # resolved; no runtime asked


async def test_a_space_that_sleeps_past_the_deadline_times_out_in_time():
    space = Space("https://deep.hf.example", front=[MockResponse(503)] * 10_000)
    flux, _ = flux_for(world(Hub({"o/deep": space.root}, {"o/deep": ["SLEEPING"]}), space), "o/deep")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(SpaceTimeoutError):
        await flux.image("a fox", timeout=0.3)
    assert loop.time() - started < 5  # bounded by the deadline, not by the Space


def test_what_counts_as_not_a_gradio_app():
    from g4f_flux_plugin._errors import NotAGradioAppError, SpaceRateLimitError

    assert not_a_gradio_app(SpaceStatusError("x", 502))
    assert not_a_gradio_app(SpaceConnectError("refused"))
    assert not_a_gradio_app(NotAGradioAppError("html"))
    assert not_a_gradio_app(SpaceUnavailableError("text"))
    assert not not_a_gradio_app(SpaceRateLimitError("queue is full", 503))
    assert not not_a_gradio_app(SpaceStatusError("x", 500))
    assert not not_a_gradio_app(SpaceUnavailableError("paused", "PAUSED"))
    assert stage_outcome("o/n", SpaceRuntime("RUNNING_APP_STARTING")) is None
    assert stage_outcome("o/n", SpaceRuntime("SOMETHING_NEW")) is None
    assert "waking" in str(stage_outcome("o/n", SpaceRuntime("STOPPED")))


# -- lists of Spaces ---------------------------------------------------------------------
async def test_a_list_moves_on_from_a_quota_a_paused_space_and_a_refused_connection():
    quota = Space("https://quota.hf.example", result=(QUOTA, "ZeroGPU quota exceeded"))
    paused = Space("https://paused.hf.example", front=[MockResponse(503)])
    good = Space("https://good.hf.example")
    hub = Hub({"o/q": quota.root, "o/p": paused.root, "o/good": good.root}, {"o/p": ["PAUSED"]})
    listed = "o/q,o/p,https://refused.example,o/good"
    flux, transport = flux_for(world(hub, quota, paused, good), listed)
    items = await collect(flux)
    tried = [item.message for item in items if getattr(item, "kind", None) == "space"]
    assert [line.split(": ", 1)[1] for line in tried] == ["o/q", "o/p", "https://refused.example", "o/good"]
    assert tried[0].startswith("Trying Space 1 of 4")
    image = items[-1]
    assert isinstance(image, GeneratedImage) and image.space == "o/good" and image.url.startswith(good.root)
    # The next generation skips the remembered quota and the paused Space without a request.
    before = len(transport.requests)
    image = await flux.image("a fox", seed=7)
    assert image.space == "o/good"
    asked = [r.url for r in transport.requests[before:]]
    assert not any(url.startswith((quota.root, paused.root)) for url in asked)


async def test_a_job_the_space_failed_is_not_sent_elsewhere():
    bad = Space("https://bad.hf.example", result=("width must be a multiple of 8", None))
    good = Space("https://good.hf.example")
    flux, transport = flux_for(
        world(Hub({"o/bad": bad.root, "o/good": good.root}), bad, good), ["o/bad", "o/good"]
    )
    with pytest.raises(SpaceError, match="multiple of 8"):
        await flux.image("a fox", seed=7)
    assert not any(r.url.startswith(good.root) for r in transport.requests)


async def test_when_every_space_fails_the_shortest_quota_is_raised():
    late = Space("https://late.example", result=(QUOTA, "ZeroGPU quota exceeded"))
    soon = Space(
        "https://soon.example", result=(QUOTA.replace("0:05:12", "0:00:30"), "ZeroGPU quota exceeded")
    )
    flux, _ = flux_for(world(None, late, soon), f"https://down.example,{late.root},{soon.root}")
    with pytest.raises(QuotaExceededError) as caught:
        await flux.image("a fox", seed=7)
    assert caught.value.retry_after == pytest.approx(30.0)
    notes = "\n".join(caught.value.__notes__)
    assert "https://down.example: SpaceConnectError" in notes and "https://late.example" in notes


def test_the_most_useful_error_and_what_moves_on():
    a, b = SpaceRef("a/a", None), SpaceRef("b/b", None)
    unavailable = SpaceUnavailableError("paused", "PAUSED")
    refused = SpaceConnectError("refused")
    assert most_useful([(a, refused), (b, unavailable)]) is unavailable
    single = SpaceConnectError("only")
    assert most_useful([(a, single)]) is single and not getattr(single, "__notes__", None)
    assert moves_on(SpaceStatusError("x", 504)) and not moves_on(SpaceStatusError("x", 500))
    assert not moves_on(SpaceError("bad input")) and not moves_on(SpaceTimeoutError("late"))


async def test_stopping_early_cancels_the_job_on_the_space_it_is_on():
    first = Space("https://first.example", front=[SpaceConnectError("refused")] * 10)
    second = Space("https://second.example", result="hold")
    flux, transport = flux_for(world(None, first, second), [first.root, second.root])
    async with aclosing(flux.generate("a fox", seed=7)) as generation:
        async for item in generation:
            if isinstance(item, ProgressEvent) and item.kind == "submitted":
                break
    assert hits(transport, second.root)[-1] == "/gradio_api/cancel"
    assert "/gradio_api/cancel" not in hits(transport, first.root)


# -- the provider -------------------------------------------------------------------------
async def test_the_provider_reports_the_space_as_reasoning_and_in_options(monkeypatch):
    pytest.importorskip("g4f")
    from g4f.providers.response import Reasoning

    from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

    class Listed(BlackForestLabs_Flux1Schnell):
        retry_policy = FAST
        config_cache = ConfigCache()
        space_memory = SpaceMemory()

    monkeypatch.setattr(FluxClient, "space_hosts", SpaceHosts())
    paused = Space("https://paused.hf.example", front=[MockResponse(503)])
    good = Space("https://good.hf.example")
    hub = Hub({"o/p": paused.root, "o/good": good.root}, {"o/p": ["PAUSED"]})
    transport = MockTransport(world(hub, paused, good))
    items = [
        item
        async for item in Listed.create_async_generator(
            "flux", [], prompt="a fox", seed=7, space=["o/p", "o/good"], transport=transport, protocol="call"
        )
    ]
    statuses = [item.status for item in items if isinstance(item, Reasoning)]
    assert "Trying Space 1 of 2: o/p" in statuses and "Trying Space 2 of 2: o/good" in statuses
    image = items[-1]
    assert image.options["space"] == "o/good" and image.options["spaces"] == ["o/good"]
    # Alone, the paused Space is g4f's ProviderNotWorkingError, so chains move on.
    import g4f.errors

    with pytest.raises(g4f.errors.ProviderNotWorkingError, match="paused by its owner"):
        async for _ in Listed.create_async_generator(
            "flux", [], prompt="a fox", space="o/p", transport=transport
        ):
            pass


def test_an_unavailable_space_is_remembered_for_a_minute():
    now = [100.0]
    memory = SpaceMemory(clock=lambda: now[0])
    error = SpaceUnavailableError("paused by its owner", "PAUSED")
    memory.remember_unavailable("o/p", error)
    assert memory.known_unavailable("o/p") is error and memory.known_unavailable("o/other") is None
    now[0] += 59.0
    assert memory.known_unavailable("o/p") is error
    now[0] += 1.0
    assert memory.known_unavailable("o/p") is None  # a minute later, asked again
    memory.remember_unavailable("https://a.example/", error)
    memory.clear()
    assert memory.known_unavailable("https://a.example") is None


def test_an_unavailable_space_is_remembered_for_its_token_alone():
    # A Space private to one token is missing to every other: another token
    # (or none) still asks it, and the token is not kept in the memory.
    memory = SpaceMemory()
    missing = SpaceUnavailableError("o/p was not found, or is private", "MISSING")
    memory.remember_unavailable("o/p", missing)
    assert memory.known_unavailable("o/p", None) is missing
    assert memory.known_unavailable("o/p", "hf_owner") is None
    memory.remember_unavailable("o/q", missing, "hf_other")
    assert memory.known_unavailable("o/q", "hf_other") is missing
    assert memory.known_unavailable("o/q", "hf_owner") is None
    assert "hf_other" not in repr(vars(memory))


async def test_a_space_private_to_a_token_is_not_barred_from_it_by_an_anonymous_miss():
    space = Space("https://private.hf.example")
    hub = Hub({"o/private": space.root})
    hub_world = world(hub, space)

    def handle(request):  # the Hub shows the Space to its owner's token alone
        if request.url.startswith(HUB + "/") and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return MockResponse(404, json={"error": "Repository not found"})
        return hub_world(request)

    memory = SpaceMemory()
    anonymous, _ = flux_for(handle, "o/private", space_memory=memory)
    with pytest.raises(SpaceUnavailableError, match="not found"):
        await anonymous.image("a fox")
    with pytest.raises(SpaceUnavailableError, match="seen recently"):
        await anonymous.image("a fox")  # remembered for this caller
    owner, _ = flux_for(handle, "o/private", space_memory=memory, token=TOKEN)
    image = await owner.image("a fox")
    assert image.space == "o/private"


async def test_a_waking_space_given_by_url_alone_is_retried_until_the_deadline():
    waking = RetryPolicy(attempts=2, base=0.001, cap=0.001, wake=True)
    space = Space("https://by-url.example", front=[MockResponse(502)] * 6)
    flux, transport = flux_for(world(None, space), space.root, retry_policy=waking)
    image = await flux.image("a fox", seed=7)
    assert image.space == space.root
    assert hits(transport, space.root).count("/config") == 7  # past the policy's 2 attempts
    # Without wake (a bare RetryPolicy), the attempts decide, as before.
    space = Space("https://by-url.example", front=[MockResponse(502)] * 6)
    flux, transport = flux_for(world(None, space), space.root, retry_policy=RetryPolicy(2, 0.001, 0.001))
    with pytest.raises(SpaceStatusError):
        await flux.image("a fox", seed=7)
    assert hits(transport, space.root).count("/config") == 2
    # Nor in a list: the next Space is tried instead of waiting.
    first = Space("https://first.example", front=[MockResponse(502)] * 6)
    second = Space("https://second.example")
    flux, transport = flux_for(world(None, first, second), [first.root, second.root], retry_policy=waking)
    assert (await flux.image("a fox", seed=7)).space == second.root
    assert hits(transport, first.root).count("/config") == 2


async def test_a_waking_space_by_url_still_ends_by_its_deadline():
    waking = RetryPolicy(attempts=2, base=0.05, cap=0.05, wake=True)
    space = Space("https://never.example", front=[MockResponse(503)] * 100_000)
    flux, transport = flux_for(world(None, space), space.root, retry_policy=waking)
    with pytest.raises((SpaceStatusError, SpaceTimeoutError)):
        await flux.image("a fox", seed=7, timeout=0.5)
    assert 2 < hits(transport, space.root).count("/config") < 100
