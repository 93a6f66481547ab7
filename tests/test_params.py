"""Normalising a request before anything is sent: examples for every rule.

The properties (any input, random limits) are in ``test_params_properties.py``.
"""

from __future__ import annotations

import math
import random

import pytest

from g4f_flux_plugin._params import (
    ASPECT_RATIOS,
    MAX_IMAGES,
    MAX_SEED,
    SPACE_LIMITS,
    ImageRequest,
    Limits,
    check_count,
    choose_size,
    clamp_dimension,
    clamp_steps,
    normalise,
    parse_size,
    plan_seeds,
)


# -- sizes ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (1024, 1024),
        (512, 512),
        (519, 512),  # rounded down to a multiple of 8
        (520, 520),
        (100, 256),  # raised to the Space's minimum
        (0, 256),
        (-5000, 256),
        (255, 256),
        (256, 256),
        (257, 256),
        (2048, 2048),
        (2049, 2048),
        (4100, 2048),  # lowered to the Space's maximum
        (10**30, 2048),
        (519.9, 512),  # floats are floored, never rounded up past the value
        ("768", 768),  # a number in a string, as a form field sends it
        (" 640 ", 640),
        ("1e3", 1000),
    ],
)
def test_clamp_dimension(given, sent):
    assert clamp_dimension(given) == sent


@pytest.mark.parametrize(
    "bad", ["abc", "", "12px", None, True, False, [512], float("nan"), float("inf"), "-inf", "nan"]
)
def test_clamp_dimension_rejects_what_is_not_a_number(bad):
    with pytest.raises(ValueError, match="height"):
        clamp_dimension(bad, name="height")


def test_clamp_dimension_follows_the_spaces_limits():
    limits = Limits(min_size=300, max_size=1000)
    # 300 is not a multiple of 8: the bound is rounded inward, never outward.
    assert clamp_dimension(1, limits) == 304
    assert clamp_dimension(5000, limits) == 1000
    assert clamp_dimension(1003, Limits(min_size=256, max_size=1003)) == 1000


@pytest.mark.parametrize(
    ("given", "sent"), [(4, 4), (1, 1), (0, 1), (-3, 1), (50, 50), (51, 50), (2.9, 2), ("7", 7)]
)
def test_clamp_steps(given, sent):
    assert clamp_steps(given) == sent


def test_clamp_steps_follows_the_spaces_limits():
    assert clamp_steps(100, Limits(min_steps=2, max_steps=8)) == 8
    assert clamp_steps(1, Limits(min_steps=2, max_steps=8)) == 2


@pytest.mark.parametrize("bad", ["many", None, True, float("nan")])
def test_clamp_steps_rejects_what_is_not_a_number(bad):
    with pytest.raises(ValueError, match="num_inference_steps"):
        clamp_steps(bad)


# -- the whole request -----------------------------------------------------------
def test_defaults_are_the_spaces():
    request = normalise("a cat")
    assert (request.width, request.height, request.steps) == (1024, 1024, 4)
    # No seed given: the Space picks one.
    assert request.seed is None and request.randomize_seed is True
    assert request.data() == ["a cat", 0, True, 1024, 1024, 4]


def test_defaults_follow_the_limits_of_the_space():
    request = normalise("a cat", limits=Limits(default_size=768, default_steps=8))
    assert (request.width, request.height, request.steps) == (768, 768, 8)


def test_data_is_in_the_order_of_infer():
    request = normalise("  a cat  ", 519, 100, 2, 1234)
    # infer(prompt, seed, randomize_seed, width, height, num_inference_steps)
    assert request.data() == ["a cat", 1234, False, 512, 256, 2]
    assert request == ImageRequest("a cat", 512, 256, 2, 1234, False)


def test_a_given_seed_is_used_as_given():
    request = normalise("x", seed=42)
    assert request.seed == 42 and request.randomize_seed is False


def test_a_given_seed_can_still_be_randomised():
    request = normalise("x", seed=42, randomize_seed=True)
    assert request.randomize_seed is True and request.data()[2] is True


def test_no_seed_and_no_randomising_means_seed_zero():
    request = normalise("x", randomize_seed=False)
    assert request.seed == 0 and request.data()[1:3] == [0, False]


@pytest.mark.parametrize(("given", "sent"), [(0, 0), (MAX_SEED, MAX_SEED), (7.0, 7), ("7", 7)])
def test_seed_in_range(given, sent):
    assert normalise("x", seed=given).seed == sent


@pytest.mark.parametrize("bad", [-1, MAX_SEED + 1, 2**31, 2**64, 7.5, "7.5", "seven", True, math.inf])
def test_seed_out_of_range_or_not_whole_is_refused(bad):
    with pytest.raises(ValueError, match="seed"):
        normalise("x", seed=bad)


def test_seed_follows_the_spaces_maximum():
    with pytest.raises(ValueError, match=r"0\.\.1000"):
        normalise("x", seed=1001, limits=Limits(max_seed=1000))


@pytest.mark.parametrize("bad", ["", "   ", "\n\t", None, 42, b"a cat"])
def test_prompt_must_be_a_non_empty_string(bad):
    with pytest.raises(ValueError, match="prompt"):
        normalise(bad)


