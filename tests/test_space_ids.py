"""Spaces named by id (issue 18): the default Space asks no Hub, the token saved by
``hf auth login`` is used as huggingface_hub uses it, the token goes to the Hub
and to the Space each in its own header, and the command line's ``--space`` and
``--aspect-ratio``.

The Hub is the emulated one (``hub_emulator.py``) and the Space the real Gradio
6 replica behind HF's front (``space_front.py``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from _helpers import (
    SMALL_CLI,
    TRANSPORTS,
    generate as provider_generate,
    server_jobs,
    the_image as provider_image,
    unique,
)
from hub_emulator import HubEmulator, Phase
from space_front import Scenario
from test_cli import COMMAND, exif_record, g4f_flux_on_terminal

from g4f_flux_plugin import FluxClient, GeneratedImage
from g4f_flux_plugin._config import PUBLIC_SPACE_URL
from g4f_flux_plugin._errors import SpaceUnavailableError
from g4f_flux_plugin._transports import make_transport
from g4f_flux_plugin._transports.base import Response, Transport

pytestmark = pytest.mark.timeout(120)

TOKEN = "hf_SavedByHfAuthLogin0123456789abcd"
OTHER = "hf_FromTheEnvironment0123456789abcd"
SMALL = {"width": 256, "height": 256, "steps": 1}
#: What could hold a token or a Space, from the user's environment.
USERS = ("G4F_FLUX_SCHNELL_URL", "G4F_FLUX_TRANSPORT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH")
USERS_DIRS = ("HF_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def home(monkeypatch, tmp_path) -> Path:
    """A home of the test's own, with no token in it and none in the environment."""
    for name in (*USERS, *USERS_DIRS):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
async def scenario(replica, home, monkeypatch):
    async with Scenario(replica.url) as scenario:
        monkeypatch.setenv("HF_ENDPOINT", scenario.hub.url)
        yield scenario


async def generate(flux: FluxClient, prompt: str) -> list[Any]:
    async with flux, aclosing(flux.generate(prompt, **SMALL)) as stream:
        return [item async for item in stream]


def the_image(items: list[Any]) -> GeneratedImage:
    [image] = [item for item in items if isinstance(item, GeneratedImage)]
    return image


# -- the default Space ----------------------------------------------------------------
class Rerouting(Transport):
    """A real transport that sends the public Space's requests to a local front
    instead, and records every URL asked for (so nothing leaves the machine)."""

    def __init__(self, inner: Transport, public: str, local: str) -> None:
        self.inner, self.public, self.local = inner, public, local
        self.name = inner.name
        self.urls: list[str] = []

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], content: bytes | None = None, timeout=None
    ) -> Response:
        self.urls.append(url)
        if url.startswith(self.public + "/"):
            url = self.local + url[len(self.public) :]
        return await self.inner.request(method, url, headers=headers, content=content, timeout=timeout)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_default_space_costs_no_hub_request(scenario, replica, transport):
    space = await scenario.space("black-forest-labs/FLUX.1-schnell")
    inner, _ = make_transport(transport)
    async with Rerouting(inner, PUBLIC_SPACE_URL, space.host) as rerouting:
        prompt = unique()
        image = the_image(await generate(FluxClient(transport=rerouting, timeout=60), prompt))
        assert len(await server_jobs(replica, prompt)) == 1
    assert scenario.hub.requests == []
    assert rerouting.urls
    assert all(url.startswith(PUBLIC_SPACE_URL + "/") for url in rerouting.urls), rerouting.urls
    assert image.space in ("black-forest-labs/FLUX.1-schnell", PUBLIC_SPACE_URL)


# -- where the list of Spaces comes from -------------------------------------------------
@pytest.mark.parametrize("how", ["environment", "api_base", "provider"])
async def test_a_list_by_environment_alias_or_provider_fails_over_and_names_the_space(
    scenario, replica, monkeypatch, how
):
    paused = await scenario.space("someone/paused", ["PAUSED"])
    good = await scenario.space("someone/good")
    listed = f" {paused.id} , {good.id} "  # blanks around the commas are allowed
    prompt = unique()
    if how == "provider":
        items = await provider_generate(prompt=prompt, space=[paused.id, good.id], transport="aiohttp")
        assert provider_image(items).options["space"] == good.id
    else:
        if how == "environment":
            monkeypatch.setenv("G4F_FLUX_SCHNELL_URL", listed)
            flux = FluxClient(transport="aiohttp", timeout=60)
        else:
            flux = FluxClient(api_base=listed, transport="aiohttp", timeout=60)
        assert the_image(await generate(flux, prompt)).space == good.id
    assert len(await server_jobs(replica, prompt)) == 1
    assert scenario.hub.runtime_reads(paused.id) == 1


