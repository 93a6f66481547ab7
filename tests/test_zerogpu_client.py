"""What the client does with each ZeroGPU answer, without a socket (MockTransport).

The retries (busy, then an image within the deadline; an expired proxy token
submitted again at once, once), the quota memory (no request, counted; only
for the same root and token), the token warning on the logger, and the
g4f-facing twin of a busy Space moving g4f's own chain on. The same answers
from a Space that runs the real ``spaces`` package are the replica tests'.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from dataclasses import replace

import pytest
from test_client_mock import FAST, ROOT, TOKEN, FakeSpace, client, sse

from g4f_flux_plugin import (
    FluxClient,
    GeneratedImage,
    MockResponse,
    MockTransport,
    ProgressEvent,
    QuotaExceededError,
    SpaceBusyError,
    SpaceError,
    SpaceMemory,
)
from g4f_flux_plugin._config import ConfigCache
from g4f_flux_plugin._retry import RetryPolicy

QUOTA_TITLE = "ZeroGPU quota exceeded"
FREE_QUOTA = (
    "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. "
    "Subscribe to Hugging Face PRO to get 40 min of ZeroGPU quota a day - https://huggingface.co/subscribe/pro"
)
QUEUE_TIMEOUT = (
    "ZeroGPU queue timeout",
    "No GPU was available after 60s [Create a free account](x) to get ...",
)
NO_GPU = ("ZeroGPU client error", "No GPU was available")
EXPIRED = ("ZeroGPU client error", "Expired ZeroGPU proxy token")
PENDING = (
    "ZeroGPU pending credits exceeded",
    "You have too many ZeroGPU credits allocated to running tasks. "
    "Try again once some of those tasks have completed.",
)
NO_TOKEN_TIMEOUT = (
    QUOTA_TITLE,
    "No GPU was available after 60s. Try re-running outside of examples if it happened after clicking one",
)
ILLEGAL = (
    "ZeroGPU illegal duration",
    "The requested GPU duration (120s) is larger than the maximum allowedSubscribe to Hugging Face PRO "
    "to allow GPU tasks up to 40 min - https://huggingface.co/subscribe/pro",
)
WORKER = ("ZeroGPU worker error", "GPU task aborted")
FALLBACK = "Falling back to IP-based quotas (Invalid credentials in Authorization header)"


def _stream(*messages: dict) -> MockResponse:
    return MockResponse(
        200,
        chunks=sse(*[(None, {"event_id": "q1", **message}) for message in messages]),
        headers={"content-type": "text/event-stream"},
    )


def failed(title: str | None, text: str) -> MockResponse:
    """A queue stream whose job ZeroGPU fails before the function runs."""
    output = {"error": text, "title": title, "duration": 10, "visible": True}
    return _stream(
        {"msg": "process_starts", "eta": None},
        {"msg": "process_completed", "success": False, "output": output, "title": title},
    )


def succeeded(*toasts: dict) -> MockResponse:
    file = FakeSpace().file(7)
    return _stream(
        {"msg": "process_starts", "eta": None},
        *toasts,
        {"msg": "process_completed", "success": True, "output": {"data": file}},
    )


def space(*streams: MockResponse) -> FakeSpace:
    """A Space whose queue answers ``streams`` in turn, one per job."""
    joins = [MockResponse(200, json={"event_id": "q1"}) for _ in streams]
    return FakeSpace(**{"/queue/join": joins, "/queue/data": list(streams)})


def joins(transport: MockTransport) -> int:
    return sum(request.url.endswith("/queue/join") for request in transport.requests)


async def collect(flux: FluxClient) -> list:
    items = []
    async with aclosing(flux.generate("a fox", seed=1, width=512, height=512, steps=2)) as stream:
        async for item in stream:
            items.append(item)
    return items


@pytest.mark.parametrize(
    "busy",
    [QUEUE_TIMEOUT, NO_GPU, PENDING, NO_TOKEN_TIMEOUT, (None, QUEUE_TIMEOUT[1])],
    ids=["queue-timeout", "no-gpu-503", "pending-credits", "timeout-under-quota-title", "4.44-untitled"],
)
async def test_a_busy_answer_once_is_retried_and_the_image_comes(busy):
    flux, transport = client(space(failed(*busy), succeeded()), protocol="queue")
    items = await collect(flux)
    assert isinstance(items[-1], GeneratedImage)
    retries = [item for item in items if isinstance(item, ProgressEvent) and item.kind == "retry"]
    assert len(retries) == 1
    assert "No GPU was available" in (retries[0].message or "") or "credits" in (retries[0].message or "")
    assert joins(transport) == 2


async def test_a_busy_space_is_raised_after_the_policys_attempts():
    flux, transport = client(space(*[failed(*QUEUE_TIMEOUT) for _ in range(5)]), protocol="queue")
    with pytest.raises(SpaceBusyError) as caught:
        await collect(flux)
    assert caught.value.reason == "queue_timeout"
    assert caught.value.title == "ZeroGPU queue timeout"
    assert isinstance(caught.value, SpaceError)
    assert joins(transport) == FAST.attempts


async def test_a_busy_retry_that_would_pass_the_deadline_is_not_made():
    slow = RetryPolicy(attempts=3, base=30.0, cap=30.0)
    flux, transport = client(
        space(failed(*NO_GPU), succeeded()), protocol="queue", retry_policy=slow, timeout=5.0
    )
    with pytest.raises(SpaceBusyError):
        await collect(flux)
    assert joins(transport) == 1


async def test_an_expired_proxy_token_is_submitted_again_at_once_once():
    # A policy with one attempt: the renewal is not a backoff retry.
    once = RetryPolicy(attempts=1)
    flux, transport = client(space(failed(*EXPIRED), succeeded()), protocol="queue", retry_policy=once)
    items = await collect(flux)
    assert isinstance(items[-1], GeneratedImage)
    retry = [item for item in items if isinstance(item, ProgressEvent) and item.kind == "retry"]
    assert [event.eta for event in retry] == [0.0]
    assert joins(transport) == 2


async def test_an_expired_proxy_token_twice_is_raised():
    flux, transport = client(space(failed(*EXPIRED), failed(*EXPIRED), succeeded()), protocol="queue")
    with pytest.raises(SpaceBusyError) as caught:
        await collect(flux)
    assert caught.value.reason == "expired_token"
    assert joins(transport) == 2


@pytest.mark.parametrize(
    "answer", [ILLEGAL, WORKER, (None, WORKER[1])], ids=["illegal", "worker", "4.44-worker"]
)
async def test_illegal_duration_and_worker_errors_keep_the_spaces_words_and_are_not_retried(answer):
    flux, transport = client(space(failed(*answer), succeeded()), protocol="queue")
    with pytest.raises(SpaceError) as caught:
        await collect(flux)
    assert type(caught.value) is SpaceError
    assert caught.value.message == answer[1]
    assert joins(transport) == 1


# -- the quota memory --------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_a_quota_is_remembered_no_request_then_asked_again_when_its_wait_passes():
    clock = Clock()
    memory = SpaceMemory(clock=clock)
    fake = space(failed(QUOTA_TITLE, FREE_QUOTA), succeeded())
    flux, transport = client(fake, protocol="queue", token=TOKEN, space_memory=memory)
    with pytest.raises(QuotaExceededError) as first:
        await collect(flux)
    assert first.value.tier == "free"
    assert not first.value.remembered
    asked = len(transport.requests)
    assert joins(transport) == 1

    clock.now += 100.0
    with pytest.raises(QuotaExceededError) as second:
        await collect(flux)
    assert len(transport.requests) == asked  # no request at all
    assert second.value.remembered
    assert second.value.retry_after == pytest.approx(212.0)
    assert second.value.message == first.value.message
    assert "remembered" in str(second.value)

    clock.now += 212.0
    items = await collect(flux)  # the wait passed: the Space is asked again
    assert isinstance(items[-1], GeneratedImage)
    assert joins(transport) == 2


async def test_a_remembered_quota_holds_for_its_token_and_root_only():
    memory = SpaceMemory(clock=Clock())
    cache = ConfigCache()
    flux, _ = client(
        space(failed(QUOTA_TITLE, FREE_QUOTA)), protocol="queue", token=TOKEN, space_memory=memory
    )
    with pytest.raises(QuotaExceededError):
        await collect(flux)

    for token in ("hf_AnotherToken0123456789", None):
        other, transport = client(
            space(succeeded()), protocol="queue", token=token, space_memory=memory, config_cache=cache
        )
        assert isinstance((await collect(other))[-1], GeneratedImage)
        assert joins(transport) == 1

    other_root = "https://another.example"
    fake = space(succeeded())

    def elsewhere(request):  # the same Space, served at another root
        return fake(replace(request, url=request.url.replace(other_root, ROOT)))

    transport = MockTransport(elsewhere)
    other = FluxClient(
        other_root, transport=transport, token=TOKEN, protocol="queue", retry_policy=FAST, space_memory=memory
    )
    assert isinstance(await other.image("a fox"), GeneratedImage)
    assert joins(transport) == 1


async def test_the_opt_out_asks_the_space_every_time():
    memory = SpaceMemory(remember_quotas=False)
    quota = failed(QUOTA_TITLE, FREE_QUOTA)
    flux, transport = client(
        space(quota, failed(QUOTA_TITLE, FREE_QUOTA)), protocol="queue", space_memory=memory
    )
    for _ in range(2):
        with pytest.raises(QuotaExceededError) as caught:
            await collect(flux)
        assert not caught.value.remembered
    assert joins(transport) == 2


async def test_flux_clients_share_the_class_memory(fresh_space_memory):
    fake = space(failed(QUOTA_TITLE, FREE_QUOTA), succeeded())
    first, transport = client(fake, protocol="queue")
    with pytest.raises(QuotaExceededError):
        await collect(first)
    second = FluxClient(ROOT, transport=transport, protocol="queue", config_cache=ConfigCache())
    with pytest.raises(QuotaExceededError) as caught:
        await collect(second)
    assert caught.value.remembered
    assert first.space_memory is second.space_memory is fresh_space_memory
    assert joins(transport) == 1


# -- the token warning --------------------------------------------------------------
async def test_the_token_warning_is_a_progress_line_and_a_logged_warning(caplog):
    toast = {"msg": "log", "log": FALLBACK, "level": "warning", "title": "ZeroGPU client warning"}
    flux, _ = client(space(succeeded(toast)), protocol="queue", token=TOKEN)
    with caplog.at_level(logging.WARNING, logger="g4f_flux_plugin"):
        items = await collect(flux)
    logs = [item for item in items if isinstance(item, ProgressEvent) and item.kind == "log"]
    assert [(event.level, event.message) for event in logs] == [("warning", FALLBACK)]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.name for record in warnings] == ["g4f_flux_plugin"]
    text = warnings[0].getMessage()
    assert "did not accept your Hugging Face token (Invalid credentials in Authorization header)" in text
    assert "anonymous quota" in text
    assert TOKEN not in caplog.text


async def test_other_toasts_are_not_warnings(caplog):
    toasts = [
        {
            "msg": "log",
            "log": "Waiting for a GPU to become available",
            "level": "info",
            "title": "ZeroGPU queue",
        },
        {"msg": "log", "log": "GPU device not used", "level": "warning", "title": "ZeroGPU client warning"},
    ]
    flux, _ = client(space(succeeded(*toasts)), protocol="queue")
    with caplog.at_level(logging.WARNING, logger="g4f_flux_plugin"):
        await collect(flux)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


async def test_every_request_says_x_gradio_user_api():
    flux, transport = client(space(failed(*NO_GPU), succeeded()), protocol="queue")
    await collect(flux)
    assert transport.requests
    assert {request.headers.get("x-gradio-user") for request in transport.requests} == {"api"}
