"""ZeroGPU as the real Space speaks it, end to end.

The replica runs ``infer`` under Hugging Face's own ZeroGPU client (the
``spaces`` package, ``tests/replica_zerogpu.py``), which asks a scripted
scheduler emulator for a GPU (``tests/zerogpu_scheduler.py``); HF's front
(``tests/hf_front.py``) turns each caller's token into the ``X-IP-Token`` the
package reads. So every message below is written by HF's code, from a
scheduler answer, for a caller of a known tier, and the client must read it:

- quota, runs limit and GPU limit raise ``QuotaExceededError`` with its tier;
- GPU-queue timeouts, 503 and pending credits raise ``SpaceBusyError`` after
  retries, and a failure once then a GPU gives an image;
- an expired proxy token is retried at once, once;
- an illegal duration and the worker's errors are ``SpaceError``, not retried;
- the token warning reaches the logger and the command line under ``-q``;
- the Space sees ``x-gradio-user: api``;
- a remembered quota costs no request at the front, for that token and root only.

Gradio 6 runs every row over both transports, and over both protocols where
the generation carries the message (the ``/call/`` stream drops toasts; from
6.13 it carries errors). Gradio 5.50, 5.38, 5.0 and 4.44 (no titles) run
a representative subset over the queue protocol, marked ``slow``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _helpers import PROTOCOLS, SMALL_CLI, TRANSPORTS, unique
from hf_front import FREE_TOKEN, PRO_TOKEN, REJECTED_REASON, REJECTED_TOKEN, HFFront, plans
from replica_zerogpu import CGROUP_LINE, DURATION_WARNING_MARKER, WORKER_ABORT_MARKER
from zerogpu_scheduler import Answer, Grant, Queue, Quota, SchedulerEmulator, Status

from g4f_flux_plugin import (
    FluxClient,
    FluxClientError,
    GeneratedImage,
    ProgressEvent,
    QuotaExceededError,
    SpaceBusyError,
    SpaceError,
    SpaceMemory,
    SpaceTimeoutError,
)
from g4f_flux_plugin._retry import RetryPolicy

pytestmark = pytest.mark.usefixtures("clean_env")

COMBOS = [(transport, protocol) for transport in TRANSPORTS for protocol in PROTOCOLS]
#: Short backoffs: the rows are about which errors are retried, not how long.
FAST_RETRIES = RetryPolicy(attempts=3, base=0.05, cap=0.2)
TIMEOUT = 45.0
#: "Try again in 0:05:12." (the emulator's default wait).
WAIT = 312.0
OLDER = [pytest.param(generation, marks=pytest.mark.slow) for generation in ("5.50", "5.38", "5.0", "4")]

#: The scheduler's answers that mean "no GPU now": each must end as SpaceBusyError.
BUSY = {
    "queue timeout": Queue(events=("ping", "failed")),
    "no gpu (503)": Status(503),
    "pending credits": Quota(approve_result="pending-overquota-exceeded"),
}


# -- fixtures ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def scheduler() -> Iterator[SchedulerEmulator]:
    """One scheduler for the session (the replicas read its URL once, at start)."""
    emulator = SchedulerEmulator(plans=plans()).start()
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture(autouse=True)
def _fresh_script(scheduler: SchedulerEmulator) -> Iterator[None]:
    scheduler.script()
    yield
    scheduler.script()


def zerogpu_replica(start_replica: Any, scheduler: SchedulerEmulator, generation: str = "6") -> Any:
    return start_replica(generation, zerogpu=scheduler.url)


@pytest.fixture
async def front(start_replica: Any, scheduler: SchedulerEmulator) -> AsyncIterator[HFFront]:
    """HF's front (adding ``X-IP-Token``) before a Gradio 6 ZeroGPU replica."""
    relay = await HFFront(zerogpu_replica(start_replica, scheduler).url).start()
    try:
        yield relay
    finally:
        await relay.close()


async def _front(replica: Any, **options: Any) -> HFFront:
    return await HFFront(replica.url, **options).start()


# -- running one generation ------------------------------------------------------------
async def generate(
    url: str,
    *,
    token: str | None = None,
    transport: str = "aiohttp",
    protocol: str = "queue",
    prompt: str | None = None,
    memory: SpaceMemory | None = None,
) -> tuple[list[ProgressEvent | GeneratedImage], BaseException | None]:
    """Every item of one small generation, and the error it ended with (or None)."""
    items: list[ProgressEvent | GeneratedImage] = []
    options: dict[str, Any] = {"space_memory": memory} if memory is not None else {}
    async with FluxClient(
        url,
        token=token,
        transport=transport,
        protocol=protocol,
        timeout=TIMEOUT,
        retry_policy=FAST_RETRIES,
        **options,
    ) as flux:
        try:
            async for item in flux.generate(prompt or unique(), width=256, height=256, steps=1):
                items.append(item)
        except FluxClientError as exc:
            return items, exc
    return items, None


