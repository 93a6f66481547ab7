"""Fallback chains (issue "Registration", point 4): the provider inside g4f's
``IterListProvider`` and ``RetryProvider``, and g4f's circuit breaker.

Every provider in these chains is real: the plugin's own class, pointed at a
replica of the Space through ``$G4F_FLUX_SCHNELL_URL``, and a second provider
of the same code pinned to another replica (a subclass whose ``space_root``
returns that replica's URL).  A replica in ``quota`` mode answers every job
with ZeroGPU's quota error; a closed port stands for a Space that is down; a
replica that sleeps stands for one that does not answer in time.

Two ways into a chain are used, both g4f's public ones:

- ``g4f.client.AsyncClient().images.generate(..., provider=chain)``: in g4f
  8.8.6 the client walks an ``IterListProvider``'s providers itself, in the
  order of ``get_providers()``, and does not feed the circuit breaker;
- ``chain.create_async_generator(...)``: the chain's own loop, which records
  failures and successes in ``ProviderCircuitBreaker``.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from g4f.client import AsyncClient
from g4f.errors import RetryProviderError
from g4f.errors import TimeoutError as G4FTimeoutError
from g4f.providers.response import ImageResponse, ProviderInfo
from g4f.providers.retry_provider import IterListProvider, ProviderCircuitBreaker, RetryProvider

from g4f_flux_plugin._client import URL_ENV
from g4f_flux_plugin._errors import QuotaExceededError, SpaceConnectError, SpaceTimeoutError
from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

pytestmark = pytest.mark.timeout(90)

OURS = BlackForestLabs_Flux1Schnell
OURS_NAME = "BlackForestLabs_Flux1Schnell"
#: Seconds per inference step of the slow replica: a job takes four steps.
SLOW_STEP = 3.0


def pinned(name: str, url: str) -> type:
    """Another real provider: the plugin's code, always talking to ``url``."""

    def space_root(cls, api_base=None):
        return url

    return type(
        name,
        (OURS,),
        {
            "__module__": __name__,
            "label": f"{name} (test)",
            "space_root": classmethod(space_root),
            # Its own deadline, so that shortening the plugin's does not reach it.
            "default_timeout": 60.0,
        },
    )


def unique(text: str = "a lighthouse at dusk") -> str:
    return f"{text} {uuid.uuid4().hex}"


def jobs_for(replica, prompt: str) -> list[dict]:
    return [job for job in replica.jobs() if job["prompt"] == prompt]


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch, clean_env):
    monkeypatch.delenv("G4F_DISABLE_CIRCUIT_BREAKER", raising=False)
    ProviderCircuitBreaker.reset()  # class-wide state of g4f
    yield
    ProviderCircuitBreaker.reset()


@pytest.fixture(scope="module")
def quota(start_replica):
    """A replica whose every job fails with ZeroGPU's quota error."""
    return start_replica(mode="quota")


@pytest.fixture(scope="module")
def slow(start_replica):
    """A replica that takes 4 x SLOW_STEP seconds a job."""
    return start_replica(sleep=SLOW_STEP)


@pytest.fixture
def ours_at(monkeypatch):
    """Point the plugin's own provider at a URL; returns the class."""

    def point(url: str) -> type:
        monkeypatch.setenv(URL_ENV, url)
        return OURS

    return point


async def generate(chain, prompt: str):
    """g4f's client API, returning the URL of the image and the provider's name."""
    response = await AsyncClient().images.generate(
        prompt, provider=chain, response_format="url", width=256, height=256
    )
    return response.data[0].url, response.provider


async def run_chain(chain, prompt: str) -> tuple[list[str], list[ImageResponse]]:
    """The chain's own generator: the providers it tried, and the images it yielded."""
    tried, images = [], []
    messages = [{"role": "user", "content": prompt}]
    async for item in chain.create_async_generator(
        "flux-schnell", messages, prompt=prompt, width=256, height=256
    ):
        if isinstance(item, ProviderInfo):
            tried.append(item.get_dict()["name"])
        elif isinstance(item, ImageResponse):
            images.append(item)
    return tried, images


