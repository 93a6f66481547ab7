"""The contract on every Gradio generation the Space may run (issue 10).

The whole suite runs on Gradio 6 (and much of it on Gradio 4 through
``any_replica``); here a contract subset runs on each generation of
``conftest.GENERATIONS`` (4.44, 5.0, 5.38, 5.50, 6.31) through the
``every_generation`` fixture: success with the seed used, both transports
and both protocols, the quota and hidden-error texts, progress, and
cancellation.

Cancellation is checked from the replica's own record of the jobs that
started (``/_replica/jobs``) and Gradio's own queue size (``/queue/status``),
for every way a caller stops:

- a job stopped while **queued** never starts on the Space: the next job
  behind it starts instead (the queue is first come, first served, so a job
  left in the queue would start before it);
- a job stopped while **running** ends there as ``cancelled``, and the job
  waiting behind it starts at once, not when the stopped one would have
  finished.

The replica runs one job at a time (Gradio's default concurrency limit, 1),
so a long job holds the Space while the test queues another behind it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import _helpers as helpers  # the replica's texts (helpers.QUOTA_TITLE, ...), job_kwargs
import aiohttp
import g4f.errors
import pytest
from _helpers import (
    PROTOCOLS,
    SMALL_CLI,
    TRANSPORTS,
    Provider,
    assert_image,
    download,
    events,
    generate,
    server_jobs,
    settle,
    the_image,
    unique,
    wait_for,
    wait_for_job_state,
)

from g4f_flux_plugin._errors import QuotaExceededError, SpaceError
from g4f_flux_plugin._gradio import SpaceClient
from g4f_flux_plugin._http import HttpClient
from g4f_flux_plugin._params import normalise
from g4f_flux_plugin._transports import make_transport

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("clean_env")]

#: A job that holds the Space longer than any test may run (pytest's timeout
#: here is 90 s): 50 steps (the Space's most) of 2.4 s. It is always stopped by
#: the test, never waited for; a shorter hold (25 s) once ended by itself on a
#: loaded machine before the test stopped it, which read as a failed cancel.
HOLD_STEPS, HOLD_SLEEP = 50, 2.4
HOLD_SECONDS = HOLD_STEPS * HOLD_SLEEP
#: The ways a caller stops a generation.
WAYS = ["aclose", "break", "task_cancel", "deadline"]

SMALL = dict(width=256, height=256, num_inference_steps=1)


# -- the server's side ---------------------------------------------------------------
async def queue_size(replica) -> int:
    """How many jobs wait in the Space's queue (Gradio's ``GET /queue/status``)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(replica.api_url + "/queue/status", timeout=aiohttp.ClientTimeout(total=10)) as response,
    ):
        return (await response.json())["queue_size"]


async def wait_for_queue_size(replica, size: int, timeout: float = 5.0) -> None:
    # A cancel takes at most 2 s (the client's bound); Gradio updates its
    # count at once. Far shorter than the job holding the Space (120 s).
    async def check():
        return await queue_size(replica) == size

    await wait_for(check, timeout=timeout, what=f"{size} job(s) in the Space's queue")


class Holder:
    """A long job holding the Space's one slot, stopped by :meth:`release`."""

    def __init__(self, replica) -> None:
        self.replica = replica
        self.prompt = unique(f"holder [[sleep={HOLD_SLEEP}]]")
        self.task = asyncio.ensure_future(
            generate(
                replica,
                prompt=self.prompt,
                protocol="queue",
                width=256,
                height=256,
                num_inference_steps=HOLD_STEPS,
                timeout=HOLD_SECONDS + 30,
            )
        )

    async def running(self) -> Holder:
        await wait_for_job_state(self.replica, self.prompt, "running")
        return self

    async def release(self) -> None:
        if not self.task.done():
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        job = await wait_for_job_state(self.replica, self.prompt, "cancelled", "completed", "failed")
        assert job["state"] == "cancelled", job


async def next_job_runs(replica, **kwargs) -> dict:
    """Run a short job to its end and return the server's record of it."""
    prompt = unique("next")
    the_image(await generate(replica, prompt=prompt, protocol="queue", **{**SMALL, **kwargs}))
    jobs = await server_jobs(replica, prompt)
    assert len(jobs) == 1 and jobs[0]["state"] == "completed", jobs
    return jobs[0]


