"""Gradio's queue protocol (issue 3): progress, toasts, the queue, cancel, discovery, headers.

Against replicas of the Space started with the ``start_replica`` factory; the
server's side is checked through the replica's record of ``infer`` calls and,
for what the replica cannot show (routes, bodies, headers), through
:class:`_helpers.RecordingProxy` in front of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import g4f.errors
import pytest
from _helpers import (  # noqa: F401 (recorder: a fixture)
    INFO_MESSAGE,
    INFO_TITLE,
    PROTOCOLS,
    QUOTA_MESSAGE,
    QUOTA_RETRY_AFTER,
    TRANSPORTS,
    WARNING_MESSAGE,
    Provider,
    RecordingProxy,
    events,
    generate,
    job_kwargs,
    recorder,
    server_jobs,
    settle,
    the_image,
    the_server_job,
    unique,
    wait_for_job_state,
)
from aiohttp import web

from g4f_flux_plugin import _gradio
from g4f_flux_plugin._config import ConfigCache
from g4f_flux_plugin._errors import QuotaExceededError, SpaceError, SpaceProtocolError, SpaceStatusError
from g4f_flux_plugin._events import ProgressEvent

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("clean_env")]


def _infer_dependency(config: dict) -> tuple[int, int]:
    """(fn_index, trigger_id) of ``infer`` in a /config, found independently of the plugin."""
    for index, dependency in enumerate(config["dependencies"]):
        if dependency.get("api_name") == "infer":
            return dependency.get("id", index), dependency["targets"][0][0]
    raise AssertionError("no infer in /config")


async def _config_json(url: str) -> dict:
    async with aiohttp.ClientSession() as session, session.get(url + "/config") as response:
        return await response.json()


class Job:
    """One generation running in a task, with its items as they arrive."""

    def __init__(self, replica, prompt: str, **kwargs) -> None:
        self.prompt = prompt
        self.items: list = []
        self.error: BaseException | None = None
        self._kinds: dict[str, asyncio.Event] = {}
        kwargs.setdefault("api_base", replica.url)
        kwargs.setdefault("protocol", "queue")
        self.task = asyncio.ensure_future(self._run(kwargs))

    async def _run(self, kwargs) -> None:
        kwargs.setdefault("width", 256)
        kwargs.setdefault("height", 256)
        kwargs.setdefault("num_inference_steps", 1)
        kwargs.setdefault("timeout", 30)
        try:
            async for item in Provider.create_async_generator("flux", None, prompt=self.prompt, **kwargs):
                self.items.append(item)
                kind = item.event.kind if hasattr(item, "event") else "image"
                self._kinds.setdefault(kind, asyncio.Event()).set()
        except Exception as error:
            self.error = error

    async def reached(self, kind: str, timeout: float = 10.0) -> None:
        """Wait until the job yielded an item of ``kind`` ("queued", "step", "image", ...)."""
        await asyncio.wait_for(self._kinds.setdefault(kind, asyncio.Event()).wait(), timeout)

    async def result(self, timeout: float = 20.0) -> list:
        await asyncio.wait_for(asyncio.shield(self.task), timeout)
        if self.error is not None:
            raise self.error
        return self.items

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


# -- progress --------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_steps_arrive_as_progress_items_in_order(any_replica, transport):
    # Gradio polls a job's progress every 0.1 s: steps of 0.25 s are all seen.
    items = await generate(
        any_replica,
        prompt=unique("[[sleep=0.25]]"),
        num_inference_steps=4,
        protocol="queue",
        transport=transport,
    )
    the_image(items)
    steps = events(items, "step")
    assert [event.index for event in steps] == [1, 2, 3, 4]
    assert all(event.length == 4 for event in steps)
    assert [str(item).strip() for item in items if getattr(item, "event", None) in steps] == [
        f"Step {i} of 4" for i in (1, 2, 3, 4)
    ]
    kinds = [event.kind for event in events(items)]
    assert kinds[0] == "submitted"
    assert kinds.index("started") < kinds.index("step")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_toasts_arrive_as_log_items(any_replica, transport):
    items = await generate(any_replica, prompt=unique("[[info]]"), protocol="queue", transport=transport)
    the_image(items)
    logs = [(event.level, event.title, event.message) for event in events(items, "log")]
    # Gradio 4 has no toast titles.
    titled = any_replica.generation == "6"
    assert logs == [
        ("info", INFO_TITLE if titled else None, INFO_MESSAGE),
        ("warning", "Warning" if titled else None, WARNING_MESSAGE),
    ]
    described = [
        str(item).strip() for item in items if getattr(item, "event", None) and item.event.kind == "log"
    ]
    assert described[0] == (f"{INFO_TITLE}: {INFO_MESSAGE}" if titled else INFO_MESSAGE)


async def test_the_call_protocol_has_no_progress(any_replica):
    items = await generate(any_replica, prompt=unique("[[info]]"), num_inference_steps=2, protocol="call")
    the_image(items)
    assert [event.kind for event in events(items)] == ["submitted"]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_progress_callback_receives_every_event(replica, asynchronous):
    received: list = []
    if asynchronous:

        async def callback(event):
            await asyncio.sleep(0)
            received.append(event)
    else:
        callback = received.append
    prompt = unique("[[info]] [[sleep=0.2]]")
    items = await generate(
        replica, prompt=prompt, num_inference_steps=2, protocol="queue", progress_callback=callback
    )
    the_image(items)
    assert received and all(isinstance(event, ProgressEvent) for event in received)
    assert received == events(items)
    assert {"submitted", "queued", "started", "log", "step"} <= {event.kind for event in received}


# -- errors on the queue ---------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["queue", "auto"])
async def test_quota_after_progress(any_replica, protocol):
    """The consumer sees the queue's progress, then the quota error (text and retry_after)."""
    items: list = []
    with pytest.raises(QuotaExceededError) as caught:
        await generate(any_replica, into=items, prompt=unique("[[quota]]"), protocol=protocol)
    assert isinstance(caught.value, g4f.errors.RateLimitError)
    assert QUOTA_MESSAGE in str(caught.value) and caught.value.retry_after == QUOTA_RETRY_AFTER
    assert [event.kind for event in events(items)][:2] == ["submitted", "queued"]
    assert not events(items, "retry")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_hidden_exception_on_a_show_error_off_space(start_replica, protocol):
    hidden = start_replica("6")  # the Space's launch(): show_error off
    with pytest.raises(SpaceError) as caught:
        await generate(hidden, prompt=unique("[[exception]]"), protocol=protocol)
    assert str(caught.value) == "The Space reported an error but hides its details (show_error is off)"