def image_of(items: list[Any]) -> GeneratedImage:
    found = [item for item in items if isinstance(item, GeneratedImage)]
    assert len(found) == 1, items
    return found[0]


def logs(items: list[Any]) -> list[str]:
    return [item.message or "" for item in items if isinstance(item, ProgressEvent) and item.kind == "log"]


# -- rows: quotas and their tier ---------------------------------------------------------
TIERS = [(None, "anonymous"), (FREE_TOKEN, "free"), (PRO_TOKEN, "pro")]


@pytest.mark.parametrize(("token", "tier"), TIERS, ids=["anonymous", "free", "pro"])
@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_quota_names_its_tier(front, scheduler, transport, protocol, token, tier):
    scheduler.script([Quota(left=13, wait=WAIT)])
    items, error = await generate(front.url, token=token, transport=transport, protocol=protocol)
    assert isinstance(error, QuotaExceededError), error
    assert error.tier == tier
    assert error.retry_after == pytest.approx(WAIT)
    assert "13s left" in str(error)
    assert not [item for item in items if isinstance(item, GeneratedImage)]
    # The scheduler was asked once, for this caller: quotas are not retried.
    assert [call.user for call in scheduler.schedules] == [
        {None: None, FREE_TOKEN: "zerogpu-free-user", PRO_TOKEN: "zerogpu-pro-user"}[token]
    ]
    if tier == "anonymous":  # in plain words, a token gives more quota
        assert "HF_TOKEN" in str(error)
    else:
        assert "HF_TOKEN" not in str(error)


@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_runs_limit_is_a_quota_without_a_wait(front, scheduler, transport, protocol):
    scheduler.script([Quota(left=0, wait=0)])
    _, error = await generate(front.url, token=FREE_TOKEN, transport=transport, protocol=protocol)
    assert isinstance(error, QuotaExceededError), error
    assert "runs limit" in str(error)
    assert error.retry_after is None
    assert error.tier == "free"
    assert len(scheduler.schedules) == 1


@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_no_ip_token_quota_is_the_spaces_gpu_limit(start_replica, scheduler, transport, protocol):
    relay = await _front(zerogpu_replica(start_replica, scheduler), with_ip_token=False)
    try:
        scheduler.script([Quota()])
        _, error = await generate(relay.url, transport=transport, protocol=protocol)
    finally:
        await relay.close()
    assert isinstance(error, QuotaExceededError), error
    assert "reached its GPU limit" in str(error)
    assert "token" not in scheduler.schedules[0].params  # the Space had no X-IP-Token to pass on
    assert len(scheduler.schedules) == 1


# -- rows: no GPU now (busy), retried ------------------------------------------------------
@pytest.mark.parametrize("row", list(BUSY))
@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_no_gpu_now_is_busy_after_retries(front, scheduler, transport, protocol, row):
    scheduler.script([BUSY[row]] * 10)
    _, error = await generate(front.url, token=FREE_TOKEN, transport=transport, protocol=protocol)
    assert isinstance(error, SpaceBusyError), error
    assert not isinstance(error, QuotaExceededError)
    assert len(scheduler.schedules) >= 2, "a busy Space must be asked again"
    assert len(scheduler.schedules) <= FAST_RETRIES.attempts


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_busy_retries_stop_at_the_deadline(front, scheduler, transport):
    # Retries without end but for the deadline: the generation still ends, busy or timed out.
    scheduler.script([Status(503)] * 1000)
    async with FluxClient(
        front.url,
        transport=transport,
        timeout=3,
        retry_policy=RetryPolicy(attempts=1000, base=0.05, cap=0.1),
    ) as flux:
        with pytest.raises((SpaceBusyError, SpaceTimeoutError)):
            await asyncio.wait_for(flux.image(unique(), width=256, height=256, steps=1), 60)
    assert 2 <= len(scheduler.schedules) < 1000


@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_queue_timeout_without_ip_token_is_busy_not_quota(
    start_replica, scheduler, transport, protocol
):
    # With no X-IP-Token, `spaces` titles a GPU-queue timeout "ZeroGPU quota
    # exceeded"; it is still no GPU now, not a spent quota.
    relay = await _front(zerogpu_replica(start_replica, scheduler), with_ip_token=False)
    try:
        scheduler.script([Queue(events=("ping", "failed"))] * 10)
        _, error = await generate(relay.url, transport=transport, protocol=protocol)
    finally:
        await relay.close()
    assert isinstance(error, SpaceBusyError), error
    assert "No GPU was available after 60s" in str(error)
    assert len(scheduler.schedules) >= 2


