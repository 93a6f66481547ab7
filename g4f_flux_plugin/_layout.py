"""Matching a Space's ``infer`` inputs to a request, by parameter name.

Pure: no I/O. A Space's ``infer`` declares its inputs twice: ``/config``
lists the dependency's input components (type, label, ranges, value) in
order, and ``/info`` lists the same inputs with the parameter names of the
Python function (``named_endpoints["/infer"].parameters[]``: ``label``,
``parameter_name``, ``parameter_has_default``, ``parameter_default``, the
same shape on Gradio 4.44 and 6). gradio_client's ``predict(**kwargs)`` maps
by these names, and so does this client:

- the public Space's layout (six inputs: a textbox, slider, checkbox, slider,
  slider, slider, labelled as on the Space) is recognised from ``/config``
  alone (:func:`public_layout`), so the common case costs no extra request;
- any other layout is read from ``/info`` (:func:`info_layout`): each input
  whose name (or an alias, :data:`ALIASES`) is one the client knows gets the
  request's value; any other keeps the Space's own default.

The ranges and defaults of each known input come from its component, by
name (:meth:`Layout.limits`): on FLUX.1-dev's layout the default steps are 28.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from ._errors import SpaceProtocolError
from ._params import SPACE_LIMITS, ImageRequest, Limits

__all__ = [
    "ALIASES",
    "PUBLIC_LAYOUT",
    "REQUIRED",
    "Component",
    "Input",
    "Layout",
    "Role",
    "component_of",
    "info_layout",
    "public_layout",
]

#: What the client sends to an input: the request's value of that name.
Role = Literal["prompt", "seed", "randomize_seed", "width", "height", "steps"]
ROLES: tuple[Role, ...] = get_args(Role)

#: Parameter names (compared lower-cased) and the role each plays. The
#: public Space's names come first; the others are names Spaces built on
#: FLUX pipelines use for the same inputs.
ALIASES: Mapping[str, Role] = {
    "prompt": "prompt",
    "seed": "seed",
    "randomize_seed": "randomize_seed",
    "width": "width",
    "height": "height",
    "num_inference_steps": "steps",
    "text": "prompt",
    "prompt_text": "prompt",
    "random_seed": "randomize_seed",
    "randomize": "randomize_seed",
    "steps": "steps",
    "num_steps": "steps",
    "inference_steps": "steps",
}

#: The roles without which a request cannot be sent at all.
REQUIRED: tuple[Role, ...] = ("prompt",)

# The public Space's inputs, in order: (parameter name, component type, label).
_PUBLIC: tuple[tuple[str, str, str], ...] = (
    ("prompt", "textbox", "Prompt"),
    ("seed", "slider", "Seed"),
    ("randomize_seed", "checkbox", "Randomize seed"),
    ("width", "slider", "Width"),
    ("height", "slider", "Height"),
    ("num_inference_steps", "slider", "Number of inference steps"),
)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Component:
    """What ``/config`` says of one input component."""

    type: str
    label: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    #: The component's initial value (any JSON); not hashed, it may be a list.
    value: object = field(default=None, hash=False)


def component_of(data: object) -> Component:
    """A :class:`Component` from one entry of ``/config``'s ``components``."""
    if not isinstance(data, Mapping):
        return Component(type="")
    props = data.get("props")
    props = props if isinstance(props, Mapping) else {}
    kind, label = data.get("type"), props.get("label")
    return Component(
        type=kind.lower() if isinstance(kind, str) else "",
        label=label if isinstance(label, str) else None,
        minimum=_number(props.get("minimum")),
        maximum=_number(props.get("maximum")),
        value=props.get("value"),
    )


@dataclass(frozen=True)
class Input:
    """One declared input of ``infer``: its name, the role the client gives
    it (``None``: it keeps ``default``), the Space's default and its component."""

    name: str
    role: Role | None
    default: object = field(default=None, hash=False)
    component: Component = Component(type="")