# -- the queue ---------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_queued_job_counts_down_then_runs(any_replica, transport):
    running = Job(any_replica, unique("[[sleep=0.2]]"), num_inference_steps=3)
    await running.reached("started")
    ahead = []
    for _ in range(2):
        ahead.append(Job(any_replica, unique(), transport=transport))
        await ahead[-1].reached("queued")
    last = Job(any_replica, unique("[[sleep=0.2]]"), num_inference_steps=2, transport=transport)

    items = await last.result()
    for job in (running, *ahead):
        the_image(await job.result())
    the_image(items)
    kinds = [event.kind for event in events(items)]
    ranks = [event.rank for event in events(items, "queued")]
    # Two jobs queued ahead, one running: rank 2 (0 is next), then 1, then 0.
    assert ranks[0] == 2 and ranks[-1] == 0
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 3
    assert all(event.queue_size is not None and event.queue_size >= 1 for event in events(items, "queued"))
    last_queued = len(kinds) - 1 - kinds[::-1].index("queued")
    assert last_queued < kinds.index("started") < kinds.index("step")
    steps = [event.index for event in events(items, "step")]
    assert steps and steps == sorted(set(steps))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_full_queue_is_a_rate_limit_error_after_bounded_retries(start_replica, transport):
    small = start_replica("6", max_size=1)
    # Runs for 5 s, far longer than three attempts (it is cancelled at the end).
    running = Job(small, unique("[[sleep=0.5]]"), num_inference_steps=10)
    await running.reached("started")
    waiting = Job(small, unique())
    await waiting.reached("queued")
    proxy = await RecordingProxy(small.url).start()
    try:
        # Enough time: the provider retries a full queue, 3 attempts in all, then gives up.
        items: list = []
        with pytest.raises(g4f.errors.RateLimitError) as caught:
            await generate(
                proxy, into=items, prompt=unique(), transport=transport, protocol="queue", timeout=30
            )
        assert isinstance(caught.value, SpaceStatusError) and caught.value.status == 503
        assert "Queue is full" in str(caught.value)
        assert not isinstance(caught.value, QuotaExceededError)
        assert len(proxy.to("/queue/join")) == 3
        assert [event.kind for event in events(items)] == ["retry", "retry"]
        assert all("Queue is full" in event.message for event in events(items))

        # Too little time to wait: one attempt, no retry.
        del proxy.requests[:]
        with pytest.raises(g4f.errors.RateLimitError):
            await generate(
                api_base=proxy.url, prompt=unique(), transport=transport, protocol="queue", timeout=0.2
            )
        assert len(proxy.to("/queue/join")) == 1
        assert running.error is None and waiting.error is None
    finally:
        await proxy.close()
        await running.stop()
        await waiting.stop()
    await wait_for_job_state(small, running.prompt, "cancelled", "completed")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_closing_a_queued_job_takes_it_off_the_queue(any_replica, transport):
    running = Job(any_replica, unique("[[sleep=0.25]]"), num_inference_steps=4)
    await running.reached("started")

    queued_prompt = unique()
    queued = Provider.create_async_generator(
        "flux",
        None,
        prompt=queued_prompt,
        api_base=any_replica.url,
        protocol="queue",
        transport=transport,
        width=256,
        height=256,
        num_inference_steps=1,
    )
    async for item in queued:
        if item.event.kind == "queued":
            assert item.event.rank == 0
            break
    await queued.aclose()

    # Had it stayed in the queue, this job would be behind it (rank 1).
    after = Job(any_replica, unique())
    await after.reached("queued")
    assert events(after.items, "queued")[0].rank == 0
    the_image(await after.result())
    the_image(await running.result())

    assert (await the_server_job(any_replica, running.prompt))["state"] == "completed"
    assert await server_jobs(any_replica, queued_prompt) == []


