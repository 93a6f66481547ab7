"""Inputs by name (issue 21), against real Gradio 6 and 4.44 servers.

Replicas started with ``--layout dev`` (FLUX.1-dev's inputs: ``guidance_scale``
between ``height`` and ``num_inference_steps``, 28 steps by default) and
``--layout reordered`` (the public inputs in another order, same component
types, steps named ``steps``), over both protocols and both transports,
through ``FluxClient`` and through the g4f provider. The Space's side is
checked from the replica's record: each value must reach its own input, an
input the client does not know keeps its default, and with nothing given the
steps are the Space's own default. Against the public layout, a cold
generation reads ``/config`` and nothing else before it submits.
"""

from __future__ import annotations

from typing import Any

import pytest
from _helpers import (
    PROTOCOLS,
    TRANSPORTS,
    Provider,
    assert_image,
    download,
    generate,
    the_image,
    the_server_job,
    unique,
)

from g4f_flux_plugin import FluxClient
from g4f_flux_plugin._config import ConfigCache

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("clean_env")]

GENERATIONS = ("6", "4")
VIAS = ("client", "provider")
#: What each layout's infer gets when the client gives nothing: its own steps,
#: and the inputs the client does not know, at their defaults.
DEFAULT_STEPS = {"public": 4, "dev": 28, "reordered": 4}
UNKNOWN_INPUTS = {"public": {}, "dev": {"guidance_scale": 3.5}, "reordered": {}}


@pytest.fixture(autouse=True)
def cache(monkeypatch) -> ConfigCache:
    """Every test discovers its Space anew, through the provider (whose cache
    is its class's) or through FluxClients sharing this cache."""
    fresh = ConfigCache()
    monkeypatch.setattr(Provider, "config_cache", fresh)
    return fresh


async def run(via: str, replica: Any, prompt: str, **options: Any) -> tuple[int | None, str, bytes]:
    """One generation through ``via``: (the seed reported, the image's url, its bytes)."""
    transport, protocol = options.pop("transport"), options.pop("protocol")
    if via == "client":
        async with FluxClient(
            replica.url, transport=transport, protocol=protocol, config_cache=Provider.config_cache
        ) as flux:
            image = await flux.image(prompt, **options)
            data, _ = await flux.download(image.url)
            return image.seed, image.url, data
    steps = options.pop("steps", None)
    items = await generate(
        replica,
        prompt=prompt,
        transport=transport,
        protocol=protocol,
        num_inference_steps=steps,
        **{"width": None, "height": None, **options},
    )
    found = the_image(items)
    url = found.images[0]
    return found.get("seed"), url, (await download(url))[1]


def requests_since(replica: Any, start: int) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in replica.requests()[start:]]


def submit_path(replica: Any, protocol: str) -> str:
    return f"POST {replica.prefix}{'/queue/join' if protocol == 'queue' else '/call/infer'}"


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("layout", ["dev", "reordered"])
@pytest.mark.parametrize("generation", GENERATIONS, ids=[f"gradio{g}" for g in GENERATIONS])
async def test_every_value_reaches_its_input(start_replica, generation, layout, transport, protocol, via):
    replica = start_replica(generation, layout=layout)
    start = len(replica.requests())
    options = {"transport": transport, "protocol": protocol}

    prompt = unique(f"{layout} by name")
    seed, _, data = await run(via, replica, prompt, width=512, height=384, steps=2, seed=7, **options)
    job = await the_server_job(replica, prompt)
    assert job["state"] == "completed", job
    assert (job["width"], job["height"], job["steps"]) == (512, 384, 2)
    assert (job["seed"], job["randomize_seed"]) == (7, False)
    assert job["inputs"] == UNKNOWN_INPUTS[layout]
    assert seed == 7
    assert_image(data, 512, 384, 7)

    # Nothing given: the Space's own steps and size, and it picks the seed.
    prompt = unique(f"{layout} defaults")
    seed, _, _ = await run(via, replica, prompt, **options)
    job = await the_server_job(replica, prompt)
    assert (job["width"], job["height"], job["steps"]) == (1024, 1024, DEFAULT_STEPS[layout])
    assert job["randomize_seed"] is True and seed == job["seed"]
    assert job["inputs"] == UNKNOWN_INPUTS[layout]

    # /info was read once for this root, after /config and before the first submission.
    seen = requests_since(replica, start)
    info = f"GET {replica.prefix}/info"
    assert seen.count(info) == 1
    assert seen[:3] == ["GET /config", info, submit_path(replica, protocol)]


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("generation", GENERATIONS, ids=[f"gradio{g}" for g in GENERATIONS])
async def test_the_public_layout_reads_only_config_before_submitting(
    start_replica, generation, transport, protocol, via
):
    replica = start_replica(generation)
    start = len(replica.requests())
    prompt = unique("public layout, cold")
    seed, _, data = await run(
        via, replica, prompt, width=512, height=384, steps=2, seed=7, transport=transport, protocol=protocol
    )
    job = await the_server_job(replica, prompt)
    assert (job["width"], job["height"], job["steps"], job["seed"], job["randomize_seed"]) == (
        512,
        384,
        2,
        7,
        False,
    )
    assert seed == 7
    assert_image(data, 512, 384, 7)
    seen = requests_since(replica, start)
    assert seen[:2] == ["GET /config", submit_path(replica, protocol)]
    assert not [path for path in seen if path.endswith("/info")]
