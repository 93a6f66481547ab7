"""Model routing: ``images.generate(prompt, model="flux-schnell")`` with no provider.

The plugin's provider must come first, in an unshuffled chain that still ends
in what g4f used for that model before (``PollinationsImage``, its default
image provider).  Fresh interpreters as in test_registry.py; the tests that
generate an image use the session's Gradio replica (conftest.py).
"""

from __future__ import annotations

import json
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from g4f_subprocess import PROVIDER, G4FProcess, one_provider_plugin
from launch import ServerProcess, StartError, free_port

MODEL = "flux-schnell"
FALLBACK = "PollinationsImage"

# Prints the provider names of a model's chain as resolved by g4f.client, and
# whether g4f would shuffle them.
CHAIN = """
    import json
    from g4f.client import Client
    from g4f.models import ModelUtils
    handler = Client().models.get({model!r}, "no route")
    providers = handler.get_providers() if hasattr(handler, "get_providers") else [handler]
    print(json.dumps({{
        "chain": [getattr(p, "__name__", p) for p in providers],
        "shuffle": getattr(handler, "shuffle", None),
        "listed": {model!r} in ModelUtils.convert,
    }}))
"""


def test_flux_schnell_tries_the_plugin_first_then_g4f_default(proc):
    state = proc.json(CHAIN.format(model=MODEL))
    assert state == {"chain": [PROVIDER, FALLBACK], "shuffle": False, "listed": True}


def test_order_is_stable_across_calls(proc):
    # IterListProvider shuffles unless told not to: ask many times.
    orders = proc.json(f"""
        import json
        from g4f.models import ModelUtils
        chain = ModelUtils.convert["{MODEL}"].best_provider
        orders = {{tuple(p.__name__ for p in chain.get_providers()) for _ in range(50)}}
        print(json.dumps(sorted(orders)))
    """)
    assert orders == [[PROVIDER, FALLBACK]]


def test_without_the_plugin_flux_schnell_goes_to_g4f_default(proc):
    # The control for the tests above: g4f alone does not know the model.
    state = proc.json(CHAIN.format(model=MODEL), env={"G4F_FLUX_NO_AUTOLOAD": "1"})
    assert state == {"chain": ["no route"], "shuffle": None, "listed": False}


def test_g4f_flux_model_is_left_alone(proc):
    # Decision: g4f's own "flux" chain is not taken over (see _registry's docstring).
    with_plugin = proc.json(CHAIN.format(model="flux"))
    without = proc.json(CHAIN.format(model="flux"), env={"G4F_FLUX_NO_AUTOLOAD": "1"})
    assert PROVIDER not in with_plugin["chain"]
    assert sorted(with_plugin["chain"]) == sorted(without["chain"])
    assert with_plugin["shuffle"] == without["shuffle"]


def test_route_model_prepends_to_an_existing_model_and_keeps_its_chain(proc, tmp_path):
    plugins = one_provider_plugin(tmp_path / "plugins", "fakeplug", "FakeFlux")
    state = proc.json(
        """
        import json
        from g4f.models import ModelUtils
        flux = ModelUtils.convert["flux"]
        before = [getattr(p, "__name__", p) for p in flux.best_provider.providers]
        from g4f_flux_plugin._registry import route_model
        from g4f.Provider import FakeFlux
        route_model("flux", FakeFlux)
        chain = ModelUtils.convert["flux"].best_provider
        print(json.dumps({
            "before": before,
            "after": [getattr(p, "__name__", p) for p in chain.providers],
            "resolved_first": chain.get_providers()[0].__name__,
            "shuffle": chain.shuffle,
        }))
    """,
        pythonpath=[plugins],
    )
    assert state["after"] == ["FakeFlux", *state["before"]]
    assert state["resolved_first"] == "FakeFlux"
    assert state["shuffle"] is False


# --- through a real image server (the replica) --------------------------------


def _generate(proc: G4FProcess, url: str, prompt: str, **kwargs) -> dict:
    return proc.json(
        f"""
        import json
        from g4f.client import Client
        response = Client().images.generate({prompt!r}, response_format="url", **{kwargs!r})
        print(json.dumps({{"provider": response.provider, "url": response.data[0].url}}))
    """,
        env={"G4F_FLUX_SCHNELL_URL": url},
        timeout=180,
    )


@pytest.mark.parametrize("by", [{"model": MODEL}, {"provider": PROVIDER}], ids=["model", "provider name"])
def test_generate_reaches_the_plugin(proc, replica, by):
    prompt = f"a cat routed by {next(iter(by))} {uuid.uuid4().hex}"
    result = _generate(proc, replica.url, prompt, **by)
    assert result["provider"] == PROVIDER
    assert result["url"].startswith(replica.url)
    assert [job["prompt"] for job in replica.jobs()].count(prompt) == 1


def test_generate_falls_back_to_g4f_default_when_the_plugin_fails(proc):
    # The plugin's Space is unreachable (a closed port); g4f's default image
    # provider, stubbed so that nothing leaves the machine, must answer.
    state = proc.json(
        f"""
        import json, socket
        from g4f.Provider import PollinationsImage
        from g4f.providers.response import ImageResponse

        async def offline(cls, model, messages, **kwargs):
            yield ImageResponse("https://fallback.invalid/cat.png", "a cat")
        PollinationsImage.create_async_generator = classmethod(offline)

        from g4f.client import Client
        response = Client().images.generate("a cat", model="{MODEL}", response_format="url")
        print(json.dumps({{"provider": response.provider, "url": response.data[0].url}}))
    """,
        env={"G4F_FLUX_SCHNELL_URL": "http://127.0.0.1:9"},
        timeout=180,
    )
    assert state == {"provider": FALLBACK, "url": "https://fallback.invalid/cat.png"}


# --- g4f's own API server, started from its console script ---------------------


def _http_json(url: str, body: dict | None = None, timeout: float = 120):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


@pytest.fixture
def g4f_api(proc, replica):
    """``g4f api`` (the console script, no user code) with the Space set to the replica."""
    script = Path(sys.executable).with_name("g4f")
    if not script.exists():
        pytest.fail(f"g4f's console script is not next to {sys.executable}", pytrace=False)
    port = free_port()
    server = ServerProcess(
        [script, "api", "--bind", f"127.0.0.1:{port}", "--disable-pa-auto-download", "--no-gui"],
        log_path=proc.root / "g4f-api.log",
        env=proc.env({"G4F_FLUX_SCHNELL_URL": replica.url}),
        cwd=proc.cwd,
        name="g4f api",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            server.wait_ready(url=base + "/v1/providers", timeout=90)
        except StartError as error:
            pytest.fail(str(error), pytrace=False)
        yield base
    finally:
        server.stop()


def test_g4f_api_server_registers_the_plugin_and_routes_the_model(g4f_api, replica):
    providers = [p["id"] for p in _http_json(g4f_api + "/v1/providers")]
    assert PROVIDER in providers
    prompt = f"a cat through g4f api {uuid.uuid4().hex}"
    result = _http_json(
        g4f_api + "/v1/images/generations", {"prompt": prompt, "model": MODEL, "response_format": "url"}
    )
    assert result["provider"] == PROVIDER
    assert result["data"][0]["url"].startswith(replica.url)
    assert [job["prompt"] for job in replica.jobs()].count(prompt) == 1