# -- cancelling a running job -----------------------------------------------------------
CANCEL_WAYS = ["aclose", "break", "task_cancel", "deadline"]


@pytest.mark.parametrize("way", CANCEL_WAYS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_stopping_a_running_job_cancels_it_on_the_space(any_replica, transport, protocol, way):
    prompt = unique("[[sleep=0.4]]")
    kwargs = job_kwargs(any_replica, prompt, transport, protocol, 6, timeout=30)
    started = time.monotonic()

    if way == "aclose":
        # Closed right after the first item ("submitted"), before any event stream is read.
        generator = Provider.create_async_generator("flux", None, **kwargs)
        first = await anext(generator)
        assert first.event.kind == "submitted"
        await wait_for_job_state(any_replica, prompt, "running")
        await generator.aclose()
    elif way == "break":
        # No reference kept, as in `async for response in provider(...)`: breaking
        # out drops the generator, which asyncio then closes.
        async for item in Provider.create_async_generator("flux", None, **kwargs):
            if item.event.kind == ("step" if protocol == "queue" else "submitted"):
                await wait_for_job_state(any_replica, prompt, "running")
                break
    elif way == "task_cancel":
        task = asyncio.ensure_future(generate(**kwargs))
        await wait_for_job_state(any_replica, prompt, "running")
        await asyncio.sleep(0.1)  # well inside the stream
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        kwargs["timeout"] = 1.0
        with pytest.raises(g4f.errors.TimeoutError, match="within 1 s"):
            await generate(**kwargs)
        assert time.monotonic() - started >= 1.0

    # The job alone takes 6 x 0.4 s: "cancelled", not "completed", proves the cancel landed.
    job = await wait_for_job_state(any_replica, prompt, "cancelled", "completed", timeout=5)
    assert job["state"] == "cancelled"
    await settle()


# -- protocols --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("protocol", "route"), [("auto", "/queue/join"), ("queue", "/queue/join"), ("call", "/call/infer")]
)
async def test_the_protocol_used(recorder, any_replica, protocol, route):
    items = await generate(api_base=recorder.url, prompt=unique(), protocol=protocol)
    the_image(items)
    submitted = [path for path in recorder.paths("POST") if path.endswith(("/queue/join", "/call/infer"))]
    assert submitted == [any_replica.prefix + route]
    assert bool(events(items, "queued")) == (route == "/queue/join")


async def test_auto_uses_the_call_protocol_where_the_queue_is_not_offered(recorder, any_replica, monkeypatch):
    real = _gradio.parse_config(recorder.url, await _config_json(any_replica.url))
    _cache_only(monkeypatch, dataclasses.replace(real, protocol="sse_v1"))
    the_image(await generate(api_base=recorder.url, prompt=unique(), protocol="auto"))
    assert recorder.to("/call/infer") and not recorder.to("/queue/join")
    with pytest.raises(SpaceProtocolError, match="protocol='call'"):
        await generate(api_base=recorder.url, prompt=unique(), protocol="queue")


