"""Properties of the request normalisation: no input makes the Space fail.

Whatever a caller passes, what is sent lies inside the Space's sliders; the
clamps are idempotent (normalising twice changes nothing) and monotonic (a
larger size never comes out smaller).
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import assume, example, given, strategies as st

from g4f_flux_plugin._params import (
    ASPECT_RATIOS,
    MAX_IMAGES,
    MAX_SEED,
    SPACE_LIMITS,
    Limits,
    choose_size,
    clamp_dimension,
    clamp_steps,
    normalise,
    plan_seeds,
)

sizes = st.integers() | st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def limits(draw) -> Limits:
    """Slider ranges a Space could advertise: each holds at least one multiple of 8."""
    min_size = draw(st.integers(1, 4096))
    max_size = draw(st.integers(min_size, 8192))
    assume(-(-min_size // 8) * 8 <= max_size)
    min_steps = draw(st.integers(1, 100))
    return Limits(
        min_size=min_size,
        max_size=max_size,
        default_size=draw(st.integers(min_size, max_size)),
        min_steps=min_steps,
        max_steps=draw(st.integers(min_steps, 200)),
        default_steps=draw(st.integers(min_steps, 200)),
        max_seed=draw(st.integers(0, MAX_SEED)),
    )


def _size_ok(size: int, bounds: Limits) -> bool:
    return isinstance(size, int) and size % 8 == 0 and bounds.min_size <= size <= bounds.max_size


@given(sizes)
@example(0)
@example(31)
@example(32)
@example(255)
@example(257)
@example(2049)
@example(-(2**64))
@example(10**400)
@example(1e300)
@example(-1e300)
@example(2047.99)
def test_dimension_is_a_multiple_of_8_inside_the_spaces_range(value):
    assert _size_ok(clamp_dimension(value), SPACE_LIMITS)


@given(sizes, limits())
@example(31, Limits(min_size=1, max_size=8))
@example(0, Limits(min_size=300, max_size=1000))
@example(10**100, Limits(min_size=257, max_size=271))
def test_dimension_stays_inside_any_advertised_range(value, bounds):
    assert _size_ok(clamp_dimension(value, bounds), bounds)


@given(sizes, limits())
def test_dimension_is_idempotent(value, bounds):
    once = clamp_dimension(value, bounds)
    assert clamp_dimension(once, bounds) == once


@given(sizes, sizes, limits())
def test_dimension_is_monotonic(a, b, bounds):
    low, high = sorted((a, b))
    assert clamp_dimension(low, bounds) <= clamp_dimension(high, bounds)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_size_is_its_floor(value):
    assert clamp_dimension(value) == clamp_dimension(math.floor(value))


@given(sizes, limits())
@example(0, SPACE_LIMITS)
@example(51, SPACE_LIMITS)
@example(10**400, SPACE_LIMITS)
def test_steps_stay_in_range_and_are_idempotent(value, bounds):
    steps = clamp_steps(value, bounds)
    assert bounds.min_steps <= steps <= bounds.max_steps
    assert clamp_steps(steps, bounds) == steps


@given(
    prompt=st.text(min_size=1).filter(str.strip),
    width=st.none() | sizes,
    height=st.none() | sizes,
    steps=st.none() | sizes,
    seed=st.none() | st.integers(0, MAX_SEED),
    randomize=st.none() | st.booleans(),
    bounds=limits(),
)
def test_normalise_never_sends_out_of_range_values(prompt, width, height, steps, seed, randomize, bounds):
    assume(seed is None or seed <= bounds.max_seed)
    request = normalise(prompt, width, height, steps, seed, randomize, bounds)
    text, sent_seed, randomize_seed, sent_width, sent_height, sent_steps = request.data()
    assert text == prompt.strip() and text
    assert _size_ok(sent_width, bounds) and _size_ok(sent_height, bounds)
    assert bounds.min_steps <= sent_steps <= bounds.max_steps
    assert isinstance(sent_seed, int) and 0 <= sent_seed <= bounds.max_seed
    assert isinstance(randomize_seed, bool)
    # A seed given is kept unless randomising is asked for; none given means the Space picks.
    if seed is not None:
        assert sent_seed == seed and randomize_seed is bool(randomize)
    elif randomize is None:
        assert randomize_seed is True
    # Normalising what was sent changes nothing.
    again = normalise(text, sent_width, sent_height, sent_steps, request.seed, request.randomize_seed, bounds)
    assert again == request


@given(st.integers().filter(lambda seed: not 0 <= seed <= MAX_SEED))
@example(-1)
@example(2**31)
def test_seeds_outside_the_slider_are_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        normalise("x", seed=seed)


# -- several images: their seeds -------------------------------------------------------
@given(st.integers(2, MAX_IMAGES), st.integers(0, MAX_SEED), st.integers(MAX_IMAGES, MAX_SEED))
@example(4, MAX_SEED, MAX_SEED)  # wraps at once: MAX_SEED, 0, 1, 2
@example(3, MAX_SEED - 1, MAX_SEED)
@example(4, 10, 10)
def test_given_seed_counts_up_distinct_and_inside_the_range(n, seed, max_seed):
    assume(seed <= max_seed)
    seeds = plan_seeds(n, seed, False, Limits(max_seed=max_seed))
    assert seeds[0] == seed
    assert len(set(seeds)) == n
    assert all(0 <= s <= max_seed for s in seeds)
    assert all((b - a) % (max_seed + 1) == 1 for a, b in itertools.pairwise(seeds))


@given(
    st.integers(2, MAX_IMAGES),
    st.integers(MAX_IMAGES - 1, MAX_SEED),
    st.randoms(use_true_random=False),
    st.none() | st.integers(0, MAX_SEED),
)
@example(4, 3, random.Random(0), None)  # as many seeds as the range holds
def test_random_seeds_are_distinct_and_inside_the_range(n, max_seed, rng, seed):
    seeds = plan_seeds(n, seed, True, Limits(max_seed=max_seed), rng)
    assert len(seeds) == n and len(set(seeds)) == n
    assert all(isinstance(s, int) and 0 <= s <= max_seed for s in seeds)


# -- aspect ratios: whatever the ratio, the size sent is valid -----------------------------
@given(st.sampled_from(sorted(ASPECT_RATIOS)), limits())
@example("3:2", SPACE_LIMITS)
@example("21:9", Limits(min_size=512, max_size=1024))
def test_every_aspect_ratio_gives_a_size_the_space_accepts(ratio, bounds):
    width, height = choose_size(None, None, None, ratio)
    request = normalise("x", width, height, limits=bounds)
    assert _size_ok(request.width, bounds) and _size_ok(request.height, bounds)
    if bounds == SPACE_LIMITS:
        # Inside the public Space's range, the ratio's size is only rounded down to 8.
        assert (request.width, request.height) == (width // 8 * 8, height // 8 * 8)