# -- the saved token ------------------------------------------------------------------
def _layouts(home: Path) -> dict[str, tuple[dict[str, str], Path | None, str]]:
    """name -> (environment, where the token file is written, the token expected)."""
    return {
        "HF_TOKEN_PATH": (
            {"HF_TOKEN_PATH": str(home / "elsewhere" / "tok")},
            home / "elsewhere" / "tok",
            TOKEN,
        ),
        "HF_HOME": ({"HF_HOME": str(home / "hf")}, home / "hf" / "token", TOKEN),
        "XDG_CACHE_HOME": (
            {"XDG_CACHE_HOME": str(home / "xdg")},
            home / "xdg" / "huggingface" / "token",
            TOKEN,
        ),
        "~/.cache": ({}, home / ".cache" / "huggingface" / "token", TOKEN),
        "HF_TOKEN first": ({"HF_TOKEN": OTHER}, home / ".cache" / "huggingface" / "token", OTHER),
        "empty HF_TOKEN": ({"HF_TOKEN": ""}, home / ".cache" / "huggingface" / "token", TOKEN),
        "HF_TOKEN_PATH beats HF_HOME": (
            {"HF_TOKEN_PATH": str(home / "p"), "HF_HOME": str(home / "hf")},
            home / "p",
            TOKEN,
        ),
    }


LAYOUTS = list(_layouts(Path("/")))


def _hub_get_token(env: dict[str, str]) -> str | None:
    """huggingface_hub's own ``get_token()`` in a fresh interpreter (it reads its
    paths at import) with exactly this environment."""
    code = "import json, huggingface_hub; print(json.dumps(huggingface_hub.get_token()))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_the_token_hf_auth_login_saved_is_used_as_huggingface_hub_uses_it(
    scenario, replica, home, monkeypatch, layout
):
    variables, path, expected = _layouts(home)[layout]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"\n{TOKEN}\n")  # huggingface_hub strips it
    env = {name: value for name, value in os.environ.items() if name not in ("HF_OIDC_RESOURCE",)}
    assert await asyncio.to_thread(_hub_get_token, env) == expected

    # A private Space only that token can read: an image means it went where it should.
    space = await scenario.space("someone/private", private=True, readers=(expected,))
    prompt = unique()
    # By URL (the Hub is another test's business): the front alone checks the token.
    the_image(await generate(FluxClient(space.host, transport="aiohttp", timeout=60), prompt))
    assert len(await server_jobs(replica, prompt)) == 1
    front = scenario.front(space.id).proxy.requests
    assert {r.headers.get("x-hf-authorization") for r in front} == {f"Bearer {expected}"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_saved_token_opens_a_private_space_named_by_id(
    scenario, replica, home, monkeypatch, transport
):
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    (home / "hf").mkdir()
    (home / "hf" / "token").write_text(TOKEN)
    space = await scenario.space("someone/private", private=True, readers=(TOKEN,))
    prompt = unique()
    image = the_image(await generate(FluxClient(space=space.id, transport=transport, timeout=60), prompt))
    assert image.space == space.id
    assert len(await server_jobs(replica, prompt)) == 1
    assert {r.headers.get("authorization") for r in scenario.hub.requests} == {f"Bearer {TOKEN}"}


async def test_no_error_about_a_private_space_shows_the_token(scenario, home):
    paused = await scenario.space("someone/private", ["PAUSED"], private=True, readers=(TOKEN,))
    flux = FluxClient(space=[paused.id, "someone/missing"], token=TOKEN, transport="aiohttp", timeout=10)
    with pytest.raises(SpaceUnavailableError) as caught:
        await generate(flux, unique())
    shown = [str(caught.value), repr(caught.value), repr(flux)]
    error: BaseException | None = caught.value
    while error is not None:
        shown += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    assert not [text for text in shown if TOKEN in text]


async def test_no_token_anywhere_sends_none(scenario, home):
    space = await scenario.space("someone/public")
    assert await asyncio.to_thread(_hub_get_token, dict(os.environ)) is None
    the_image(await generate(FluxClient(space=space.id, transport="aiohttp", timeout=60), unique()))
    for record in scenario.hub.requests + scenario.front(space.id).proxy.requests:
        assert "authorization" not in record.headers
        assert "x-hf-authorization" not in record.headers


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_token_goes_to_the_hub_as_authorization_and_to_the_space_as_x_hf_authorization(
    scenario, replica, transport
):
    space = await scenario.space("someone/private", private=True, readers=(TOKEN,))
    prompt = unique()
    flux = FluxClient(space=space.id, token=TOKEN, transport=transport, timeout=60)
    assert TOKEN not in repr(flux)
    the_image(await generate(flux, prompt))

    hub = scenario.hub.requests
    assert hub, "the id was never resolved"
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub)
    assert not [r for r in hub if "x-hf-authorization" in r.headers]
    front = scenario.front(space.id).proxy.requests
    assert all(r.headers.get("x-hf-authorization") == f"Bearer {TOKEN}" for r in front)
    assert not [r for r in front if TOKEN in r.headers.get("authorization", "")]
    # HF's front consumed it: the Space's own code never saw the token.
    seen = await asyncio.to_thread(replica.requests)
    assert not [r for r in seen for _, value in r["headers"] if TOKEN in value]


