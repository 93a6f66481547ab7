"""Which of a Space's ``infer`` inputs is which: g4f_flux_plugin._layout, row by row.

One table per function, each row a layout a Space really declares, named
``<layout>-<case>``:

- ``public``: FLUX.1-schnell's six inputs, as its ``/config`` lists them
  (a textbox, slider, checkbox, slider, slider, slider, with its labels);
- ``dev``: FLUX.1-dev's, ``guidance_scale`` between ``height`` and
  ``num_inference_steps``, 28 steps by default;
- ``reordered``: the public inputs in another order with the same component
  types, so that only labels and names tell them apart, and ``steps`` for
  the steps' parameter name.

The ``/info`` parameters are those of Gradio 6.31 and 4.44.1 replicas of the
``dev`` layout (captured: the two generations send the same shape), trimmed
of ``type``, ``python_type`` and ``example_input``, which the client ignores.
"""

from __future__ import annotations

import random

import pytest

from g4f_flux_plugin._config import SpaceConfig, parse_config, with_info
from g4f_flux_plugin._errors import SpaceProtocolError
from g4f_flux_plugin._layout import (
    PUBLIC_LAYOUT,
    Component,
    Layout,
    component_of,
    info_layout,
    public_layout,
)
from g4f_flux_plugin._params import SPACE_LIMITS, Limits, normalise

ROOT = "https://someone-flux.hf.space"


# -- the components, as /config lists them ------------------------------------------
def _slider(label: str, minimum: float, maximum: float, value: float, step: float = 1) -> dict:
    return {
        "type": "slider",
        "props": {"label": label, "minimum": minimum, "maximum": maximum, "step": step, "value": value},
    }


PROMPT = {"type": "textbox", "props": {"label": "Prompt", "show_label": False, "value": ""}}
SEED = _slider("Seed", 0, 2147483647, 0)
RANDOMIZE = {"type": "checkbox", "props": {"label": "Randomize seed", "value": True}}
WIDTH = _slider("Width", 256, 2048, 1024, 32)
HEIGHT = _slider("Height", 256, 2048, 1024, 32)
GUIDANCE = _slider("Guidance Scale", 1, 15, 3.5, 0.1)
STEPS = _slider("Number of inference steps", 1, 50, 4)
DEV_STEPS = _slider("Number of inference steps", 1, 50, 28)

COMPONENTS = {
    "public": [PROMPT, SEED, RANDOMIZE, WIDTH, HEIGHT, STEPS],
    "dev": [PROMPT, SEED, RANDOMIZE, WIDTH, HEIGHT, GUIDANCE, DEV_STEPS],
    "reordered": [PROMPT, WIDTH, RANDOMIZE, SEED, HEIGHT, STEPS],
}


def _components(layout: str) -> list[Component]:
    return [component_of(data) for data in COMPONENTS[layout]]


# -- the parameters, as /info lists them --------------------------------------------
def _parameter(name: str, label: str, default: object, has_default: bool = True) -> dict:
    return {
        "label": label,
        "parameter_name": name,
        "parameter_has_default": has_default,
        "parameter_default": default,
        "component": "Slider",
    }


P_PROMPT = _parameter("prompt", "Prompt", None, has_default=False) | {"component": "Textbox"}
P_SEED = _parameter("seed", "Seed", 0)
P_RANDOMIZE = _parameter("randomize_seed", "Randomize seed", True) | {"component": "Checkbox"}
P_WIDTH = _parameter("width", "Width", 1024)
P_HEIGHT = _parameter("height", "Height", 1024)
P_GUIDANCE = _parameter("guidance_scale", "Guidance Scale", 3.5)
P_STEPS = _parameter("num_inference_steps", "Number of inference steps", 28)


def _info(*parameters: dict, api_name: str = "/infer") -> dict:
    return {
        "named_endpoints": {api_name: {"parameters": list(parameters), "returns": []}},
        "unnamed_endpoints": {},
    }