@dataclass(frozen=True)
class Layout:
    """``infer``'s inputs in the order the Space declares them."""

    inputs: tuple[Input, ...]

    def find(self, role: Role) -> Input | None:
        """The input playing ``role`` (the first, if a Space has two), or ``None``."""
        return next((item for item in self.inputs if item.role == role), None)

    @property
    def missing(self) -> tuple[Role, ...]:
        """The required roles no input plays."""
        return tuple(role for role in REQUIRED if self.find(role) is None)

    def data(self, request: ImageRequest, rng: random.Random | None = None) -> list[object]:
        """The ``data`` list of a submission: each input's value, in order.

        A request that leaves the seed to the Space, sent to a Space with a
        seed input but no ``randomize_seed``, gets a seed drawn from ``rng``
        here: sending a fixed one would make every image the same.
        """
        seed: object = request.seed
        if seed is None:
            seed = 0
            if (
                request.randomize_seed
                and self.find("randomize_seed") is None
                and self.find("seed") is not None
            ):
                seed = (rng or random.SystemRandom()).randint(0, self.limits().max_seed)
        values: dict[Role, object] = {
            "prompt": request.prompt,
            "seed": seed,
            "randomize_seed": request.randomize_seed,
            "width": request.width,
            "height": request.height,
            "steps": request.steps,
        }
        played: set[Role] = set()
        data: list[object] = []
        for item in self.inputs:
            if item.role is not None and item.role not in played:
                played.add(item.role)
                data.append(values[item.role])
            else:
                data.append(item.default)
        return data

    def limits(self, base: Limits = SPACE_LIMITS) -> Limits:
        """The ranges and defaults of the known inputs, read from their
        components by name; ``base``'s where the Space does not say."""

        def number(role: Role, key: Literal["minimum", "maximum", "value"], fallback: int) -> int:
            item = self.find(role)
            if item is None:
                return fallback
            value = _number(item.component.value) if key == "value" else getattr(item.component, key)
            return int(value) if value is not None else fallback

        return Limits(
            min_size=max(
                number("width", "minimum", base.min_size), number("height", "minimum", base.min_size)
            ),
            max_size=min(
                number("width", "maximum", base.max_size), number("height", "maximum", base.max_size)
            ),
            default_size=number("width", "value", base.default_size),
            min_steps=max(1, number("steps", "minimum", base.min_steps)),
            max_steps=number("steps", "maximum", base.max_steps),
            default_steps=number("steps", "value", base.default_steps),
            max_seed=number("seed", "maximum", base.max_seed),
        )


def _role(name: str) -> Role | None:
    return ALIASES.get(name.strip().lower())


#: The public Space's layout with its published defaults: what a Space whose
#: ``/config`` names no ``infer`` dependency is sent (by position, as ever).
PUBLIC_LAYOUT = Layout(
    tuple(
        Input(name, _role(name), component=Component(type=kind, label=label)) for name, kind, label in _PUBLIC
    )
)


def public_layout(components: Sequence[Component]) -> Layout | None:
    """The layout of ``infer``'s input ``components`` if they are the public
    Space's (same count, types and labels, in order), else ``None``: then
    only ``/info`` can tell which input is which."""
    if len(components) != len(_PUBLIC):
        return None
    for component, (_, kind, label) in zip(components, _PUBLIC, strict=True):
        if component.type != kind or (component.label or "").strip().lower() != label.lower():
            return None
    return Layout(
        tuple(
            Input(name, _role(name), default=component.value, component=component)
            for component, (name, _, _) in zip(components, _PUBLIC, strict=True)
        )
    )


def _parameters(info: object, api_name: str) -> list[object]:
    endpoints = info.get("named_endpoints") if isinstance(info, Mapping) else None
    endpoint = endpoints.get(f"/{api_name}") if isinstance(endpoints, Mapping) else None
    parameters = endpoint.get("parameters") if isinstance(endpoint, Mapping) else None
    if not isinstance(parameters, list):
        raise SpaceProtocolError(f"the Space's /info does not describe the inputs of /{api_name}")
    return parameters


def info_layout(info: object, components: Sequence[Component], api_name: str = "infer") -> Layout:
    """The layout of ``infer`` from the JSON of ``GET {prefix}/info`` and its
    input ``components`` from ``/config`` (the same inputs, in the same order).

    Raises :class:`SpaceProtocolError` when the two disagree on the number of
    inputs, or when an input the request needs (:data:`REQUIRED`) is missing.
    """
    parameters = _parameters(info, api_name)
    if components and len(parameters) != len(components):
        raise SpaceProtocolError(
            f"the Space's /info lists {len(parameters)} inputs for /{api_name} and its /config {len(components)}"
        )
    inputs = []
    for index, parameter in enumerate(parameters):
        entry = parameter if isinstance(parameter, Mapping) else {}
        name = entry.get("parameter_name")
        name = name if isinstance(name, str) else ""
        component = components[index] if components else Component(type="")
        # parameter_default is the component's value on Gradio 4.44 and 6;
        # where /info gives none, the component's own value stands.
        default = entry.get("parameter_default") if entry.get("parameter_has_default") else component.value
        inputs.append(Input(name, _role(name), default=default, component=component))
    layout = Layout(tuple(inputs))
    if layout.missing:
        declared = ", ".join(item.name or "(unnamed)" for item in layout.inputs) or "none"
        raise SpaceProtocolError(
            f"the Space's /{api_name} has no input for {', '.join(layout.missing)} "
            f"(its inputs: {declared}); it is not a text-to-image endpoint this client can call"
        )
    return layout