# --- the order of a chain ----------------------------------------------------


async def test_chain_moves_past_our_quota_error_to_the_next_provider(ours_at, quota, replica):
    other = pinned("OtherFlux", replica.url)
    chain = IterListProvider([ours_at(quota.url), other], shuffle=False)
    prompt = unique()
    url, provider = await generate(chain, prompt)
    assert provider == "OtherFlux"
    assert url.startswith(replica.url)
    # Ours was asked first, and the Space refused it.
    assert [job["state"] for job in jobs_for(quota, prompt)] == ["failed"]
    assert [job["state"] for job in jobs_for(replica, prompt)] == ["completed"]


async def test_chain_falls_back_to_ours_when_the_first_provider_fails(ours_at, quota, replica):
    other = pinned("OtherFlux", quota.url)
    chain = IterListProvider([other, ours_at(replica.url)], shuffle=False)
    prompt = unique()
    url, provider = await generate(chain, prompt)
    assert provider == OURS_NAME
    assert url.startswith(replica.url)
    assert [job["state"] for job in jobs_for(quota, prompt)] == ["failed"]


async def test_ours_first_answers_and_the_rest_of_the_chain_is_not_asked(ours_at, quota, replica):
    other = pinned("OtherFlux", quota.url)
    chain = IterListProvider([ours_at(replica.url), other], shuffle=False)
    prompt = unique()
    url, provider = await generate(chain, prompt)
    assert provider == OURS_NAME
    assert url.startswith(replica.url)
    assert jobs_for(quota, prompt) == []


async def test_retry_provider_moves_past_ours(ours_at, quota, replica):
    chain = RetryProvider([ours_at(quota.url), pinned("OtherFlux", replica.url)], shuffle=False)
    prompt = unique()
    tried, images = await run_chain(chain, prompt)
    assert tried == [OURS_NAME, "OtherFlux"]
    assert len(images) == 1 and images[0].urls[0].startswith(replica.url)
    # And through the client API.
    prompt = unique()
    url, provider = await generate(chain, prompt)
    assert provider == "OtherFlux" and url.startswith(replica.url)
    # The quota the first call met is remembered (SpaceMemory): no job this time.
    assert jobs_for(quota, prompt) == []


async def test_retry_provider_retries_ours_alone_then_raises_our_error(ours_at, quota):
    chain = RetryProvider([ours_at(quota.url)], single_provider_retry=True, max_retries=2)
    prompt = unique()
    with pytest.raises(QuotaExceededError) as caught:
        await run_chain(chain, prompt)
    # The retry is answered from the remembered quota ("Try again in
    # 0:05:12."), counting down, without a second job on the Space.
    assert caught.value.remembered
    assert 0 < caught.value.retry_after <= 312.0
    assert [job["state"] for job in jobs_for(quota, prompt)] == ["failed"]


# --- kinds of failure that must make a chain move on -----------------------


async def test_space_down_moves_the_chain_on(ours_at, closed_url, replica):
    chain = IterListProvider([ours_at(closed_url), pinned("OtherFlux", replica.url)], shuffle=False)
    url, provider = await generate(chain, unique())
    assert provider == "OtherFlux" and url.startswith(replica.url)
    # Alone, ours raises its connection error as a g4f error.
    with pytest.raises(SpaceConnectError):
        await run_chain(IterListProvider([OURS], shuffle=False), unique())


async def test_timeout_moves_the_chain_on_and_cancels_the_slow_job(ours_at, slow, replica, monkeypatch):
    monkeypatch.setattr(OURS, "default_timeout", 1.0)
    chain = IterListProvider([ours_at(slow.url), pinned("OtherFlux", replica.url)], shuffle=False)
    prompt = unique()
    started = time.monotonic()
    url, provider = await generate(chain, prompt)
    elapsed = time.monotonic() - started
    assert provider == "OtherFlux" and url.startswith(replica.url)
    assert elapsed < 4 * SLOW_STEP - 2, "the chain waited for the slow job"
    # The provider cancels the job it gave up on, so the Space's queue is freed.
    deadline = time.monotonic() + 10
    while [job["state"] for job in jobs_for(slow, prompt)] != ["cancelled"]:
        assert time.monotonic() < deadline, jobs_for(slow, prompt)
        await asyncio.sleep(0.1)