INFO = {
    "dev": _info(P_PROMPT, P_SEED, P_RANDOMIZE, P_WIDTH, P_HEIGHT, P_GUIDANCE, P_STEPS),
    "reordered": _info(
        P_PROMPT, P_WIDTH, P_RANDOMIZE, P_SEED, P_HEIGHT, _parameter("steps", "Number of inference steps", 4)
    ),
}

REQUEST = normalise("a cat", width=512, height=384, steps=2, seed=7)


# -- component_of -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "component"),
    [
        pytest.param(PROMPT, Component("textbox", "Prompt", value=""), id="public-prompt"),
        pytest.param(WIDTH, Component("slider", "Width", 256, 2048, 1024), id="public-width"),
        pytest.param(GUIDANCE, Component("slider", "Guidance Scale", 1, 15, 3.5), id="dev-guidance"),
        pytest.param(RANDOMIZE, Component("checkbox", "Randomize seed", value=True), id="public-checkbox"),
        pytest.param({"type": "Slider", "props": {}}, Component("slider"), id="any-type-case-blind"),
        pytest.param(
            {"type": "slider", "props": {"minimum": True, "maximum": "9", "label": 3}},
            Component("slider"),
            id="any-not-numbers",
        ),
        pytest.param({"id": 4}, Component(""), id="any-no-type-no-props"),
        pytest.param(None, Component(""), id="any-missing-component"),
    ],
)
def test_component_of(data, component):
    assert component_of(data) == component


# -- public_layout ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("components", "names"),
    [
        pytest.param(
            COMPONENTS["public"],
            ["prompt", "seed", "randomize_seed", "width", "height", "num_inference_steps"],
            id="public",
        ),
        pytest.param(
            [PROMPT | {"props": {"label": " prompt "}}, *COMPONENTS["public"][1:]],
            ["prompt", "seed", "randomize_seed", "width", "height", "num_inference_steps"],
            id="public-labels-case-blind",
        ),
        pytest.param(COMPONENTS["dev"], None, id="dev-seven-inputs"),
        pytest.param(COMPONENTS["reordered"], None, id="reordered-same-types-other-labels"),
        pytest.param(COMPONENTS["public"][:5], None, id="public-one-missing"),
        pytest.param([*COMPONENTS["public"][:5], _slider("Guidance", 1, 50, 4)], None, id="other-last-label"),
        pytest.param(
            [{"type": c["type"], "props": {}} for c in COMPONENTS["public"]],
            None,
            id="public-types-no-labels",
        ),
        pytest.param([RANDOMIZE, *COMPONENTS["public"][1:]], None, id="other-type"),
    ],
)
def test_public_layout(components, names):
    layout = public_layout([component_of(data) for data in components])
    assert (None if layout is None else [item.name for item in layout.inputs]) == names


def test_the_public_layout_keeps_each_components_value_as_its_default():
    layout = public_layout(_components("public"))
    assert layout is not None
    assert [item.default for item in layout.inputs] == ["", 0, True, 1024, 1024, 4]
    assert [item.role for item in layout.inputs] == [item.role for item in PUBLIC_LAYOUT.inputs]


