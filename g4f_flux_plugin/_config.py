"""Reading a Gradio app's ``/config``: routes, the ``infer`` endpoint, ranges.

Nothing is hard-coded that the Space can tell us: ``api_prefix`` is
``/gradio_api`` on Gradio 5 and later and absent on Gradio 4; ``fn_index``
and ``trigger_id`` move whenever the Space adds a dependency before ``infer``
(on the public Space they have been 2 and 5); the sliders' ranges are read
from the components so clamping follows the Space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._errors import SpaceProtocolError
from ._params import SPACE_LIMITS, Limits

__all__ = ["MODEL_NAME", "PUBLIC_SPACE_URL", "ConfigCache", "SpaceConfig", "parse_config"]

#: The root of the public Space black-forest-labs/FLUX.1-schnell.
PUBLIC_SPACE_URL = "https://black-forest-labs-flux-1-schnell.hf.space"
#: The model's name, as g4f and the files' metadata call it.
MODEL_NAME = "black-forest-labs-flux-1-schnell"

# Queue protocols whose messages this client reads (Gradio 4.x late and later).
QUEUE_PROTOCOLS = frozenset({"sse_v3"})


@dataclass(frozen=True)
class SpaceConfig:
    """What the client needs from ``/config``."""

    root: str
    api_prefix: str
    version: str | None
    protocol: str | None
    enable_queue: bool
    fn_index: int | None
    trigger_id: int | None
    limits: Limits

    def url(self, path: str) -> str:
        """An API route of this Space, e.g. ``url("/call/infer")``."""
        return f"{self.root}{self.api_prefix}{path}"

    @property
    def supports_queue(self) -> bool:
        """Whether the queue protocol can reach ``infer`` on this Space."""
        return self.enable_queue and self.protocol in QUEUE_PROTOCOLS and self.fn_index is not None


def _number(props: dict[str, Any], key: str, fallback: int) -> int:
    value = props.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else fallback


def _limits(inputs: list[int], components: dict[int, dict[str, Any]]) -> Limits:
    """Ranges from the ``infer`` inputs: [prompt, seed, randomize, width, height, steps]."""
    props = [components.get(component_id, {}).get("props") or {} for component_id in inputs]
    if len(props) < 6:
        return SPACE_LIMITS
    seed, width, height, steps = props[1], props[3], props[4], props[5]
    base = SPACE_LIMITS
    return Limits(
        min_size=max(_number(width, "minimum", base.min_size), _number(height, "minimum", base.min_size)),
        max_size=min(_number(width, "maximum", base.max_size), _number(height, "maximum", base.max_size)),
        default_size=_number(width, "value", base.default_size),
        min_steps=max(1, _number(steps, "minimum", base.min_steps)),
        max_steps=_number(steps, "maximum", base.max_steps),
        default_steps=_number(steps, "value", base.default_steps),
        max_seed=_number(seed, "maximum", base.max_seed),
    )


def _trigger(dependency: dict[str, Any]) -> int | None:
    targets = dependency.get("targets") or []
    first = targets[0] if targets else None
    if isinstance(first, (list, tuple)) and first and isinstance(first[0], int):
        return first[0]  # Gradio 4+: [[component_id, "click"], ...]
    return first if isinstance(first, int) else None  # Gradio 3: [component_id, ...]


def parse_config(root: str, data: Any, api_name: str = "infer") -> SpaceConfig:
    """Build a :class:`SpaceConfig` from the JSON of ``GET {root}/config``."""
    if not isinstance(data, dict):
        raise SpaceProtocolError("the Space's /config is not a JSON object")
    prefix = data.get("api_prefix") or ""
    if not isinstance(prefix, str):
        raise SpaceProtocolError("the Space's /config has an invalid api_prefix")
    prefix = ("/" + prefix.strip("/")) if prefix.strip("/") else ""
    components = {
        component["id"]: component
        for component in data.get("components") or []
        if isinstance(component, dict) and isinstance(component.get("id"), int)
    }
    fn_index = trigger_id = None
    limits = SPACE_LIMITS
    for index, dependency in enumerate(data.get("dependencies") or []):
        if isinstance(dependency, dict) and str(dependency.get("api_name") or "").lstrip("/") == api_name:
            dependency_id = dependency.get("id", index)  # no "id" before Gradio 4.?: the index
            fn_index = dependency_id if isinstance(dependency_id, int) else index
            trigger_id = _trigger(dependency)
            limits = _limits(dependency.get("inputs") or [], components)
            break
    return SpaceConfig(
        root=root.rstrip("/"),
        api_prefix=prefix,
        version=data.get("version") if isinstance(data.get("version"), str) else None,
        protocol=data.get("protocol") if isinstance(data.get("protocol"), str) else None,
        enable_queue=bool(data.get("enable_queue", True)),
        fn_index=fn_index,
        trigger_id=trigger_id,
        limits=limits,
    )


class ConfigCache:
    """Discovered configs per Space root, so a generation does not read
    ``/config`` again. The client rediscovers a root whose cached config goes
    stale (its submit route fails); :meth:`clear` forgets everything."""

    def __init__(self) -> None:
        self._configs: dict[str, SpaceConfig] = {}

    def get(self, root: str) -> SpaceConfig | None:
        """The cached config of ``root``, or ``None``."""
        return self._configs.get(root)

    def put(self, config: SpaceConfig) -> None:
        """Remember ``config`` for its root."""
        self._configs[config.root] = config

    def __contains__(self, root: object) -> bool:
        return root in self._configs

    def clear(self) -> None:
        """Forget every config."""
        self._configs.clear()