async def test_timeout_alone_raises_g4f_timeout_error(ours_at, slow, monkeypatch):
    monkeypatch.setattr(OURS, "default_timeout", 0.5)
    ours_at(slow.url)
    with pytest.raises(SpaceTimeoutError) as caught:
        await run_chain(IterListProvider([OURS], shuffle=False), unique())
    assert isinstance(caught.value, G4FTimeoutError)


async def test_every_provider_failing_reports_each_error(ours_at, quota, closed_url):
    chain = IterListProvider([ours_at(quota.url), pinned("OtherFlux", closed_url)], shuffle=False)
    with pytest.raises(RetryProviderError) as caught:
        await run_chain(chain, unique())
    message = str(caught.value)
    assert f"{OURS_NAME}: QuotaExceededError: ZeroGPU quota exceeded" in message
    assert "OtherFlux: SpaceConnectError" in message
    assert isinstance(caught.value.__cause__, QuotaExceededError)


# --- g4f's circuit breaker ----------------------------------------------------


async def test_circuit_breaker_counts_our_failures_and_puts_ours_last(ours_at, quota, replica):
    chain = IterListProvider([ours_at(quota.url), pinned("OtherFlux", replica.url)], shuffle=False)
    assert ProviderCircuitBreaker.MAX_CONSECUTIVE_FAILURES == 3
    for attempt in range(3):
        assert ProviderCircuitBreaker.is_available(OURS_NAME), attempt
        prompt = unique()
        tried, images = await run_chain(chain, prompt)
        assert tried == [OURS_NAME, "OtherFlux"]
        # Only the first meets the Space; the others raise the remembered quota.
        assert len(jobs_for(quota, prompt)) == (1 if attempt == 0 else 0)
    # Three quota errors in a row: ours cools down, and g4f tries it last.
    assert not ProviderCircuitBreaker.is_available(OURS_NAME)
    assert [p.__name__ for p in chain.get_providers()] == ["OtherFlux", OURS_NAME]
    prompt = unique()
    tried, images = await run_chain(chain, prompt)
    assert tried == ["OtherFlux"] and len(images) == 1
    assert jobs_for(quota, prompt) == []  # the Space was not asked at all


async def test_circuit_breaker_lets_ours_back_after_the_cooldown_and_a_success_clears_it(
    ours_at, quota, replica, monkeypatch
):
    # A short cooldown instead of g4f's 60 s (record_failure reads the class attribute).
    monkeypatch.setattr(ProviderCircuitBreaker, "COOLDOWN_SECONDS", 0.5)
    failing = IterListProvider([ours_at(quota.url), pinned("OtherFlux", replica.url)], shuffle=False)
    for _ in range(3):
        await run_chain(failing, unique())
    assert not ProviderCircuitBreaker.is_available(OURS_NAME)
    await asyncio.sleep(0.6)
    assert ProviderCircuitBreaker.is_available(OURS_NAME)
    # Ours is healthy again: it answers first, and its success clears its record.
    ours_at(replica.url)
    tried, images = await run_chain(failing, unique())
    assert tried == [OURS_NAME] and images[0].urls[0].startswith(replica.url)
    assert OURS_NAME not in ProviderCircuitBreaker._failures


async def test_the_client_api_does_not_feed_the_circuit_breaker(ours_at, quota, replica):
    # g4f 8.8.6's images.generate walks the chain itself and records nothing:
    # through it, a Space out of quota would be asked again on every call;
    # the plugin remembers the quota, so only the first call asks.
    chain = IterListProvider([ours_at(quota.url), pinned("OtherFlux", replica.url)], shuffle=False)
    prompts = [unique() for _ in range(4)]
    for prompt in prompts:
        _url, provider = await generate(chain, prompt)
        assert provider == "OtherFlux"
    assert ProviderCircuitBreaker.is_available(OURS_NAME)
    assert [len(jobs_for(quota, prompt)) for prompt in prompts] == [1, 0, 0, 0]
