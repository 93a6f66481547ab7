"""Scale: many generations at once in one process, each in the Space's queue at once.

A Gradio event stream holds its connection for as long as its job waits in the
queue, so a client-side connection cap (aiohttp's default 100, curl_cffi's 10)
would keep generation 101 (or 11) from even submitting until another job ended.

The 300-generation test plays a busy Space: a replica that runs one job at a
time, and a first "blocker" job that runs until the test cancels it. While it
runs, no other job can start or end; the test waits (bounded) until Gradio's
own queue holds all 300 and only then cancels the blocker. Then every one must
end with an image, and the process must hold no more descriptors than before.
The proof is the replica's queue size and job record, not a clock.

Running out of file descriptors is tested in a subprocess whose soft
``RLIMIT_NOFILE`` is lowered: a plain ``SpaceConnectError``, nothing leaked,
and the next generation works once descriptors are free again.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from _helpers import generate, the_image, wait_for, wait_for_job_state

from g4f_flux_plugin._transports import make_transport

TRANSPORTS = ("aiohttp", "curl_cffi")
GENERATIONS = 300
GENERATION_TIMEOUT = 900.0  # the queue of 300 one-at-a-time jobs on a shared two-core machine
PROJECT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def queue_size(replica: Any) -> int:
    """Gradio's own count of the jobs waiting in its queue (``/queue/status``)."""
    with urllib.request.urlopen(replica.api_url + "/queue/status", timeout=10) as response:
        return int(json.load(response)["queue_size"])


async def all_queued_at_once(replica: Any, tag: str) -> dict[str, Any]:
    """Run the blocker and the 300 generations on the running loop's shared transport."""
    blocker_prompt = f"{tag} blocker [[sleep=600]]"
    blocker = asyncio.create_task(generate(replica, prompt=blocker_prompt, timeout=GENERATION_TIMEOUT))
    await wait_for_job_state(replica, blocker_prompt, "running", timeout=60)

    prompts = [f"{tag} #{index}" for index in range(GENERATIONS)]
    tasks = [
        asyncio.create_task(generate(replica, prompt=prompt, timeout=GENERATION_TIMEOUT))
        for prompt in prompts
    ]
    seen: list[int] = []

    async def everyone_queued() -> bool:
        seen.append(await asyncio.to_thread(queue_size, replica))
        return seen[-1] >= GENERATIONS

    try:
        await wait_for(everyone_queued, timeout=300, interval=0.25, what=f"{GENERATIONS} jobs in the queue")
    except AssertionError:
        blocker.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(blocker, *tasks, return_exceptions=True)
        raise AssertionError(
            f"the Space's queue never held all {GENERATIONS}: its sizes seen {seen[-5:]}"
        ) from None
    # Snapshot of the server while everything is queued: only the blocker has
    # started, and it still runs, so no job has ended yet.
    started = [job for job in await asyncio.to_thread(replica.jobs) if job["prompt"].startswith(tag)]
    blocker.cancel()
    await asyncio.gather(blocker, return_exceptions=True)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return {"queued": seen[-1], "started": started, "results": results, "prompts": prompts}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_300_generations_are_all_in_the_queue_before_the_first_job_ends(
    start_replica, transport, monkeypatch
):
    # A private replica: one job at a time (Gradio's default concurrency
    # limit), and no other test's jobs in its queue.
    replica = start_replica("6", fresh=True)
    monkeypatch.setenv("G4F_FLUX_TRANSPORT", transport)  # the default path: the per-loop shared transport
    tag = f"scale {transport} {uuid.uuid4().hex[:8]}"
    before = open_fds()

    # asyncio.run: its shutdown closes the loop's shared transport, so the
    # descriptors can be counted after it.
    outcome = asyncio.run(all_queued_at_once(replica, tag))

    assert outcome["queued"] == GENERATIONS
    assert [(job["prompt"], job["state"]) for job in outcome["started"]] == [
        (f"{tag} blocker [[sleep=600]]", "running")
    ]
    failures = [result for result in outcome["results"] if isinstance(result, BaseException)]
    assert not failures, f"{len(failures)} generations failed, first: {failures[0]!r}"
    for items in outcome["results"]:
        assert the_image(items).images
    jobs = [job for job in replica.jobs() if job["prompt"] in set(outcome["prompts"])]
    assert sorted(job["prompt"] for job in jobs) == sorted(outcome["prompts"])
    assert {job["state"] for job in jobs} == {"completed"}
    assert open_fds() <= before, "descriptors left open after the loop closed its transports"


# -- out of file descriptors ---------------------------------------------------------