@pytest.mark.parametrize("row", [*BUSY, "expired proxy token (401)"])
@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_no_gpu_once_then_a_gpu_gives_an_image(front, scheduler, transport, protocol, row):
    scheduler.script([BUSY.get(row, Status(401)), Grant()])
    items, error = await generate(front.url, token=PRO_TOKEN, transport=transport, protocol=protocol)
    assert error is None, error
    assert image_of(items).url.startswith(front.url)  # the file URL points back through the front
    assert len(scheduler.schedules) == 2
    assert scheduler.releases and scheduler.releases[-1]["fail"] == "false"


@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_expired_proxy_token_is_retried_once(front, scheduler, transport, protocol):
    scheduler.script([Status(401)] * 10)
    _, error = await generate(front.url, transport=transport, protocol=protocol)
    assert isinstance(error, SpaceError), error
    assert "Expired ZeroGPU proxy token" in str(error)
    assert len(scheduler.schedules) == 2, "retried at once, once"


# -- rows: the Space's own failures, not retried -------------------------------------------
@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_illegal_duration_is_a_space_error_not_retried(front, scheduler, transport, protocol):
    scheduler.script([Quota(left=0, wait=-1)] * 3)
    _, error = await generate(front.url, token=FREE_TOKEN, transport=transport, protocol=protocol)
    assert isinstance(error, SpaceError), error
    assert not isinstance(error, SpaceBusyError | QuotaExceededError)
    assert "larger than the maximum allowed" in str(error)
    assert len(scheduler.schedules) == 1


@pytest.mark.parametrize(
    ("marker", "words"), [(WORKER_ABORT_MARKER, "GPU task aborted"), ("[[exception]]", "RuntimeError")]
)
@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_worker_errors_are_space_errors_not_retried(
    front, scheduler, transport, protocol, marker, words
):
    _, error = await generate(front.url, transport=transport, protocol=protocol, prompt=unique(marker))
    assert isinstance(error, SpaceError), error
    assert not isinstance(error, SpaceBusyError)
    assert words in str(error)
    assert len(scheduler.schedules) == 1
    assert [release["fail"] for release in scheduler.releases] == ["true"]  # the GPU went back


# -- toasts (queue protocol only) ------------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_rejected_token_warns_the_logger_and_still_gives_an_image(front, scheduler, caplog, transport):
    caplog.set_level(logging.WARNING, logger="g4f_flux_plugin")
    items, error = await generate(front.url, token=REJECTED_TOKEN, transport=transport)
    assert error is None, error
    image_of(items)
    warnings = [
        item
        for item in items
        if isinstance(item, ProgressEvent) and item.kind == "log" and item.level == "warning"
    ]
    assert any("Falling back to IP-based quotas" in (item.message or "") for item in warnings), items
    logged = [
        r for r in caplog.records if r.name.startswith("g4f_flux_plugin") and r.levelno == logging.WARNING
    ]
    assert any(REJECTED_REASON in r.getMessage() for r in logged), caplog.records
    assert all(REJECTED_TOKEN not in r.getMessage() for r in caplog.records)
    # The front rejected it, so the scheduler saw an anonymous caller.
    assert scheduler.schedules[0].user is None
    assert scheduler.schedules[0].payload is not None and scheduler.schedules[0].payload.get("error")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Queue(events=("ping", "ping", "succeeded"), reason="node"), "Waiting for a GPU to become available"),
        (Queue(events=("ping", "succeeded"), reason="concurrency"), "Waiting for a GPU slot on this Space"),
    ],
    ids=["node", "concurrency"],
)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_gpu_queue_toasts_are_progress(front, scheduler, transport, answer, expected):
    scheduler.script([answer])
    items, error = await generate(front.url, token=FREE_TOKEN, transport=transport)
    assert error is None, error
    image_of(items)
    assert expected in logs(items)
    assert "Successfully acquired a GPU" in logs(items)


async def test_duration_warning_is_progress(front, scheduler):
    items, error = await generate(front.url, prompt=unique(DURATION_WARNING_MARKER))
    assert error is None, error
    image_of(items)
    assert "GPU task is exceeding its requested duration and might be aborted" in logs(items)


async def test_gpu_not_used_is_a_warning_not_a_failure(front, scheduler):
    scheduler.script(release_status=204)
    items, error = await generate(front.url)
    assert error is None, error
    image_of(items)
    assert "GPU device not used" in logs(items)