async def test_a_token_is_not_sent_to_a_hub_over_plain_http_off_loopback(home, monkeypatch):
    # The Hub's address is not loopback and plain http: the token must not go there.
    from g4f_flux_plugin import MockResponse, MockTransport

    seen: list[Any] = []

    def handler(request):
        seen.append(request)
        return MockResponse(
            404, headers={"x-error-code": "RepoNotFound"}, json={"error": "Repository Not Found"}
        )

    monkeypatch.setenv("HF_ENDPOINT", "http://hub.example")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    async with MockTransport(handler) as transport:
        with pytest.raises(SpaceUnavailableError):
            await generate(FluxClient(space="someone/thing", transport=transport, timeout=5), unique())
    for request in seen:
        assert not [value for value in request.headers.values() if TOKEN in value], request.url


async def test_the_image_is_downloaded_with_the_token_from_the_space_that_made_it(scenario, replica):
    paused = await scenario.space("someone/paused", ["PAUSED"])
    good = await scenario.space("someone/private", private=True, readers=(TOKEN,))
    async with FluxClient(space=[paused.id, good.id], token=TOKEN, transport="aiohttp", timeout=60) as flux:
        image = await flux.image(unique(), **SMALL)
        assert image.space == good.id
        data, kind = await flux.download(image.url)
    assert kind.lower() == "webp" and data[:4] == b"RIFF"
    [fetch] = [r for r in scenario.front(good.id).proxy.requests if "/file=" in r.path]
    assert fetch.headers.get("x-hf-authorization") == f"Bearer {TOKEN}"


async def test_a_host_the_hub_gives_over_plain_http_off_loopback_gets_no_token(home, monkeypatch):
    from g4f_flux_plugin import MockResponse, MockTransport

    seen: list[Any] = []

    def handler(request):
        seen.append(request)
        if request.url.startswith("http://127.0.0.1:1/api/spaces/someone/thing"):
            if request.url.endswith("/runtime"):
                return MockResponse(200, json={"stage": "PAUSED"})
            return MockResponse(200, json={"host": "http://space.example", "subdomain": "someone-thing"})
        return MockResponse(502, content=b"<html>Bad Gateway</html>", headers={"content-type": "text/html"})

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1")
    async with MockTransport(handler) as transport:
        with pytest.raises(SpaceUnavailableError):
            await generate(
                FluxClient(space="someone/thing", token=TOKEN, transport=transport, timeout=5), unique()
            )
    to_space = [request for request in seen if request.url.startswith("http://space.example/")]
    to_hub = [request for request in seen if request.url.startswith("http://127.0.0.1:1/")]
    assert to_space and to_hub
    assert all(request.headers.get("authorization") == f"Bearer {TOKEN}" for request in to_hub)
    for request in to_space:
        assert not [value for value in request.headers.values() if TOKEN in value], request.url