def test_bad_size_names_the_parameter():
    with pytest.raises(ValueError, match="width"):
        normalise("x", width="abc")
    with pytest.raises(ValueError, match="height"):
        normalise("x", height="abc")


# -- the OpenAI images API's size -----------------------------------------------
@pytest.mark.parametrize(
    ("size", "parsed"),
    [("1024x768", (1024, 768)), ("512X512", (512, 512)), (None, None), ("", None), ("auto", None)],
)
def test_parse_size(size, parsed):
    assert parse_size(size) == parsed


def test_parse_size_rejects_garbage():
    with pytest.raises(ValueError, match="size"):
        parse_size("bigxsmall")


def test_space_limits_are_the_public_spaces_sliders():
    assert Limits(256, 2048, 1024, 1, 50, 4, 2147483647) == SPACE_LIMITS


# -- n: how many images -----------------------------------------------------------
@pytest.mark.parametrize(("given", "count"), [(None, 1), (1, 1), (2, 2), (MAX_IMAGES, 4)])
def test_check_count(given, count):
    assert check_count(given) == count


@pytest.mark.parametrize("bad", [0, -1, 5, 50, 2.0, 2.5, "2", True, False, [2]])
def test_check_count_refuses_what_is_not_1_to_4(bad):
    with pytest.raises(ValueError, match=r"^n must"):
        check_count(bad)


# -- the seeds of several images ----------------------------------------------------
def test_one_image_keeps_its_seed_and_lets_the_space_pick_without_one():
    assert plan_seeds(1, 42, False) == [42]
    assert plan_seeds(1, None, True) == [None]
    assert plan_seeds(1, 42, True) == [42]  # normalise sends randomize_seed: the Space picks


def test_a_given_seed_counts_up():
    assert plan_seeds(3, 100, False) == [100, 101, 102]


def test_seeds_wrap_past_the_spaces_maximum_to_zero():
    assert plan_seeds(3, MAX_SEED - 1, False) == [MAX_SEED - 1, MAX_SEED, 0]
    assert plan_seeds(4, 9, False, Limits(max_seed=10)) == [9, 10, 0, 1]


def test_random_seeds_are_distinct_and_in_range():
    for rng in (random.Random(0), None):
        seeds = plan_seeds(4, None, None, Limits(max_seed=5), rng)
        assert len(set(seeds)) == 4 and all(0 <= seed <= 5 for seed in seeds)
    # randomize_seed with a seed: random too, the seed is not used.
    assert len(set(plan_seeds(4, 7, True, Limits(max_seed=3), random.Random(1)))) == 4
    assert sorted(plan_seeds(4, None, None, Limits(max_seed=3), random.Random(2))) == [0, 1, 2, 3]


# -- aspect_ratio and the other ways to give a size -------------------------------------
def test_aspect_ratio_table_is_g4f_8_8_6s():
    assert ASPECT_RATIOS["16:9"] == (1024, 576) and ASPECT_RATIOS["3:2"] == (1024, 682)
    assert ASPECT_RATIOS["4:5"] == (832, 1040) and len(ASPECT_RATIOS) == 13


@pytest.mark.parametrize(
    ("ratio", "sent"),
    [("16:9", (1024, 576)), ("3:2", (1024, 680)), ("2:3", (680, 1024)), ("21:9", (1024, 440))],
)
def test_aspect_ratio_sizes_after_clamping(ratio, sent):
    width, height = choose_size(None, None, None, ratio)
    request = normalise("x", width, height)
    assert (request.width, request.height) == sent


@pytest.mark.parametrize(
    ("width", "height", "size", "chosen"),
    [
        (640, 480, "512x512", (640, 480)),  # width and height first
        (640, None, "512x512", (640, None)),  # either one of them
        (None, None, "512x256", (512, 256)),  # then size
        (None, None, None, (1024, 576)),  # then the ratio
        (None, None, "auto", (1024, 576)),  # a size that is no size
    ],
)
def test_size_precedence(width, height, size, chosen):
    assert choose_size(width, height, size, "16:9") == chosen


def test_no_size_at_all_means_the_spaces_default():
    assert choose_size(None, None) == (None, None)
    assert choose_size(None, None, None, "") == (None, None)


@pytest.mark.parametrize("bad", ["7:3", "16/9", "wide", 16 / 9, ("16", "9")])
def test_an_unknown_aspect_ratio_lists_the_known_ones(bad):
    with pytest.raises(ValueError, match=r"aspect_ratio must be one of 1:1, 16:9, .*1:2, not"):
        choose_size(640, 480, None, bad)  # checked even when a size takes precedence


def test_choose_size_uses_the_lookup_it_is_given():
    lookup = {"7:3": (1400, 600)}.get
    assert choose_size(None, None, None, "7:3", lookup, ("7:3",)) == (1400, 600)
    with pytest.raises(ValueError, match="one of 7:3, not '16:9'"):
        choose_size(None, None, None, "16:9", lookup, ("7:3",))


def test_more_images_than_the_space_has_seeds_is_refused():
    with pytest.raises(ValueError, match="distinct seeds"):
        plan_seeds(3, 0, False, Limits(max_seed=1))