# -- the wiring: what the real client asked the scheduler -------------------------------------
async def test_the_space_schedules_before_and_releases_after_each_job(front, start_replica, scheduler):
    replica = zerogpu_replica(start_replica, scheduler)
    prompt = unique()
    items, error = await generate(front.url, token=FREE_TOKEN, prompt=prompt)
    assert error is None, error
    image_of(items)
    (call,) = scheduler.schedules
    assert call.params["cgroupPath"] == CGROUP_LINE.split(":devices:")[1].strip()
    assert call.params["durationSeconds"] == "60"  # the Space's @spaces.GPU() default
    assert call.params["tokenVersion"] == "2"  # Gradio >= 5.16.1
    assert call.user == "zerogpu-free-user" and call.payload is not None and "error" not in call.payload
    assert [release["fail"] for release in scheduler.releases] == ["false"]
    jobs = [job for job in await asyncio.to_thread(replica.jobs) if job["prompt"] == prompt]
    assert [job["state"] for job in jobs] == ["completed"]


async def test_a_refused_job_never_runs(front, start_replica, scheduler):
    # ZeroGPU refuses before the function runs: no job on the Space, no release.
    replica = zerogpu_replica(start_replica, scheduler)
    prompt = unique()
    scheduler.script([Quota()])
    _, error = await generate(front.url, prompt=prompt)
    assert isinstance(error, QuotaExceededError), error
    assert [job for job in await asyncio.to_thread(replica.jobs) if job["prompt"] == prompt] == []
    assert scheduler.releases == []


# -- g4f: a busy Space moves a chain on -----------------------------------------------------------
async def test_g4f_chain_moves_past_a_busy_space(front, scheduler, replica, monkeypatch):
    from g4f.client import AsyncClient
    from g4f.providers.retry_provider import IterListProvider, ProviderCircuitBreaker

    from g4f_flux_plugin._client import URL_ENV
    from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

    def space_root(cls: type, api_base: str | None = None) -> str:
        return replica.url

    other = type("OtherFlux", (BlackForestLabs_Flux1Schnell,), {"space_root": classmethod(space_root)})
    monkeypatch.setenv(URL_ENV, front.url)
    monkeypatch.setattr(BlackForestLabs_Flux1Schnell, "retry_policy", FAST_RETRIES)
    scheduler.script([Status(503)] * 10)
    ProviderCircuitBreaker.reset()
    try:
        response = await AsyncClient().images.generate(
            unique(),
            provider=IterListProvider([BlackForestLabs_Flux1Schnell, other], shuffle=False),
            response_format="url",
            width=256,
            height=256,
        )
    finally:
        ProviderCircuitBreaker.reset()
    assert response.provider == "OtherFlux"
    assert response.data[0].url.startswith(replica.url)
    assert len(scheduler.schedules) >= 2  # ours asked, retried, then gave way


# -- what the Space sees ------------------------------------------------------------------------
@pytest.mark.parametrize(("transport", "protocol"), COMBOS)
async def test_the_space_sees_an_api_caller(front, start_replica, scheduler, transport, protocol):
    replica = zerogpu_replica(start_replica, scheduler)
    prompt = unique()
    _, error = await generate(front.url, transport=transport, protocol=protocol, prompt=prompt)
    assert error is None, error
    sent = [r.headers.get("x-gradio-user") for r in front.proxy.requests]
    assert sent and set(sent) == {"api"}, sent
    jobs = [job for job in await asyncio.to_thread(replica.jobs) if job["prompt"] == prompt]
    assert len(jobs) == 1
    assert ["x-gradio-user", "api"] in jobs[0]["headers"]  # what gr.Request showed `spaces`


# -- a remembered quota ---------------------------------------------------------------------------
async def test_a_remembered_quota_costs_no_request_for_that_token_and_root_only(start_replica, scheduler):
    replica = zerogpu_replica(start_replica, scheduler)
    memory = SpaceMemory()
    first, second = await _front(replica), await _front(replica)
    try:
        scheduler.script([Quota(left=13, wait=WAIT)])
        _, error = await generate(first.url, token=FREE_TOKEN, memory=memory)
        assert isinstance(error, QuotaExceededError), error
        asked = first.count()
        assert first.submits() == 1

        # Same token, same root: the same error, and not one request.
        _, again = await generate(first.url, token=FREE_TOKEN, memory=memory)
        assert isinstance(again, QuotaExceededError), again
        assert first.count() == asked
        assert again.tier == "free"
        assert again.retry_after is not None and 0 < again.retry_after <= WAIT
        assert "remembered" in str(again).lower()

        # Another token on that root, and the same token on another root: asked.
        items, other = await generate(first.url, token=PRO_TOKEN, memory=memory)
        assert other is None, other
        assert first.submits() == 2
        items, elsewhere = await generate(second.url, token=FREE_TOKEN, memory=memory)
        assert elsewhere is None, elsewhere
        assert second.submits() == 1
        image_of(items)

        # Without the memory (the opt-out), the same caller is asked again.
        scheduler.script([Quota(left=13, wait=WAIT)])
        _, fresh = await generate(first.url, token=FREE_TOKEN, memory=SpaceMemory(remember_quotas=False))
        assert isinstance(fresh, QuotaExceededError) and first.submits() == 3
    finally:
        await first.close()
        await second.close()


