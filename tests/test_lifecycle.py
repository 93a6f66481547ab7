"""A Space's life (issue 18): Spaces named by id, that sleep, start, pause or fail, and
lists of Spaces tried in turn, against the real Gradio 6 replica behind HF's
front (``space_front.py``) and the emulated Hub (``hub_emulator.py``), on both
transports and both protocols; a sleeping Space also on each older Gradio.

Every scenario is bounded: the Hub's stages move on after a few runtime reads,
the client polls the Hub quickly here (``POLL``), and every generation has a
deadline of its own. What each front and the Hub received is recorded, so "no
retries" is a count of requests, not a time.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from typing import Any

import pytest
from _helpers import (
    PROTOCOLS,
    TRANSPORTS,
    events as provider_events,
    generate as provider_generate,
    server_jobs,
    settle,
    the_image as provider_image,
    unique,
    wait_for,
)
from hub_emulator import Phase, SpaceScript
from space_front import ERROR_TEXT, Scenario

from g4f_flux_plugin import FluxClient, GeneratedImage, ProgressEvent
from g4f_flux_plugin._errors import (
    FluxClientError,
    QuotaExceededError,
    SpaceError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)

pytestmark = pytest.mark.timeout(120)

COMBOS = [(transport, protocol) for transport in TRANSPORTS for protocol in PROTOCOLS]
IDS = [f"{transport}-{protocol}" for transport, protocol in COMBOS]
#: Seconds between the client's looks at the Hub while a Space wakes or starts.
POLL = 0.05
SMALL = {"width": 256, "height": 256, "steps": 1}


@pytest.fixture
def hub_env(monkeypatch, tmp_path):
    """No token and no Space from the user's environment or files."""
    for name in (
        "G4F_FLUX_SCHNELL_URL",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "G4F_FLUX_TRANSPORT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved token there
    return monkeypatch


@pytest.fixture(autouse=True)
def fresh_client_state(monkeypatch):
    """A quick look at the Hub (nothing is remembered from another test already:
    conftest's fresh_space_memory)."""
    monkeypatch.setattr(FluxClient, "poll_interval", POLL)


@pytest.fixture
async def scenario(replica, hub_env):
    async with Scenario(replica.url) as scenario:
        hub_env.setenv("HF_ENDPOINT", scenario.hub.url)
        yield scenario


def client(space: Any, transport: str, protocol: str, **options: Any) -> FluxClient:
    options.setdefault("timeout", 60)
    return FluxClient(space=space, transport=transport, protocol=protocol, **options)


async def generate(flux: FluxClient, prompt: str, **options: Any) -> list[Any]:
    """Every item of one generation (the error, if any, raised)."""
    async with flux, aclosing(flux.generate(prompt, **SMALL, **options)) as stream:
        return [item async for item in stream]


def space_events(items: list[Any]) -> list[ProgressEvent]:
    return [item for item in items if isinstance(item, ProgressEvent) and item.kind == "space"]


def the_image(items: list[Any]) -> GeneratedImage:
    found = [item for item in items if isinstance(item, GeneratedImage)]
    assert len(found) == 1, items
    assert items[-1] is found[0]
    return found[0]


# -- waking and starting ------------------------------------------------------------
@pytest.mark.parametrize(("transport", "protocol"), COMBOS, ids=IDS)
async def test_a_sleeping_space_named_by_id_wakes_and_ends_with_an_image(
    scenario, replica, transport, protocol
):
    space = await scenario.space(
        "someone/flux-sleepy", [Phase("SLEEPING", reads=2), Phase("APP_STARTING", reads=1), "RUNNING"]
    )
    prompt = unique()
    items = await generate(client("someone/flux-sleepy", transport, protocol), prompt)

    image = the_image(items)
    assert image.space == "someone/flux-sleepy"
    assert len(await server_jobs(replica, prompt)) == 1
    # The first thing the caller hears is that the Space is waking up.
    progress = [item for item in items if isinstance(item, ProgressEvent)]
    assert progress[0].kind == "space"
    assert "wak" in (progress[0].message or "").lower()
    assert progress.index(space_events(items)[-1]) < [event.kind for event in progress].index("submitted")
    # The id was resolved once; the front was poked (which woke it) and then served the app.
    assert scenario.hub.info_reads(space.id) == 1
    assert scenario.hub.runtime_reads(space.id) >= 3
    assert scenario.front(space.id).app_requests() >= 2


#: Older Gradio generations behind the same front and Hub (their routes and
#: messages differ: 4.44 has no /gradio_api prefix), each transport and
#: protocol once.
OLDER = [pytest.param(generation, marks=pytest.mark.slow) for generation in ("5.50", "5.38", "5.0", "4")]
OLDER_COMBOS = [("aiohttp", "queue"), ("curl_cffi", "call")]


@pytest.mark.parametrize(("transport", "protocol"), OLDER_COMBOS, ids=["aiohttp-queue", "curl_cffi-call"])
@pytest.mark.parametrize("generation", OLDER)
async def test_a_sleeping_space_on_an_older_gradio_wakes_and_ends_with_an_image(
    scenario, start_replica, generation, transport, protocol
):
    older = start_replica(generation)
    space = await scenario.space(
        "someone/flux-older", [Phase("SLEEPING", reads=2), "RUNNING"], upstream=older.url
    )
    prompt = unique()
    items = await generate(client(space.id, transport, protocol), prompt)

    image = the_image(items)
    assert image.space == space.id
    assert len(await server_jobs(older, prompt)) == 1
    assert "wak" in (space_events(items)[0].message or "").lower()
    assert scenario.front(space.id).app_requests() >= 2


@pytest.mark.parametrize(("transport", "protocol"), COMBOS, ids=IDS)
async def test_a_waking_space_that_answers_now_and_then_still_gets_one_job(
    scenario, replica, transport, protocol
):
    # Healthy answers between 502s while it starts. A job whose stream met a 502
    # is lost to the client, which cancels it (the front may swallow that too)
    # and submits again: the image is the later job's, and nothing is left running.
    space = await scenario.space(
        "someone/flux-flaky", [Phase("SLEEPING", reads=3), "RUNNING"], waking=(502, "app", 503, "app")
    )
    prompt = unique()
    image = the_image(await generate(client(space.id, transport, protocol), prompt))
    assert image.space == space.id
    jobs = await wait_for(
        lambda: _ended_jobs(replica, prompt), timeout=10, what="every job of the prompt to end"
    )
    assert 1 <= len(jobs) <= 2, jobs
    assert image.seed in [job["seed"] for job in jobs if job["state"] == "completed"]


async def _ended_jobs(replica, prompt: str) -> list[dict[str, Any]] | None:
    jobs = await server_jobs(replica, prompt)
    return jobs if jobs and all(job["state"] != "running" for job in jobs) else None


@pytest.mark.parametrize(("transport", "protocol"), COMBOS, ids=IDS)
@pytest.mark.parametrize("stage", ["BUILDING", "APP_STARTING"])
async def test_a_starting_space_is_waited_for(scenario, replica, transport, protocol, stage):
    space = await scenario.space("someone/flux-building", [Phase(stage, reads=3), "RUNNING"])
    prompt = unique()
    items = await generate(client(space.id, transport, protocol), prompt)
    assert the_image(items).space == space.id
    said = space_events(items)
    assert said, "no progress event said the Space was starting"
    assert any(word in (said[0].message or "").lower() for word in ("start", "build"))
    assert len(await server_jobs(replica, prompt)) == 1


# -- stages that will not change -------------------------------------------------------
UNAVAILABLE = [
    ("PAUSED", None, "paused"),
    ("RUNTIME_ERROR", "CUDA error: out of memory", "CUDA error: out of memory"),
    ("BUILD_ERROR", "pip install failed", "pip install failed"),
    ("CONFIG_ERROR", None, "CONFIG_ERROR"),
    ("NO_APP_FILE", None, "NO_APP_FILE"),
]


@pytest.mark.parametrize(("transport", "protocol"), COMBOS, ids=IDS)
@pytest.mark.parametrize(("stage", "error_message", "says"), UNAVAILABLE, ids=[row[0] for row in UNAVAILABLE])
async def test_a_paused_or_failed_space_is_unavailable_at_once(
    scenario, replica, transport, protocol, stage, error_message, says, record_property
):
    space = await scenario.space("someone/flux-down", [Phase(stage, error_message=error_message)])
    prompt = unique()
    started = time.perf_counter()
    with pytest.raises(SpaceUnavailableError) as caught:
        await generate(client(space.id, transport, protocol), prompt)
    record_property("seconds", round(time.perf_counter() - started, 3))  # reported, never asserted

    assert caught.value.stage == stage
    assert says.lower() in str(caught.value).lower()
    if stage == "PAUSED":
        assert "owner" in str(caught.value)
    # No retries: at most one try of the front, one look at the stage, nothing ran.
    assert len(scenario.front(space.id).proxy.requests) <= 1
    assert scenario.hub.runtime_reads(space.id) <= 1
    assert len(scenario.hub.requests) <= 2  # where it runs, and its stage
    assert await server_jobs(replica, prompt) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("private", [True, False], ids=["private", "missing"])
async def test_a_space_the_hub_does_not_show_is_unavailable(scenario, transport, private):
    if private:
        await scenario.space("someone/secret", private=True, readers=("hf_SomebodyElse0123456789",))
    with pytest.raises(SpaceUnavailableError) as caught:
        await generate(client("someone/secret", transport, "auto"), unique())
    assert "someone/secret" in str(caught.value)
    assert len(scenario.hub.requests) <= 2
    assert scenario.hub.to("/api/spaces/someone/secret"), "the Hub was not asked"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_space_by_url_alone_reads_the_error_text_of_its_front(scenario, transport):
    space = await scenario.space("someone/broken", [Phase("RUNTIME_ERROR", error_message="boom")])
    with pytest.raises(SpaceUnavailableError) as caught:
        await generate(client(space.host, transport, "auto"), unique())
    assert ERROR_TEXT in str(caught.value) or "in error" in str(caught.value)
    assert scenario.hub.requests == [], "a Space given by URL has no Hub to ask"
    assert len(scenario.front(space.id).proxy.requests) == 1


# -- deadlines ----------------------------------------------------------------------
DEADLINE = 1.5
FOREVER = [
    ("SLEEPING", (502, 503)),
    ("BUILDING", (503,)),
    ("APP_STARTING", (502, "app")),
    ("SLEEPING", ("hang",)),  # a front that answers nothing while the Space wakes
]


@pytest.mark.parametrize(("transport", "protocol"), COMBOS, ids=IDS)
@pytest.mark.parametrize(("stage", "waking"), FOREVER, ids=["sleeping", "building", "starting", "hanging"])
async def test_no_stage_keeps_a_generation_past_its_deadline(
    scenario, replica, transport, protocol, stage, waking, record_property
):
    space = await scenario.space("someone/flux-forever", [stage], waking=waking)  # it never gets there
    prompt = unique()
    started = time.perf_counter()
    with pytest.raises(SpaceTimeoutError):
        await generate(client(space.id, transport, protocol, timeout=DEADLINE), prompt)
    record_property("seconds", round(time.perf_counter() - started, 3))  # reported, never asserted
    # Once the error is out, nothing of the generation is left asking.
    await settle()
    front, hub = len(scenario.front(space.id).proxy.requests), len(scenario.hub.requests)
    await asyncio.sleep(10 * POLL)
    assert (len(scenario.front(space.id).proxy.requests), len(scenario.hub.requests)) == (front, hub)
    if "hang" not in waking:
        assert scenario.hub.runtime_reads(space.id) >= 2, "the client never polled the Hub"
    # A job that got through to the app between two 502s is not left running there.
    await wait_for(
        lambda: _no_running_job(replica, prompt), timeout=10, what="no job of the prompt to be running"
    )


async def _no_running_job(replica, prompt: str) -> bool:
    return all(job["state"] != "running" for job in await server_jobs(replica, prompt))


# -- several Spaces ---------------------------------------------------------------------
@pytest.fixture
def quota_replica(start_replica):
    return start_replica("6", mode="quota")


@pytest.mark.parametrize(("transport", "protocol"), COMBOS, ids=IDS)
async def test_a_list_moves_past_quota_paused_and_refused_spaces(
    scenario, replica, quota_replica, transport, protocol
):
    await scenario.space("someone/no-quota", upstream=quota_replica.url)
    await scenario.space("someone/paused", ["PAUSED"])
    scenario.down("someone/down")
    good = await scenario.space("someone/good")
    spaces = ["someone/no-quota", "someone/paused", "someone/down", "someone/good"]
    prompt = unique()
    items = await generate(client(spaces, transport, protocol), prompt)

    assert the_image(items).space == "someone/good"
    assert len(await server_jobs(quota_replica, prompt)) == 1  # tried once, not retried
    assert len(await server_jobs(replica, prompt)) == 1  # the good one's
    assert scenario.front(good.id).app_requests() >= 2
    # Progress says which Space is tried.
    tried = " ".join(event.message or "" for event in space_events(items))
    assert "someone/good" in tried


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_list_mixing_an_id_and_a_url_names_the_space_that_made_the_image(
    scenario, replica, transport
):
    paused = await scenario.space("someone/paused", ["PAUSED"])
    good = await scenario.space("someone/good")
    image = the_image(await generate(client([paused.id, good.host], transport, "auto"), unique()))
    assert image.space == good.host


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_job_the_space_failed_is_not_sent_to_the_next(scenario, replica, transport):
    await scenario.space("someone/first")
    second = await scenario.space("someone/second")
    prompt = unique("[[exception]] a broken prompt")
    with pytest.raises(SpaceError):
        await generate(client(["someone/first", "someone/second"], transport, "queue"), prompt)
    assert len(await server_jobs(replica, prompt)) == 1
    assert second.front_requests == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_when_every_space_fails_the_quota_is_raised(scenario, quota_replica, transport):
    await scenario.space("someone/paused", ["PAUSED"])
    await scenario.space("someone/no-quota", upstream=quota_replica.url)
    with pytest.raises(QuotaExceededError) as caught:
        await generate(client(["someone/paused", "someone/no-quota"], transport, "queue"), unique())
    assert caught.value.retry_after == 312.0


# -- through g4f ------------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_provider_says_the_space_wakes_and_names_it_in_options(scenario, replica, transport):
    space = await scenario.space("someone/flux-g4f", [Phase("SLEEPING", reads=2), "RUNNING"])
    prompt = unique()
    items = await provider_generate(prompt=prompt, space=space.id, transport=transport)
    image = provider_image(items)
    assert image.options["space"] == space.id
    said = provider_events(items)
    assert said, "no progress item of kind 'space'"
    assert "wak" in (said[0].message or "").lower()
    assert len(await server_jobs(replica, prompt)) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_provider_raises_g4fs_provider_not_working_for_a_paused_space(scenario, transport):
    from g4f.errors import ProviderNotWorkingError

    space = await scenario.space("someone/flux-paused", ["PAUSED"])
    with pytest.raises(ProviderNotWorkingError) as caught:
        await provider_generate(prompt=unique(), space=space.id, transport=transport)
    assert isinstance(caught.value, SpaceUnavailableError)
    assert caught.value.stage == "PAUSED"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_unavailable_space_is_remembered_and_skipped_by_the_next_generation(
    scenario, replica, transport
):
    paused = await scenario.space("someone/paused", ["PAUSED"])
    good = await scenario.space("someone/good")
    async with client([paused.id, good.id], transport, "queue") as flux:
        for _ in range(2):
            async with aclosing(flux.generate(unique(), **SMALL)) as stream:
                image = the_image([item async for item in stream])
            assert image.space == good.id
            if _ == 0:
                asked = (len(scenario.front(paused.id).proxy.requests), scenario.hub.runtime_reads(paused.id))
    assert asked[0] + asked[1] >= 1
    # The second generation asked neither the paused Space's front nor the Hub about it.
    assert (len(scenario.front(paused.id).proxy.requests), scenario.hub.runtime_reads(paused.id)) == asked


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_hub_that_is_down_is_a_plain_error_within_the_deadline(
    replica, hub_env, closed_url, transport
):
    hub_env.setenv("HF_ENDPOINT", closed_url)
    with pytest.raises(FluxClientError) as caught:
        await generate(client("someone/flux", transport, "auto", timeout=5), unique())
    assert not isinstance(caught.value, SpaceTimeoutError)
    assert "someone/flux" in str(caught.value) or closed_url.split("//")[1] in str(caught.value)


# -- more of a Space's life ------------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_waking_space_given_by_url_alone_is_retried_within_the_deadline(scenario, replica, transport):
    # No Hub to ask: the front's 502/503 are retried with backoff until it
    # answers, for as long as the deadline allows (a wake-up takes 30 s or more
    # on HF; 4 s here, longer than the few quick retries of a running Space).
    space = await scenario.space("someone/flux-by-url", [Phase("SLEEPING", seconds=4.0), "RUNNING"])
    prompt = unique()
    items = await generate(client(space.host, transport, "queue", timeout=60), prompt)
    assert the_image(items).space == space.host
    assert scenario.hub.requests == []
    assert len(await server_jobs(replica, prompt)) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_stopped_space_wakes_like_a_sleeping_one(scenario, replica, transport):
    space = await scenario.space("someone/flux-stopped", [Phase("STOPPED", reads=2), "RUNNING"])
    items = await generate(client(space.id, transport, "call"), unique())
    assert the_image(items).space == space.id
    assert "wak" in (space_events(items)[0].message or "").lower()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_space_that_never_ran_has_no_host_and_says_why(scenario, transport):
    scenario.hub.add(SpaceScript("someone/no-app", [Phase("NO_APP_FILE")]))  # host: ""
    with pytest.raises(SpaceUnavailableError) as caught:
        await generate(client("someone/no-app", transport, "auto"), unique())
    assert caught.value.stage == "NO_APP_FILE"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_several_images_of_a_sleeping_space_resolve_its_id_once(scenario, replica, transport):
    space = await scenario.space("someone/flux-many", [Phase("SLEEPING", reads=2), "RUNNING"])
    prompt = unique()
    items = await provider_generate(prompt=prompt, space=space.id, transport=transport, n=3)
    assert len(provider_image(items).urls) == 3
    assert scenario.hub.info_reads(space.id) == 1
    assert len(await server_jobs(replica, prompt)) == 3