# -- the command line -----------------------------------------------------------------
def _cli_env(home: Path, hub: HubEmulator) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in (*USERS, *USERS_DIRS) and not k.startswith("G4F_FLUX")
    }
    env.update(
        HOME=str(home), HF_ENDPOINT=hub.url, PYTHONUNBUFFERED="1", G4F_CACHE_DIR=str(home / "g4f-cache")
    )
    return env


async def _cli(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(), err.decode()


async def test_cli_space_by_id_through_the_hub(scenario, replica, home, tmp_path):
    space = await scenario.space("someone/flux-cli")
    prompt = unique()
    code, out, err = await _cli(
        prompt,
        "--space",
        space.id,
        "-o",
        "x.webp",
        *SMALL_CLI,
        cwd=tmp_path,
        env=_cli_env(home, scenario.hub),
    )
    assert code == 0, (out, err)
    assert (tmp_path / "x.webp").exists()
    assert scenario.hub.info_reads(space.id) == 1
    assert len(await server_jobs(replica, prompt)) == 1


async def test_cli_aspect_ratio_sizes_the_image(scenario, replica, home, tmp_path):
    from PIL import Image

    space = await scenario.space("someone/flux-cli")
    prompt = unique()
    code, out, err = await _cli(
        prompt, "--space", space.id, "--aspect-ratio", "2:1", "--steps", "1", "-o", "wide.webp",
        cwd=tmp_path, env=_cli_env(home, scenario.hub),
    )  # fmt: skip
    assert code == 0, (out, err)
    with Image.open(io.BytesIO((tmp_path / "wide.webp").read_bytes())) as image:
        assert image.size == (1024, 512)
    [job] = await server_jobs(replica, prompt)
    assert (job["width"], job["height"]) == (1024, 512)


async def test_cli_unknown_aspect_ratio_is_a_usage_error_listing_the_ratios(home, tmp_path):
    async with HubEmulator() as hub:
        code, out, err = await _cli("a fox", "--aspect-ratio", "7:5", cwd=tmp_path, env=_cli_env(home, hub))
        assert hub.requests == []
    assert code == 2, (out, err)
    assert "7:5" in err
    assert all(ratio in err for ratio in ("1:1", "16:9", "9:16", "2:1"))


async def test_cli_on_a_terminal_says_the_space_is_waking_up(scenario, replica, tmp_path):
    # The command's own poll interval (a few seconds): one wait of it here.
    space = await scenario.space("someone/flux-sleepy", [Phase("SLEEPING", reads=1), "RUNNING"])
    prompt = unique()
    run = await asyncio.to_thread(
        g4f_flux_on_terminal, prompt, "--space", space.id, "-o", "x.webp", "--width", "256", "--height", "256",
        "--steps", "1", cwd=tmp_path, timeout=90,
    )  # fmt: skip
    assert run.code == 0, run
    assert "waking up" in run.stderr
    assert len(await server_jobs(replica, prompt)) == 1


async def test_cli_list_fails_over_and_records_the_space_that_made_the_image(
    scenario, replica, home, tmp_path
):
    paused = await scenario.space("someone/paused", ["PAUSED"])
    good = await scenario.space("someone/good")
    code, out, err = await _cli(
        unique(), "--space", f"{paused.id},{good.id}", "-o", "x.webp", "--width", "256", "--height", "256",
        "--steps", "1", cwd=tmp_path, env=_cli_env(home, scenario.hub),
    )  # fmt: skip
    assert code == 0, (out, err)
    _, record = exif_record(tmp_path / "x.webp")
    assert record["space"] == good.id


async def test_cli_paused_space_exits_1_with_one_line_naming_the_owner(scenario, home, tmp_path):
    paused = await scenario.space("someone/paused", ["PAUSED"])
    code, out, err = await _cli(
        unique(), "--space", paused.id, cwd=tmp_path, env=_cli_env(home, scenario.hub)
    )  # fmt: skip
    assert code == 1, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "paused" in lines[0] and "owner" in lines[0] and paused.id in lines[0]
