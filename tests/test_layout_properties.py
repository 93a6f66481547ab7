"""Properties of matching inputs by name (g4f_flux_plugin._layout).

Whatever the order of ``infer``'s inputs, whichever alias names each, and
whatever unknown inputs sit between them, every value lands at the position
of the input of its name, and every unknown input keeps its default.
"""

from __future__ import annotations

from hypothesis import example, given, strategies as st

from g4f_flux_plugin._layout import ALIASES, info_layout
from g4f_flux_plugin._params import normalise

#: Each role's names, for drawing one of them.
NAMES: dict[str, list[str]] = {}
for alias, role in ALIASES.items():
    NAMES.setdefault(role, []).append(alias)

UNKNOWN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda name: name not in ALIASES
)


@st.composite
def layouts(draw: st.DrawFn) -> list[tuple[str, str | None, object]]:
    """(parameter name, role or None, default) per input, in the Space's order."""
    roles = draw(st.permutations(sorted(NAMES)))
    inputs: list[tuple[str, str | None, object]] = [
        (draw(st.sampled_from(NAMES[role])), role, None) for role in roles
    ]
    for default in draw(
        st.lists(st.one_of(st.integers(), st.floats(allow_nan=False), st.text()), max_size=3)
    ):
        inputs.insert(draw(st.integers(0, len(inputs))), (draw(UNKNOWN), None, default))
    return inputs


def _info(inputs: list[tuple[str, str | None, object]]) -> dict:
    parameters = [
        {"parameter_name": name, "parameter_has_default": True, "parameter_default": default}
        for name, _, default in inputs
    ]
    return {"named_endpoints": {"/infer": {"parameters": parameters}}}


@given(layouts(), st.integers(0, 2147483647), st.booleans())
@example([("steps", "steps", None), ("prompt", "prompt", None), ("guidance_scale", None, 3.5)], 7, False)
def test_every_value_lands_at_its_names_position(inputs, seed, randomize):
    request = normalise("a fox", width=512, height=384, steps=2, seed=seed, randomize_seed=randomize)
    data = info_layout(_info(inputs), []).data(request)
    expected = {
        "prompt": "a fox",
        "seed": seed,
        "randomize_seed": randomize,
        "width": 512,
        "height": 384,
        "steps": 2,
    }
    assert len(data) == len(inputs)
    for value, (_, role, default) in zip(data, inputs, strict=True):
        assert value == (expected[role] if role is not None else default)
