"""Keep-alive: a finished job's event stream is read to its end, so its
connection goes back to the pool instead of being dropped (against the real
Space each new connection is a TCP and TLS handshake).

A TCP relay in front of the replica counts the connections clients open.
"""

from __future__ import annotations

import pytest
from _helpers import generate, images
from relay import TcpRelay

from g4f_flux_plugin._transports import make_transport


@pytest.mark.parametrize("protocol", ["call", "queue"])
@pytest.mark.parametrize("transport_name", ["aiohttp", "curl_cffi"])
async def test_generations_on_one_transport_reuse_one_connection(replica, protocol, transport_name):
    transport, _ = make_transport(transport_name)
    async with TcpRelay(replica.url) as relay:
        try:
            for _ in range(4):
                items = await generate(relay, prompt="keep-alive", transport=transport, protocol=protocol)
                assert len(images(items)) == 1
        finally:
            await transport.aclose()
    # /config once, then submit, stream, (and so on) four times, one at a
    # time: all of it fits on one connection when each stream is read to its
    # end. Without the drain every stream's connection is dropped (4+).
    assert relay.connections == 1


# -- no transport passed (what g4f does): one pool per event loop ----------------------
@pytest.mark.parametrize("protocol", ["call", "queue"])
@pytest.mark.parametrize("transport_name", ["aiohttp", "curl_cffi"])
async def test_generations_without_a_transport_share_the_loops_connections(
    replica, protocol, transport_name, monkeypatch
):
    monkeypatch.setenv("G4F_FLUX_TRANSPORT", transport_name)
    async with TcpRelay(replica.url) as relay:
        for _ in range(4):
            assert images(await generate(relay, prompt="pooled", protocol=protocol))
        # Four generations as g4f makes them (no transport): one connection.
        # Without the pool, each opens its own (4).
        assert relay.connections == 1


POOL_PROGRAM = r"""
import asyncio, gc, os, sys, warnings
warnings.simplefilter("error")  # an unclosed session or connector fails the run
from g4f_flux_plugin import BlackForestLabs_Flux1Schnell as Provider

async def one(index):
    async for item in Provider.create_async_generator(
            None, None, prompt=f"run {index}", width=256, height=256, num_inference_steps=1,
            api_base=sys.argv[1], protocol=("call", "queue")[index % 2]):
        pass
    # Nothing of the generation is left running; a pooled curl_cffi session
    # has one timer task of its own for the loop's life (closed with the pool).
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()
              and task.get_coro().__qualname__ != "AsyncCurl._force_timeout"]
    assert not others, others

def descriptors():
    return len(os.listdir("/proc/self/fd"))

for index in range(20):  # warm-up: imports, libcurl, first connections
    asyncio.run(one(index))
gc.collect()
before = descriptors()
for index in range(int(sys.argv[2])):
    asyncio.run(one(index))  # what g4f's sync client does for every image
gc.collect()
print("descriptors", before, descriptors())
"""


@pytest.mark.slow
@pytest.mark.parametrize("transport_name", ["aiohttp", "curl_cffi"])
def test_asyncio_run_again_and_again_leaves_nothing_behind(replica, transport_name, tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "pool_program.py"
    script.write_text(POOL_PROGRAM)
    env = dict(os.environ, G4F_FLUX_TRANSPORT=transport_name, PYTHONWARNINGS="error")
    result = subprocess.run(
        [sys.executable, str(script), replica.url, "200"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Unclosed" not in result.stderr and "Task was destroyed" not in result.stderr, result.stderr
    _, before, after = result.stdout.split()
    assert int(after) <= int(before), result.stdout