# -- info_layout --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("info", "layout", "roles", "defaults"),
    [
        pytest.param(
            INFO["dev"],
            "dev",
            ["prompt", "seed", "randomize_seed", "width", "height", None, "steps"],
            ["", 0, True, 1024, 1024, 3.5, 28],
            id="dev",
        ),
        pytest.param(
            INFO["reordered"],
            "reordered",
            ["prompt", "width", "randomize_seed", "seed", "height", "steps"],
            ["", 1024, True, 0, 1024, 4],
            id="reordered-steps-alias",
        ),
        pytest.param(
            _info(
                P_PROMPT,
                P_SEED,
                P_RANDOMIZE,
                P_WIDTH,
                P_HEIGHT,
                P_GUIDANCE | {"parameter_has_default": False},
                P_STEPS,
            ),
            "dev",
            ["prompt", "seed", "randomize_seed", "width", "height", None, "steps"],
            ["", 0, True, 1024, 1024, 3.5, 28],
            id="dev-no-parameter-default-the-components-value",
        ),
        pytest.param(
            _info(
                P_PROMPT | {"parameter_name": "Text"},
                P_SEED,
                P_RANDOMIZE,
                P_WIDTH,
                P_HEIGHT,
                P_GUIDANCE,
                P_STEPS | {"parameter_name": "num_steps"},
            ),
            "dev",
            ["prompt", "seed", "randomize_seed", "width", "height", None, "steps"],
            ["", 0, True, 1024, 1024, 3.5, 28],
            id="dev-aliases-case-blind",
        ),
        pytest.param(
            _info(P_PROMPT, P_SEED, P_RANDOMIZE, P_WIDTH, P_HEIGHT, P_GUIDANCE, P_STEPS),
            None,
            ["prompt", "seed", "randomize_seed", "width", "height", None, "steps"],
            [None, 0, True, 1024, 1024, 3.5, 28],
            id="dev-no-components-in-config",
        ),
    ],
)
def test_info_layout(info, layout, roles, defaults):
    found = info_layout(info, _components(layout) if layout else [])
    assert [item.role for item in found.inputs] == roles
    assert [item.default for item in found.inputs] == defaults
    assert found.missing == ()


@pytest.mark.parametrize(
    ("info", "layout", "words"),
    [
        pytest.param(
            _info(_parameter("text_input", "Text", ""), P_SEED, P_RANDOMIZE, P_WIDTH, P_HEIGHT, P_STEPS),
            "public",
            "has no input for prompt (its inputs: text_input, seed, randomize_seed, width, height, "
            "num_inference_steps)",
            id="other-no-prompt",
        ),
        pytest.param(
            INFO["dev"], "public", "/info lists 7 inputs for /infer and its /config 6", id="dev-vs-public"
        ),
        pytest.param(
            _info(P_PROMPT, api_name="/run"),
            "public",
            "does not describe the inputs of /infer",
            id="no-infer",
        ),
        pytest.param({"named_endpoints": {"/infer": {}}}, "public", "does not describe", id="no-parameters"),
        pytest.param([], "public", "does not describe", id="not-an-object"),
        pytest.param(
            _info({"label": "Prompt"}),
            None,
            "has no input for prompt (its inputs: (unnamed))",
            id="gradio-without-parameter-names",
        ),
    ],
)
def test_info_layout_refuses(info, layout, words):
    with pytest.raises(SpaceProtocolError) as caught:
        info_layout(info, _components(layout) if layout else [])
    assert words in str(caught.value)


# -- Layout.data --------------------------------------------------------------------
def _layout(name: str) -> Layout:
    if name == "public":
        found = public_layout(_components("public"))
        assert found is not None
        return found
    return info_layout(INFO[name], _components(name))


@pytest.mark.parametrize(
    ("layout", "request_", "data"),
    [
        pytest.param("public", REQUEST, ["a cat", 7, False, 512, 384, 2], id="public"),
        pytest.param("dev", REQUEST, ["a cat", 7, False, 512, 384, 3.5, 2], id="dev-guidance-keeps-default"),
        pytest.param("reordered", REQUEST, ["a cat", 512, False, 7, 384, 2], id="reordered"),
        pytest.param(
            "dev", normalise("a cat"), ["a cat", 0, True, 1024, 1024, 3.5, 4], id="dev-no-seed-randomize"
        ),
    ],
)
def test_layout_data(layout, request_, data):
    assert _layout(layout).data(request_) == data


def test_public_layout_data_is_the_requests_own_order():
    # ImageRequest.data() is the public order: the two must never drift apart.
    for request in (REQUEST, normalise("x", seed=None), normalise("y", seed=3, randomize_seed=True)):
        assert _layout("public").data(request) == request.data() == PUBLIC_LAYOUT.data(request)


def test_two_inputs_of_one_role_the_first_gets_the_value():
    info = _info(P_PROMPT, P_STEPS | {"parameter_name": "steps"}, P_STEPS)
    layout = info_layout(info, [])
    assert layout.data(REQUEST) == ["a cat", 2, 28]