# -- the contract subset -----------------------------------------------------------
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_image_with_the_seed_used(every_generation, transport, protocol):
    prompt = unique()
    items = await generate(
        every_generation,
        prompt=prompt,
        seed=1234567,
        width=320,
        height=256,
        transport=transport,
        protocol=protocol,
    )
    image = the_image(items)
    assert image.options["seed"] == 1234567
    job = (await server_jobs(every_generation, prompt))[0]
    assert (job["seed"], job["width"], job["height"]) == (1234567, 320, 256)
    content_type, data = await download(image.images[0])
    assert content_type.startswith("image/webp")
    assert_image(data, 320, 256, 1234567)


async def test_a_random_seed_is_the_one_the_space_used(every_generation):
    prompt = unique()
    image = the_image(await generate(every_generation, prompt=prompt, protocol="call"))
    job = (await server_jobs(every_generation, prompt))[0]
    assert image.options["seed"] == job["seed"]


async def test_out_of_range_sizes_are_clamped_before_they_reach_the_space(every_generation):
    """Gradio 5.39+ refuses slider values out of range, older ones pass them
    to the function: either way the Space must only ever see its own range."""
    prompt = unique()
    the_image(await generate(every_generation, prompt=prompt, width=4096, height=100, protocol="call"))
    job = (await server_jobs(every_generation, prompt))[0]
    assert (job["width"], job["height"]) == (2048, 256)


async def test_progress_on_the_queue(every_generation):
    items = await generate(
        every_generation, prompt=unique("[[sleep=0.25]]"), num_inference_steps=3, protocol="queue"
    )
    the_image(items)
    kinds = [event.kind for event in events(items)]
    assert kinds[0] == "submitted" and "queued" in kinds
    assert kinds.index("started") < kinds.index("step")
    assert [event.index for event in events(items, "step")] == [1, 2, 3]


