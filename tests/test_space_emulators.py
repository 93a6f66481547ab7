"""The emulated Hub and HF's front (``hub_emulator.py``, ``space_front.py``) do what
their docstrings say, checked with a plain aiohttp client: the lifecycle tests
rely on them."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from hub_emulator import HubEmulator, Phase, SpaceScript
from space_front import ERROR_TEXT, Scenario

TOKEN = "hf_EmulatorReader0123456789abcdef"


async def _get(
    session: aiohttp.ClientSession, url: str, token: str | None = None, header: str = "Authorization"
):
    headers = {header: f"Bearer {token}"} if token else {}
    async with session.get(url, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as client:
        yield client


async def test_hub_info_and_a_stage_that_moves_on_after_reads_once_woken(session):
    space = SpaceScript(
        "someone/Flux_Copy", [Phase("SLEEPING", reads=2), Phase("APP_STARTING", reads=1), "RUNNING"]
    )
    space.host = "http://127.0.0.1:9"
    async with HubEmulator([space]) as hub:
        status, _, body = await _get(session, f"{hub.url}/api/spaces/someone/Flux_Copy")
        assert status == 200
        info = json.loads(body)
        assert (info["host"], info["subdomain"], info["id"]) == (space.host, "someone-flux-copy", space.id)
        runtime = f"{hub.url}/api/spaces/someone/Flux_Copy/runtime"

        async def stage() -> str:
            return json.loads((await _get(session, runtime))[2])["stage"]

        # Asleep, and nothing woke it: it stays asleep however often the Hub is asked.
        assert [await stage() for _ in range(4)] == ["SLEEPING"] * 4
        space.front_request()
        assert [await stage() for _ in range(5)] == [
            "SLEEPING",
            "SLEEPING",
            "APP_STARTING",
            "RUNNING",
            "RUNNING",
        ]
        assert hub.runtime_reads("someone/Flux_Copy") == 9
        assert hub.info_reads("someone/Flux_Copy") == 1


async def test_hub_stage_held_for_seconds_and_error_message(session):
    space = SpaceScript("a/b", [Phase("BUILDING", seconds=0.3), Phase("RUNTIME_ERROR", error_message="boom")])
    async with HubEmulator([space]) as hub:
        first = json.loads((await _get(session, f"{hub.url}/api/spaces/a/b/runtime"))[2])
        assert first["stage"] == "BUILDING"
        assert first["hardware"]["current"] is None
        await asyncio.sleep(0.35)
        later = json.loads((await _get(session, f"{hub.url}/api/spaces/a/b/runtime"))[2])
        assert (later["stage"], later["errorMessage"]) == ("RUNTIME_ERROR", "boom")


async def test_hub_hides_private_and_missing_spaces(session):
    private = SpaceScript("me/private", private=True, readers=(TOKEN,))
    async with HubEmulator([private, SpaceScript("me/gone", missing=True)]) as hub:
        for path in ("me/private", "me/private/runtime", "me/gone", "nobody/here/runtime"):
            status, headers, _ = await _get(session, f"{hub.url}/api/spaces/{path}")
            assert (status, headers.get("X-Error-Code")) == (401, "RepoNotFound"), path
            status, headers, _ = await _get(session, f"{hub.url}/api/spaces/{path}", "hf_wrong")
            assert (status, headers.get("X-Error-Code")) == (404, "RepoNotFound"), path
        status, _, _ = await _get(session, f"{hub.url}/api/spaces/me/private/runtime", TOKEN)
        assert status == 200
        assert hub.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


async def test_front_answers_per_stage_and_lets_the_app_through_when_running(session, replica):
    async with Scenario(replica.url) as scenario:
        waking = await scenario.space(
            "me/waking", [Phase("SLEEPING", reads=1), "RUNNING"], waking=(502, "app", 503)
        )
        broken = await scenario.space("me/broken", [Phase("RUNTIME_ERROR", error_message="CUDA")])
        paused = await scenario.space("me/paused", ["PAUSED"])
        private = await scenario.space("me/private", private=True, readers=(TOKEN,))
        down = scenario.down("me/down")

        statuses = [(await _get(session, f"{waking.host}/config"))[0] for _ in range(4)]
        assert statuses == [502, 200, 503, 502]
        assert waking.stage == "SLEEPING"
        await _get(session, f"{scenario.hub.url}/api/spaces/me/waking/runtime")
        status, _, body = await _get(session, f"{waking.host}/config")
        assert status == 200
        assert b'"dependencies"' in body
        assert scenario.front("me/waking").app_requests() == 2

        status, _, body = await _get(session, f"{broken.host}/config")
        assert (status, body) == (503, ERROR_TEXT.encode())
        assert len(body) == 49
        status, _, body = await _get(session, f"{paused.host}/config")
        assert status == 503
        assert b"paused" in body

        assert (await _get(session, f"{private.host}/config"))[0] == 404
        assert (await _get(session, f"{private.host}/config", "hf_wrong", "X-HF-Authorization"))[0] == 404
        assert (await _get(session, f"{private.host}/config", TOKEN, "X-HF-Authorization"))[0] == 200
        # The front consumed the token: the replica never saw it.
        seen = await asyncio.to_thread(replica.requests)
        assert not [r for r in seen for _, value in r["headers"] if TOKEN in value]

        with pytest.raises(aiohttp.ClientConnectorError):
            await _get(session, f"{down.host}/config")