# -- the command line under -q ---------------------------------------------------------------------
async def test_cli_prints_the_token_warning_under_quiet(front, tmp_path):
    script = Path(sys.executable).parent / "g4f-flux"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "g4f_flux_plugin"]
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN" and not k.startswith("G4F_FLUX")}
    env.update(HOME=str(tmp_path), HF_TOKEN=REJECTED_TOKEN, PYTHONUNBUFFERED="1")
    process = await asyncio.create_subprocess_exec(
        *command,
        "a lighthouse",
        "--api-base",
        front.url,
        *SMALL_CLI,
        "--out-dir",
        str(tmp_path),
        "-q",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = err.decode()
    assert process.returncode == 0, (out, stderr)
    assert REJECTED_REASON in stderr, stderr
    assert "token" in stderr.lower() and "anonymous" in stderr.lower(), stderr
    assert REJECTED_TOKEN not in stderr + out.decode()
    assert out.decode().strip(), "the image is still made"


# -- older generations: a representative subset (queue protocol) -------------------------------------
@pytest.mark.parametrize("generation", OLDER)
@pytest.mark.parametrize(("token", "tier"), TIERS, ids=["anonymous", "free", "pro"])
async def test_older_generation_quota_tier(start_replica, scheduler, generation, token, tier):
    relay = await _front(zerogpu_replica(start_replica, scheduler, generation))
    try:
        scheduler.script([Quota(left=13, wait=WAIT)])
        _, error = await generate(relay.url, token=token)
    finally:
        await relay.close()
    assert isinstance(error, QuotaExceededError), error
    assert error.tier == tier
    assert error.retry_after == pytest.approx(WAIT)
    assert ("HF_TOKEN" in str(error)) == (tier == "anonymous")


OLDER_ROWS: dict[str, tuple[list[Answer], type[BaseException], str]] = {
    "queue timeout": (
        [Queue(events=("ping", "failed"))] * 10,
        SpaceBusyError,
        "No GPU was available after 60s",
    ),
    "503": ([Status(503)] * 10, SpaceBusyError, "No GPU was available"),
    "illegal duration": ([Quota(left=0, wait=-1)], SpaceError, "larger than the maximum allowed"),
}


@pytest.mark.parametrize("generation", OLDER)
@pytest.mark.parametrize("row", list(OLDER_ROWS))
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_older_generation_rows(start_replica, scheduler, generation, row, transport):
    answers, kind, words = OLDER_ROWS[row]
    relay = await _front(zerogpu_replica(start_replica, scheduler, generation))
    try:
        scheduler.script(answers)
        _, error = await generate(relay.url, token=FREE_TOKEN, transport=transport)
    finally:
        await relay.close()
    assert isinstance(error, kind), error
    assert words in str(error)
    assert (len(scheduler.schedules) >= 2) == (kind is SpaceBusyError)


@pytest.mark.parametrize("generation", OLDER)
async def test_older_generation_expired_token_once_then_image_and_warning(
    start_replica, scheduler, caplog, generation
):
    caplog.set_level(logging.WARNING, logger="g4f_flux_plugin")
    replica = zerogpu_replica(start_replica, scheduler, generation)
    relay = await _front(replica)
    prompt = unique()
    try:
        scheduler.script([Status(401), Queue(events=("ping", "succeeded"))])
        items, error = await generate(relay.url, token=REJECTED_TOKEN, prompt=prompt)
    finally:
        await relay.close()
    assert error is None, error
    image_of(items)
    assert len(scheduler.schedules) == 2
    assert any("Falling back to IP-based quotas" in text for text in logs(items))
    assert any(REJECTED_REASON in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    jobs = [job for job in await asyncio.to_thread(replica.jobs) if job["prompt"] == prompt]
    assert len(jobs) == 1 and ["x-gradio-user", "api"] in jobs[0]["headers"]