def _version(replica) -> tuple[int, ...]:
    return tuple(int(part) for part in replica.gradio_version.split(".")[:3] if part.isdigit())


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_quota_in_the_spaces_words_where_the_space_sends_them(every_generation, protocol):
    prompt = unique("[[quota]]")
    with pytest.raises(g4f.errors.ResponseError) as caught:
        await generate(every_generation, prompt=prompt, protocol=protocol)
    error = caught.value
    if protocol == "call" and _version(every_generation) < (6, 13):
        # What the Space allows: Gradio <= 6.12 (all of 4.x and 5.x) sends
        # `data: null` for every error on the /call/ stream, so the quota's
        # words never leave it. The best possible: say so in plain words
        # (the queue protocol, which "auto" picks, carries them).
        assert isinstance(error, SpaceError) and "hides its details" in str(error)
        assert not isinstance(error, g4f.errors.RateLimitError)
    else:
        assert isinstance(error, QuotaExceededError) and isinstance(error, g4f.errors.RateLimitError)
        assert helpers.QUOTA_MESSAGE in str(error) and error.retry_after == helpers.QUOTA_RETRY_AFTER
        if every_generation.generation != "4":  # Gradio 4's gr.Error has no title
            assert helpers.QUOTA_TITLE in str(error)
    assert "null" not in str(error)
    assert [job["state"] for job in await server_jobs(every_generation, prompt)] == ["failed"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_hidden_exception_is_said_in_plain_words(every_generation, protocol):
    with pytest.raises(SpaceError) as caught:
        await generate(every_generation, prompt=unique("[[exception]]"), protocol=protocol)
    error = caught.value
    assert not isinstance(error, g4f.errors.RateLimitError)
    assert "hides its details" in str(error) and "show_error" in str(error)
    assert "null" not in str(error) and helpers.EXCEPTION_MESSAGE not in str(error)


# -- stopping a queued job: it never starts ------------------------------------------
async def _stop_queued(replica, way: str, protocol: str, transport: str, prompt: str) -> None:
    kwargs = dict(
        api_base=replica.url, prompt=prompt, protocol=protocol, transport=transport, timeout=60, **SMALL
    )
    # On the queue protocol a job can be stopped before its stream is open
    # ("submitted") or once it reads the queue ("queued"); the call protocol
    # yields nothing but "submitted".
    if way == "aclose":
        generator = Provider.create_async_generator("flux", None, **kwargs)
        assert (await anext(generator)).event.kind == "submitted"
        await wait_for_queue_size(replica, 1)
        await generator.aclose()
    elif way == "break":
        stop_at = "queued" if protocol == "queue" else "submitted"
        async for item in Provider.create_async_generator("flux", None, **kwargs):
            if item.event.kind == stop_at:
                await wait_for_queue_size(replica, 1)
                break
    elif way == "task_cancel":
        task = asyncio.ensure_future(generate(**kwargs))
        await wait_for_queue_size(replica, 1)
        await asyncio.sleep(0.2)  # inside the stream
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        kwargs["timeout"] = 1.5
        with pytest.raises(g4f.errors.TimeoutError):
            await generate(**kwargs)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_queued_job_stopped_never_starts(every_generation, transport, protocol, way):
    await _stopped_while_queued_never_starts(every_generation, way, protocol, transport)
    await settle()


async def _stopped_while_queued_never_starts(replica, way: str, protocol: str, transport) -> None:
    """Queue a job behind a running one, stop it by ``way``, and check that it never runs."""
    holder = await Holder(replica).running()
    prompt = unique("queued")
    try:
        await _stop_queued(replica, way, protocol, transport, prompt)
        # Gradio's own count: the stopped job left the queue while the holder runs.
        await wait_for_queue_size(replica, 0)
    finally:
        await holder.release()
    # First come, first served: had it stayed queued, it would start before this one.
    await next_job_runs(replica)
    assert await server_jobs(replica, prompt) == []


@pytest.mark.parametrize("way", ["aclose"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport_name", TRANSPORTS)
async def test_a_queued_job_stopped_on_the_callers_open_transport_never_starts(
    every_generation, transport_name, protocol, way
):
    """The caller's transport stays open after the job (``transport=`` an
    instance, as a program running many jobs does): nothing but the cancel
    itself may take the job off the queue, not the transport's closing."""
    transport, _ = make_transport(transport_name)
    try:
        await _stopped_while_queued_never_starts(every_generation, way, protocol, transport)
    finally:
        await transport.aclose()
    await settle()


@pytest.mark.parametrize("transport_name", TRANSPORTS)
async def test_a_queued_job_closed_right_after_submission_never_starts(every_generation, transport_name):
    """The Space client's job closed at its first item, before it opened any
    stream: on Gradio 4 and 5 only a cancel that opens and drops a stream of
    the job's session takes it off the queue (their /cancel leaves queued jobs)."""
    transport, _ = make_transport(transport_name)
    client = SpaceClient(HttpClient(transport, every_generation.url), protocol="queue")
    holder = await Holder(every_generation).running()
    prompts = []
    try:
        try:
            for protocol in PROTOCOLS:
                client.protocol = protocol
                prompts.append(unique(f"queued {protocol}"))
                job = client.generate(
                    lambda limits, prompt=prompts[-1]: normalise(
                        prompt, width=256, height=256, steps=1, limits=limits
                    )
                )
                first = await anext(job)
                assert first.kind == "submitted"
                await wait_for_queue_size(every_generation, 1)
                await job.aclose()
            await wait_for_queue_size(every_generation, 0)
        finally:
            await holder.release()
        await next_job_runs(every_generation)
        for prompt in prompts:
            assert await server_jobs(every_generation, prompt) == []
    finally:
        await transport.aclose()
    await settle()


# -- stopping a running job: the Space is free at once ------------------------------
async def _stop_running(replica, way: str, protocol: str, transport: str, prompt: str, on_running) -> None:
    """Run a long job, await ``on_running()`` once the Space runs it, then stop it by ``way``."""
    kwargs = helpers.job_kwargs(replica, prompt, transport, protocol, HOLD_STEPS, timeout=HOLD_SECONDS + 30)
    if way == "aclose":
        generator = Provider.create_async_generator("flux", None, **kwargs)
        await anext(generator)
        await wait_for_job_state(replica, prompt, "running")
        await on_running()
        await generator.aclose()
    elif way == "break":
        stop_at = "step" if protocol == "queue" else "submitted"
        async for item in Provider.create_async_generator("flux", None, **kwargs):
            if item.event.kind == stop_at:
                await wait_for_job_state(replica, prompt, "running")
                await on_running()
                break
    elif way == "task_cancel":
        task = asyncio.ensure_future(generate(**kwargs))
        await wait_for_job_state(replica, prompt, "running")
        await on_running()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        # The deadline passes while the job runs and the other one waits.
        kwargs["timeout"] = 3.0
        task = asyncio.ensure_future(generate(**kwargs))
        await wait_for_job_state(replica, prompt, "running")
        await on_running()
        with pytest.raises(g4f.errors.TimeoutError):
            await task


class Waiting:
    """A short job queued behind a running one."""

    def __init__(self, replica) -> None:
        self.replica = replica
        self.prompt = unique("waiting")
        self.task: asyncio.Task | None = None

    async def queue(self) -> None:
        self.task = asyncio.ensure_future(generate(self.replica, prompt=self.prompt, protocol="queue"))
        await wait_for_queue_size(self.replica, 1)

    async def finish(self) -> None:
        assert self.task is not None, "the stopped job never ran"
        the_image(await asyncio.wait_for(self.task, 30))

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_running_job_stopped_frees_the_space(every_generation, transport, protocol, way):
    prompt = unique(f"running [[sleep={HOLD_SLEEP}]]")
    waiting = Waiting(every_generation)
    try:
        await _stop_running(every_generation, way, protocol, transport, prompt, waiting.queue)
        await waiting.finish()
    finally:
        await waiting.stop()
    await _assert_freed_at_once(every_generation, prompt, waiting.prompt)
    await settle()


async def _assert_freed_at_once(replica, prompt: str, waiting_prompt: str) -> None:
    stopped = await server_jobs(replica, prompt)
    waiting = await server_jobs(replica, waiting_prompt)
    assert len(stopped) == 1 and stopped[0]["state"] == "cancelled", stopped
    assert len(waiting) == 1 and waiting[0]["state"] == "completed", waiting
    # The server's clock: the waiting job started once the stopped one ended
    # (one slot), and long before the stopped one would have finished.
    assert waiting[0]["started_at"] >= stopped[0]["ended_at"] - 0.05
    assert waiting[0]["started_at"] < stopped[0]["started_at"] + HOLD_SECONDS / 2


# -- the command line's Ctrl-C --------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    script = Path(sys.executable).with_name("g4f-flux")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "g4f_flux_plugin"]
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN" and not k.startswith("G4F_FLUX")}
    home = cwd / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), G4F_CACHE_DIR=str(home / "g4f-cache"), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [*command, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        # As a terminal would: a shell without job control starts children with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


async def _interrupt(process: subprocess.Popen) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    try:
        return await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.communicate)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ctrl_c_on_a_queued_job_it_never_starts(every_generation, protocol, tmp_path):
    holder = await Holder(every_generation).running()
    prompt = unique("cli queued")
    try:
        process = _cli(
            prompt,
            *SMALL_CLI,
            "--protocol",
            protocol,
            "--api-base",
            every_generation.url,
            cwd=tmp_path,
        )
        await wait_for_queue_size(every_generation, 1, timeout=30)
        await asyncio.sleep(0.3)  # the command reads the job's stream
        stdout, stderr = await _interrupt(process)
        assert process.returncode == 130, (stdout, stderr)
        await wait_for_queue_size(every_generation, 0)
    finally:
        await holder.release()
    await next_job_runs(every_generation)
    assert await server_jobs(every_generation, prompt) == []
    await settle()


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_ctrl_c_on_a_running_job_frees_the_space(every_generation, protocol, tmp_path):
    prompt = unique(f"cli running [[sleep={HOLD_SLEEP}]]")
    waiting = Waiting(every_generation)
    process = _cli(
        prompt,
        "--width",
        "256",
        "--height",
        "256",
        "--steps",
        str(HOLD_STEPS),
        "--protocol",
        protocol,
        "--api-base",
        every_generation.url,
        cwd=tmp_path,
    )
    try:
        await wait_for_job_state(every_generation, prompt, "running", timeout=30)
        await waiting.queue()
        stdout, stderr = await _interrupt(process)
        assert process.returncode == 130, (stdout, stderr)
        await waiting.finish()
    finally:
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.communicate)
        await waiting.stop()
    await _assert_freed_at_once(every_generation, prompt, waiting.prompt)
    await settle()