_EMFILE_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, resource, sys

    from g4f_flux_plugin import FluxClient
    from g4f_flux_plugin._retry import RetryPolicy

    root, transport = sys.argv[1], sys.argv[2]

    def describe(outcome):
        if isinstance(outcome, BaseException):
            return [type(outcome).__name__, str(outcome)]
        return None

    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    async def main():
        report = {}
        # No retries: a retry would wait for another generation's connection
        # to come back to the pool, and get it.
        once = RetryPolicy(attempts=1)
        async with FluxClient(root, transport=transport, timeout=60, retry_policy=once) as client:
            await client.image("warm up", width=256, height=256, steps=1)
            report["fds_after_warm_up"] = open_fds()
            # Lower the soft limit a little above what is open, then take
            # every descriptor left, so the next connection cannot get one.
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds() + 16, hard))
            padding = []
            try:
                while True:
                    padding.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            # The warm client: a few generations at once, more than its idle
            # keep-alive connections, so some need a new socket.
            outcomes = await asyncio.gather(
                *(client.image(f"no descriptor left {i}", width=256, height=256, steps=1) for i in range(8)),
                return_exceptions=True,
            )
            report["warm"] = [describe(outcome) for outcome in outcomes]
            # A new transport (a new session: libcurl's multi handle needs a
            # descriptor of its own), which must work again once they are back.
            async with FluxClient(root, transport=transport, timeout=60, retry_policy=once) as cold:
                try:
                    await cold.image("no descriptor left, cold", width=256, height=256, steps=1)
                    report["cold"] = None
                except Exception as error:
                    report["cold"] = describe(error)
                for fd in padding:
                    os.close(fd)
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
                images = [
                    await client.image("descriptors back", width=256, height=256, steps=1),
                    await cold.image("descriptors back, cold", width=256, height=256, steps=1),
                ]
            report["recovered"] = all(image.seed is not None for image in images)
        report["fds_after_close"] = open_fds()
        print(json.dumps(report))

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_running_out_of_file_descriptors_is_a_plain_connect_error(replica, transport, tmp_path):
    script = tmp_path / "emfile.py"
    script.write_text(_EMFILE_SCRIPT)
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(script), replica.url, transport],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    errors = [error for error in report["warm"] if error is not None]
    assert errors, f"every generation succeeded with no descriptor to spare: {report}"
    assert report["cold"] is not None, "a new transport worked with no descriptor to spare"
    for kind, message in [*errors, report["cold"]]:
        assert kind == "SpaceConnectError", (kind, message)
        assert "too many open files: raise the limit (ulimit -n)" in message
    assert report["recovered"]
    assert report["fds_after_close"] < report["fds_after_warm_up"], report


# -- the caps themselves -------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_wait_for_a_free_connection_is_not_a_connect_timeout(replica, transport):
    # One connection and a 0.5 s connect timeout: the second generation waits
    # for the first one's whole job (at least 1.5 s of sleep on the replica),
    # which must not count as connecting (aiohttp's connect timeout did).
    from g4f_flux_plugin import FluxClient
    from g4f_flux_plugin._retry import RetryPolicy
    from g4f_flux_plugin._transports import Timeouts
    from g4f_flux_plugin._transports._aiohttp import AiohttpTransport
    from g4f_flux_plugin._transports._curl_cffi import CurlCffiTransport

    kind = AiohttpTransport if transport == "aiohttp" else CurlCffiTransport
    tag = uuid.uuid4().hex[:8]
    once = RetryPolicy(attempts=1)  # a retry could hide a timed-out wait
    async with (
        kind(max_connections=1, timeouts=Timeouts(connect=0.5)) as capped,
        FluxClient(replica.url, transport=capped, timeout=60, retry_policy=once) as client,
    ):
        first = asyncio.create_task(
            client.image(f"{tag} first [[sleep=1.5]]", width=256, height=256, steps=1)
        )
        await wait_for_job_state(replica, f"{tag} first [[sleep=1.5]]", "running", timeout=30)
        second = await client.image(f"{tag} second", width=256, height=256, steps=1)
        assert (await first).url and second.url


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_transport_of_any_kind_has_no_small_connection_cap(transport):
    async def caps() -> int:
        made, _ = make_transport(transport)
        async with made:
            session = made._get_session()  # type: ignore[attr-defined]
            if transport == "aiohttp":
                return int(session.connector.limit) or sys.maxsize  # 0: no cap
            return int(session.max_clients)

    assert asyncio.run(caps()) >= 10_000


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_max_connections_must_be_sensible(transport):
    from g4f_flux_plugin._transports._aiohttp import AiohttpTransport
    from g4f_flux_plugin._transports._curl_cffi import CurlCffiTransport

    kind = AiohttpTransport if transport == "aiohttp" else CurlCffiTransport
    with pytest.raises(ValueError, match="max_connections"):
        kind(max_connections=-1)