@pytest.mark.parametrize(
    ("request_", "seed"),
    [
        pytest.param(
            normalise("a cat", seed=None), random.Random(5).randint(0, 2147483647), id="no-seed-drawn"
        ),
        pytest.param(normalise("a cat", seed=9), 9, id="a-seed-as-given"),
    ],
)
def test_a_layout_without_randomize_seed(request_, seed):
    layout = info_layout(_info(P_PROMPT, P_SEED), [])
    assert layout.data(request_, rng=random.Random(5)) == ["a cat", seed]


# -- Layout.limits ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("layout", "limits"),
    [
        pytest.param("public", SPACE_LIMITS, id="public"),
        pytest.param("dev", Limits(default_steps=28), id="dev-28-steps"),
        pytest.param("reordered", SPACE_LIMITS, id="reordered-by-name"),
    ],
)
def test_layout_limits(layout, limits):
    assert _layout(layout).limits() == limits


def test_limits_come_from_each_inputs_own_component():
    components = [
        component_of(c)
        for c in (
            PROMPT,
            _slider("Height", 512, 1024, 768, 64),
            _slider("Steps", 2, 8, 6),
            _slider("Width", 384, 1536, 640, 64),
            _slider("Seed", 0, 1000, 0),
        )
    ]
    info = _info(P_PROMPT, P_HEIGHT, P_STEPS | {"parameter_name": "steps"}, P_WIDTH, P_SEED)
    limits = info_layout(info, components).limits()
    assert limits == Limits(
        min_size=512,
        max_size=1024,
        default_size=640,
        min_steps=2,
        max_steps=8,
        default_steps=6,
        max_seed=1000,
    )
    # A layout without a steps input keeps the defaults of the base.
    assert info_layout(_info(P_PROMPT), []).limits() == SPACE_LIMITS


# -- parse_config and with_info -----------------------------------------------------
def _config(layout: str, *, dependencies: bool = True) -> SpaceConfig:
    components = [{"id": 10 + index, **data} for index, data in enumerate(COMPONENTS[layout])]
    dependency = {
        "id": 2,
        "api_name": "infer",
        "targets": [[5, "click"]],
        "inputs": [c["id"] for c in components],
        "outputs": [],
    }
    data = {
        "version": "6.31.0",
        "api_prefix": "/gradio_api",
        "protocol": "sse_v3",
        "components": components,
        "dependencies": [dependency] if dependencies else [],
    }
    return parse_config(ROOT, data)


@pytest.mark.parametrize(
    ("layout", "needs_info", "limits"),
    [
        pytest.param("public", False, SPACE_LIMITS, id="public-config-alone"),
        pytest.param("dev", True, SPACE_LIMITS, id="dev-needs-info"),
        pytest.param("reordered", True, SPACE_LIMITS, id="reordered-needs-info"),
    ],
)
def test_parse_config_layouts(layout, needs_info, limits):
    config = _config(layout)
    assert config.needs_info is needs_info
    assert config.limits == limits
    assert len(config.components) == len(COMPONENTS[layout])


def test_parse_config_without_an_infer_dependency_keeps_the_public_order():
    config = _config("dev", dependencies=False)
    assert config.needs_info is False and config.layout == PUBLIC_LAYOUT
    assert config.data(REQUEST) == REQUEST.data()


@pytest.mark.parametrize(
    ("layout", "data", "default_steps"),
    [
        pytest.param("dev", ["a cat", 7, False, 512, 384, 3.5, 2], 28, id="dev"),
        pytest.param("reordered", ["a cat", 512, False, 7, 384, 2], 4, id="reordered"),
    ],
)
def test_with_info(layout, data, default_steps):
    config = with_info(_config(layout), INFO[layout])
    assert config.needs_info is False
    assert config.data(REQUEST) == data
    assert config.limits.default_steps == default_steps
    # The routes are the config's own.
    assert (config.fn_index, config.api_prefix) == (2, "/gradio_api")