def _cache_only(monkeypatch, config) -> None:
    """The provider's config cache holds ``config`` and nothing else (for this test)."""
    cache = ConfigCache()
    cache.put(config)
    monkeypatch.setattr(Provider, "config_cache", cache)


# -- discovery ---------------------------------------------------------------------------
async def test_fn_index_and_trigger_id_come_from_the_config(recorder, any_replica, monkeypatch):
    monkeypatch.setattr(Provider, "config_cache", ConfigCache())
    fn_index, trigger_id = _infer_dependency(await _config_json(any_replica.url))
    assert fn_index != 0  # the examples' dependencies come first, as on the Space
    prompts = [unique(), unique()]
    for prompt in prompts:
        the_image(await generate(api_base=recorder.url, prompt=prompt, seed=11, protocol="queue"))
    joins = [request.json() for request in recorder.to("/queue/join")]
    assert [join["fn_index"] for join in joins] == [fn_index, fn_index]
    assert [join["trigger_id"] for join in joins] == [trigger_id, trigger_id]
    assert [join["data"] for join in joins] == [[prompt, 11, False, 256, 256, 1] for prompt in prompts]
    # A fresh session per job: Gradio cancels by session and function.
    assert joins[0]["session_hash"] != joins[1]["session_hash"]
    assert recorder.paths("GET").count("/config") == 1  # discovered once, then cached


@pytest.mark.parametrize(
    ("protocol", "stale"),
    [
        ("queue", {"fn_index": 0}),  # the Space gained a dependency before infer
        ("queue", {"fn_index": 1}),
        ("queue", {"fn_index": 99}),  # ... or lost some
        ("queue", {"api_prefix": "/gradio_api/v0"}),  # moved to another generation's routes
        ("call", {"api_prefix": "/gradio_api/v0"}),
    ],
    ids=str,
)
async def test_a_stale_cached_config_is_rediscovered_once(
    recorder, any_replica, monkeypatch, protocol, stale
):
    real = _gradio.parse_config(recorder.url, await _config_json(any_replica.url))
    _cache_only(monkeypatch, dataclasses.replace(real, **stale))
    prompt = unique()
    image = the_image(await generate(api_base=recorder.url, prompt=prompt, protocol=protocol, seed=3))
    assert image.get("seed") == 3
    assert recorder.paths("GET").count("/config") == 1
    assert Provider.config_cache.get(recorder.url) == real
    assert [job["state"] for job in await server_jobs(any_replica, prompt)] == ["completed"]


async def test_rediscovery_is_bounded(replica, monkeypatch):
    """A Space whose /config keeps naming a wrong route: one rediscovery, then the error."""
    wrong = await _config_json(replica.url)
    wrong["api_prefix"] = "/nowhere"

    def respond(request: web.Request):
        return web.json_response(wrong) if request.path == "/config" else None

    proxy = await RecordingProxy(replica.url, respond=respond).start()
    try:
        monkeypatch.setattr(Provider, "config_cache", ConfigCache())
        with pytest.raises(SpaceStatusError) as caught:
            await generate(api_base=proxy.url, prompt=unique(), protocol="queue", timeout=10)
        assert caught.value.status == 404
        assert proxy.paths("GET").count("/config") == 2
        assert len(proxy.to("/queue/join")) == 2
    finally:
        await proxy.close()


# -- headers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("api_key", "env_token", "sent"),
    [
        ("hf_argument", None, "hf_argument"),
        (None, "hf_environment", "hf_environment"),
        ("hf_argument", "hf_environment", "hf_argument"),
        (None, None, None),
    ],
    ids=["api_key", "HF_TOKEN", "both", "none"],
)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_token_and_gradio_headers_reach_the_space(
    recorder, monkeypatch, transport, api_key, env_token, sent
):
    monkeypatch.setattr(Provider, "config_cache", ConfigCache())
    if env_token:
        monkeypatch.setenv("HF_TOKEN", env_token)
    the_image(await generate(api_base=recorder.url, prompt=unique(), transport=transport, api_key=api_key))
    assert recorder.to("/config", "GET") and recorder.to("/queue/join")
    for request in recorder.requests:
        assert request.headers.get("x-gradio-user") == "api", request.path
        assert request.headers.get("x-hf-authorization") == (f"Bearer {sent}" if sent else None), request.path
        assert "authorization" not in request.headers, request.path
