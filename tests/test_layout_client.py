"""What the client requests for each ``infer`` layout, without a socket.

:class:`MockTransport` plays a Space whose ``/config`` and ``/info`` are the
rows of ``tests/test_layout.py``: the public layout costs no request beyond
``/config``; any other reads ``/info`` once per root, cached with the config,
and again when a stale config is rediscovered; a layout without a prompt is
refused before anything is submitted. The replica tests
(``tests/test_layout_replica.py``) are the proof against a real Gradio.
"""

from __future__ import annotations

import pytest
from test_client_mock import ROOT, FakeSpace, client, paths, sse
from test_layout import COMPONENTS, INFO, _info, _parameter

from g4f_flux_plugin import MockResponse
from g4f_flux_plugin._config import ConfigCache, parse_config
from g4f_flux_plugin._errors import SpaceProtocolError

SUBMIT = "POST /gradio_api/call/infer"
STREAM = "GET /gradio_api/call/infer/e1"


def layout_config(layout: str) -> dict:
    """A Gradio 6 ``/config`` whose ``infer`` (fn 2) has ``layout``'s inputs."""
    components = [{"id": 10 + index, **data} for index, data in enumerate(COMPONENTS[layout])]
    return {
        "version": "6.31.0",
        "api_prefix": "/gradio_api",
        "protocol": "sse_v3",
        "enable_queue": True,
        "components": [{"id": 5, "type": "button", "props": {"value": "Run"}}, *components],
        "dependencies": [
            {"id": 0, "api_name": "load_example", "targets": [[5, "click"]], "inputs": [], "outputs": []},
            {"id": 1, "api_name": "other", "targets": [[5, "click"]], "inputs": [], "outputs": []},
            {
                "id": 2,
                "api_name": "infer",
                "targets": [[5, "click"]],
                "inputs": [c["id"] for c in components],
                "outputs": [],
            },
        ],
    }


class LayoutSpace(FakeSpace):
    """:class:`FakeSpace` with ``layout``'s ``/config`` and ``/info``."""

    def __init__(self, layout: str, info: object = None, **answers: list) -> None:
        super().__init__(**answers)
        self.layout = layout
        self.info = INFO.get(layout) if info is None else info

    def __call__(self, request) -> MockResponse:
        path = request.url[len(ROOT) :].split("?")[0]
        if path == "/config":
            return MockResponse(200, json=layout_config(self.layout))
        if path == "/gradio_api/info":
            return MockResponse(200, json=self.info) if self.info else MockResponse(404)
        return super().__call__(request)


def submitted(transport) -> list[list]:
    return [r.json()["data"] for r in transport.requests if r.url.endswith("/call/infer")]


async def test_the_public_layout_costs_only_config_before_the_submission():
    flux, transport = client(LayoutSpace("public"))
    await flux.image("a fox", seed=7, width=512, height=384, steps=2)
    assert paths(transport) == ["GET /config", SUBMIT, STREAM]
    assert submitted(transport) == [["a fox", 7, False, 512, 384, 2]]


@pytest.mark.parametrize(
    ("layout", "data", "default_steps"),
    [
        pytest.param("dev", ["a fox", 7, False, 512, 384, 3.5, 2], 28, id="dev"),
        pytest.param("reordered", ["a fox", 512, False, 7, 384, 2], 4, id="reordered"),
    ],
)
async def test_another_layout_reads_info_once_per_root(layout, data, default_steps):
    cache = ConfigCache()
    flux, transport = client(LayoutSpace(layout), config_cache=cache)
    await flux.image("a fox", seed=7, width=512, height=384, steps=2)
    await flux.image("a fox", seed=7)  # the Space's own defaults
    assert paths(transport) == ["GET /config", "GET /gradio_api/info", SUBMIT, STREAM, SUBMIT, STREAM]
    first, second = submitted(transport)
    assert first == data
    steps_at = -1  # both layouts put the steps last
    assert second[steps_at] == default_steps
    assert cache.get(ROOT).limits.default_steps == default_steps


async def test_a_layout_without_a_prompt_is_refused_before_any_submission():
    info = _info(
        _parameter("text_input", "Text", ""),
        *INFO["reordered"]["named_endpoints"]["/infer"]["parameters"][1:],
    )
    cache = ConfigCache()
    flux, transport = client(LayoutSpace("reordered", info=info), config_cache=cache)
    with pytest.raises(SpaceProtocolError) as caught:
        await flux.image("a fox", seed=7)
    assert "no input for prompt" in str(caught.value) and "text_input" in str(caught.value)
    assert paths(transport) == ["GET /config", "GET /gradio_api/info"]
    assert ROOT not in cache  # an unusable layout is not remembered


async def test_a_stale_layout_is_rediscovered_with_its_info():
    # The cache holds the public layout; the Space now has FLUX.1-dev's, at the
    # same fn_index: the first job fails there, a fresh /config and /info
    # explain why, and the job goes again in the new order.
    cache = ConfigCache()
    cache.put(parse_config(ROOT, layout_config("public")))
    failed = MockResponse(
        200,
        chunks=sse(("error", {"error": "Value 3.5 is not valid", "title": "Error"})),
        headers={"content-type": "text/event-stream"},
    )
    done = MockResponse(
        200, chunks=sse(("complete", FakeSpace().file(7))), headers={"content-type": "text/event-stream"}
    )
    flux, transport = client(LayoutSpace("dev", **{"/call/infer/e1": [failed, done]}), config_cache=cache)
    image = await flux.image("a fox", seed=7, width=512, height=384, steps=2)
    assert image.seed == 7
    assert paths(transport) == [SUBMIT, STREAM, "GET /config", "GET /gradio_api/info", SUBMIT, STREAM]
    assert submitted(transport) == [["a fox", 7, False, 512, 384, 2], ["a fox", 7, False, 512, 384, 3.5, 2]]
    assert cache.get(ROOT).limits.default_steps == 28


async def test_an_unreadable_info_is_said_before_any_submission():
    flux, transport = client(LayoutSpace("dev", info={"named_endpoints": {}}))
    with pytest.raises(SpaceProtocolError, match="does not describe the inputs of /infer"):
        await flux.image("a fox", seed=7)
    assert SUBMIT not in paths(transport)
