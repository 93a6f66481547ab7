"""Normalising a generation request before anything goes on the network.

Pure functions only: every rule here is property-tested. Ranges default to
the public Space's sliders and are replaced by the ones its ``/config``
advertises once discovered (:class:`Limits`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = [
    "ASPECT_RATIOS",
    "MAX_IMAGES",
    "ImageRequest",
    "Limits",
    "check_count",
    "choose_size",
    "clamp_dimension",
    "clamp_steps",
    "normalise",
    "plan_seeds",
]

MAX_SEED = 2147483647
#: The most images one call may ask for (``n``): each is a job on the Space,
#: and an anonymous ZeroGPU quota pays for about two a day.
MAX_IMAGES = 4

#: Named aspect ratios and their sizes: the table of g4f's own
#: ``g4f.image.get_width_height`` (g4f 8.8.6), kept here so a g4f that lacks
#: the helper, or knows fewer names, sizes images the same way. The sizes are
#: then clamped like any other (``"3:2"``'s 682 is sent as 680).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1024, 576),
    "9:16": (576, 1024),
    "4:3": (1024, 768),
    "3:4": (768, 1024),
    "3:2": (1024, 682),
    "2:3": (682, 1024),
    "21:9": (1024, 440),
    "9:21": (440, 1024),
    "4:5": (832, 1040),
    "5:4": (1040, 832),
    "2:1": (1024, 512),
    "1:2": (512, 1024),
}


@dataclass(frozen=True)
class Limits:
    """Ranges and defaults the Space accepts (its sliders' min/max/value)."""

    min_size: int = 256
    max_size: int = 2048
    default_size: int = 1024
    min_steps: int = 1
    max_steps: int = 50
    default_steps: int = 4
    max_seed: int = MAX_SEED


SPACE_LIMITS = Limits()


@dataclass(frozen=True)
class ImageRequest:
    """One normalised generation: exactly what is sent to the Space.

    ``seed`` is ``None`` when the Space picks it (``randomize_seed`` true).
    """

    prompt: str
    width: int
    height: int
    steps: int
    seed: int | None
    randomize_seed: bool

    def data(self) -> list[str | int | bool]:
        """The public Space's ``infer`` inputs, in its order (any other
        layout: :meth:`._config.SpaceConfig.data`)."""
        return [
            self.prompt,
            self.seed if self.seed is not None else 0,
            self.randomize_seed,
            self.width,
            self.height,
            self.steps,
        ]


def _as_int(name: str, value: object) -> int:
    # bool is an int subclass; True as a width is a bug in the caller.
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
        return math.floor(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, not {value!r}") from None
        return _as_int(name, number)
    raise ValueError(f"{name} must be a number, not {value!r}")


def clamp_dimension(value: object, limits: Limits = SPACE_LIMITS, name: str = "width") -> int:
    """Round a width or height down to a multiple of 8, at least 32, then
    keep it inside the Space's range (rounded inward to multiples of 8), so
    no size makes the Space fail. Idempotent."""
    size = max(32, _as_int(name, value) // 8 * 8)
    low = -(-limits.min_size // 8) * 8  # smallest multiple of 8 >= min
    high = max(low, limits.max_size // 8 * 8)
    return min(max(size, low), high)


def clamp_steps(value: object, limits: Limits = SPACE_LIMITS) -> int:
    """Keep the number of inference steps inside the Space's range."""
    return min(max(_as_int("num_inference_steps", value), limits.min_steps), limits.max_steps)


def _seed(value: object, limits: Limits) -> int:
    seed = _as_int("seed", value)
    # _as_int floors; a seed must be whole, whether given as 7.5 or "7.5".
    number = float(value) if isinstance(value, str) else value
    if isinstance(number, float) and number != seed:
        raise ValueError(f"seed must be a whole number, not {value!r}")
    if not 0 <= seed <= limits.max_seed:
        raise ValueError(f"seed must lie in 0..{limits.max_seed}, not {seed}")
    return seed


def normalise(
    prompt: object,
    width: object = None,
    height: object = None,
    steps: object = None,
    seed: object = None,
    randomize_seed: bool | None = None,
    limits: Limits = SPACE_LIMITS,
) -> ImageRequest:
    """Check and normalise every parameter; raise ``ValueError`` on bad input.

    ``None`` means the Space's default (size, steps); a ``seed`` of ``None``
    lets the Space pick one. A given seed is used as given unless the caller
    also asks for ``randomize_seed=True``.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string")
    request = ImageRequest(
        prompt=prompt.strip(),
        width=clamp_dimension(limits.default_size if width is None else width, limits, "width"),
        height=clamp_dimension(limits.default_size if height is None else height, limits, "height"),
        steps=clamp_steps(limits.default_steps if steps is None else steps, limits),
        seed=None if seed is None else _seed(seed, limits),
        randomize_seed=bool(randomize_seed) if randomize_seed is not None else seed is None,
    )
    if request.seed is None and not request.randomize_seed:
        # Asked for a fixed seed without giving one: the Space's default is 0.
        request = replace(request, seed=0)
    return request


def parse_size(size: object) -> tuple[int, int] | None:
    """``"1024x768"`` (the OpenAI images API's ``size``) as (width, height)."""
    if not isinstance(size, str) or "x" not in size.lower():
        return None
    width, _, height = size.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise ValueError(f"size must look like '1024x768', not {size!r}") from None


def check_count(n: object) -> int:
    """The number of images asked for (``n``): an int in 1..:data:`MAX_IMAGES`.

    ``None`` means one. Anything else (a bool, a float, a string, a number
    out of range) is a ``ValueError``: a caller asking for 50 images must be
    told, not silently given 4.
    """
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"n must be a whole number from 1 to {MAX_IMAGES}, not {n!r}")
    if not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"n must lie in 1..{MAX_IMAGES}, not {n}")
    return n


def plan_seeds(
    n: int,
    seed: int | None,
    randomize_seed: bool | None,
    limits: Limits = SPACE_LIMITS,
    rng: random.Random | None = None,
) -> list[int | None]:
    """The seed of each of ``n`` images, in order (``seed`` already checked).

    - One image: ``[seed]``, unchanged (``None`` lets the Space pick).
    - A given seed ``s``: ``s, s+1, ..., s+n-1``, wrapping past the Space's
      maximum to 0 (wrapping, not clamping: clamping would repeat the maximum
      and make two images the same).
    - No seed, or ``randomize_seed`` true: ``n`` distinct seeds drawn here
      from ``rng``. Drawn on this side, not left to the Space, because the
      Space's own draws may repeat; the jobs then go with ``randomize_seed``
      false.
    """
    if n == 1:
        return [seed]
    span = limits.max_seed + 1
    if n > span:
        raise ValueError(f"n={n} images need distinct seeds, and the Space has only {span}")
    if seed is None or randomize_seed:
        # sample() on a range draws distinct values without building the range.
        return list((rng or random.SystemRandom()).sample(range(span), n))
    return [(seed + i) % span for i in range(n)]


def choose_size(
    width: object,
    height: object,
    size: object = None,
    aspect_ratio: object = None,
    ratio_size: Callable[[str], tuple[int, int] | None] = ASPECT_RATIOS.get,
    known_ratios: tuple[str, ...] = tuple(ASPECT_RATIOS),
) -> tuple[object, object]:
    """The (width, height) asked for, before clamping.

    Precedence: ``width``/``height`` (either given), then ``size`` (``"WxH"``),
    then ``aspect_ratio``, whose size ``ratio_size(name)`` gives (``None``
    for a name it does not know). A given ``aspect_ratio`` is checked even
    when a size takes precedence: an unknown name is a ``ValueError`` listing
    ``known_ratios``. ``None``s mean the Space's default size.
    """
    ratio = None
    if aspect_ratio is not None and aspect_ratio != "":
        ratio = ratio_size(aspect_ratio) if isinstance(aspect_ratio, str) else None
        if not ratio:
            raise ValueError(f"aspect_ratio must be one of {', '.join(known_ratios)}, not {aspect_ratio!r}")
    if width is not None or height is not None:
        return width, height
    parsed = parse_size(size) if size else None
    if parsed is not None:
        return parsed
    return ratio if ratio else (None, None)
