"""The error tree and the mapping from what the Space says to what a caller catches."""

from __future__ import annotations

import g4f.errors
import pytest

from g4f_flux_plugin import _errors
from g4f_flux_plugin._errors import (
    FluxClientError,
    JobCancelledError,
    NotAGradioAppError,
    QuotaExceededError,
    SpaceAuthError,
    SpaceBusyError,
    SpaceConnectError,
    SpaceConnectionError,
    SpaceError,
    SpaceProtocolError,
    SpaceRateLimitError,
    SpaceStatusError,
    SpaceTimeoutError,
    SpaceUnavailableError,
    StreamCutError,
    error_from_space,
    error_from_status,
)
from g4f_flux_plugin._g4f_errors import G4F_TWINS, as_g4f

QUOTA_TITLE = "ZeroGPU quota exceeded"
QUOTA_TEXT = "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12."
HF_LINK = (
    ' <a style="white-space: nowrap;text-underline-offset: 2px;color: var(--body-text-color)" '
    'href="https://huggingface.co/settings/billing/subscription">Subscribe to Pro</a> to get more usage quota.'
)


# -- the tree ---------------------------------------------------------------------
# What g4f sees of each client error (the g4f-facing twins the provider raises):
# exactly these g4f classes, as before the client stood alone. A change here
# changes what g4f's fallback chains, circuit breaker and users catch.
G4F_VIEW = {
    SpaceError: {"ResponseError", "G4FError"},
    JobCancelledError: {"ResponseError", "G4FError"},
    SpaceBusyError: {"ResponseError", "G4FError"},
    SpaceProtocolError: {"ResponseError", "G4FError"},
    StreamCutError: {"ResponseError", "G4FError"},
    NotAGradioAppError: {"ResponseError", "G4FError"},
    SpaceConnectionError: {"ResponseError", "G4FError"},
    SpaceConnectError: {"ResponseError", "G4FError"},
    SpaceStatusError: {"ResponseStatusError", "ResponseError", "G4FError"},
    SpaceRateLimitError: {"RateLimitError", "ResponseStatusError", "ResponseError", "G4FError"},
    QuotaExceededError: {"RateLimitError", "ResponseStatusError", "ResponseError", "G4FError"},
    SpaceAuthError: {"MissingAuthError", "G4FError"},
    SpaceTimeoutError: {"TimeoutError", "G4FError"},
    SpaceUnavailableError: {"ProviderNotWorkingError", "G4FError"},
}


@pytest.mark.parametrize("error", list(G4F_VIEW), ids=lambda cls: cls.__name__)
def test_g4f_sees_each_error_as_it_always_did(error):
    twin = G4F_TWINS[error]
    assert issubclass(twin, error) and twin.__name__ == error.__name__
    seen = {cls.__name__ for cls in twin.__mro__ if cls.__module__ == "g4f.errors"}
    assert seen == G4F_VIEW[error]
    # g4f's fallback code tells its TimeoutError apart from the builtin one.
    assert not issubclass(twin, TimeoutError)


def test_every_client_error_has_a_twin():
    classes = {
        value
        for value in vars(_errors).values()
        if isinstance(value, type) and issubclass(value, FluxClientError)
    }
    assert classes - {FluxClientError} == set(G4F_VIEW)


def test_the_client_tree_is_not_g4fs():
    for error in G4F_VIEW:
        assert issubclass(error, FluxClientError)
        assert not issubclass(error, g4f.errors.G4FError), error


@pytest.mark.parametrize(
    "error",
    [
        QuotaExceededError(
            "You have exceeded your free ZeroGPU quota. Try again in 0:00:09.", "ZeroGPU quota exceeded", 9.0
        ),
        SpaceRateLimitError("queue is full", 503, 4.0),
        SpaceAuthError("private", 401),
        SpaceError(None, "ZeroGPU worker error"),
        StreamCutError("cut"),
        SpaceTimeoutError("late"),
        SpaceUnavailableError("paused by its owner", "PAUSED"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_the_twin_is_the_same_error(error):
    twin = as_g4f(error)
    assert type(twin) is G4F_TWINS[type(error)]
    assert str(twin) == str(error) and twin.args == error.args
    assert vars(twin) == vars(error)  # status, retry_after, message, title


def test_anything_else_passes_unchanged():
    error = ValueError("bad size")
    assert as_g4f(error) is error
    g4f_error = g4f.errors.ModelNotFoundError("no")
    assert as_g4f(g4f_error) is g4f_error


# -- what a job's failure becomes ---------------------------------------------------
@pytest.mark.parametrize(
    ("message", "title", "retry_after"),
    [
        (QUOTA_TEXT, QUOTA_TITLE, 312.0),
        (QUOTA_TEXT, None, 312.0),  # Gradio 4 has no titles: the text alone says quota
        (QUOTA_TEXT, "Error", 312.0),
        (
            "You have exceeded your Pro ZeroGPU quota (60s requested vs. 1s left). Try again in 1:02:03.",
            QUOTA_TITLE,
            3723.0,
        ),
        (
            "You have exceeded your ZeroGPU quota (60s requested vs. 1s left). Try again in 12:34.",
            None,
            754.0,
        ),
        ("You have exceeded your GPU quota (60s requested vs. 56s left)", None, None),  # older wording
        ("You have exceeded your GPU quota (60s requested vs. 56s left)." + HF_LINK, None, None),
        ("You have reached your ZeroGPU runs limit. Try again in 0:00:30.", None, 30.0),
        ("Space app has reached its GPU limit.", QUOTA_TITLE, None),
        (None, QUOTA_TITLE, None),  # the title alone is enough
    ],
)
def test_quota_messages_become_quota_errors(message, title, retry_after):
    error = error_from_space(message, title)
    assert isinstance(error, QuotaExceededError)
    assert isinstance(as_g4f(error), g4f.errors.RateLimitError)
    assert error.retry_after == retry_after
    assert error.status == 429
    text = str(error)
    if message:
        assert message.split(" (")[0].split(".")[0] in text  # the Space's own words
    if title and title != "Error":
        assert title in text
    assert "<a" not in text and "href" not in text


def test_quota_error_keeps_the_spaces_words_and_drops_the_html_link():
    error = error_from_space(QUOTA_TEXT + HF_LINK, QUOTA_TITLE)
    assert str(error) == f"{QUOTA_TITLE}: {QUOTA_TEXT} Subscribe to Pro to get more usage quota."
    assert error.title == QUOTA_TITLE and error.retry_after == 312.0


def test_a_quota_title_without_text_says_so_once():
    error = error_from_space(None, QUOTA_TITLE)
    assert isinstance(error, QuotaExceededError)
    assert str(error).count(QUOTA_TITLE) == 1
    assert "hides its details" in str(error)
    assert error.retry_after is None


def test_gradio4_quoted_repr_of_the_message_is_unquoted():
    # Gradio 4's queue reports gr.Error as repr(message), quotes included.
    error = error_from_space(repr("CUDA out of memory"), "Error")
    assert str(error) == "CUDA out of memory"


@pytest.mark.parametrize(
    ("message", "title", "expected"),
    [
        ("CUDA out of memory", None, "CUDA out of memory"),
        ("CUDA out of memory", "Error", "CUDA out of memory"),
        (
            "The requested GPU duration (120s) is larger than the maximum allowed",
            "ZeroGPU illegal duration",
            "ZeroGPU illegal duration: The requested GPU duration (120s) is larger than the maximum allowed",
        ),
        ("  spaced  ", None, "spaced"),
    ],
)
def test_other_failures_keep_the_spaces_words(message, title, expected):
    error = error_from_space(message, title)
    assert type(error) is SpaceError
    assert str(error) == expected
    assert error.message == message.strip()


@pytest.mark.parametrize("title", [None, "Error", ""])
def test_a_hidden_error_is_said_in_plain_words_never_null(title):
    error = error_from_space(None, title)
    assert type(error) is SpaceError
    assert "hides its details" in str(error) and "show_error" in str(error)
    assert "null" not in str(error).lower() and "None" not in str(error)


def test_a_hidden_error_with_a_title_keeps_the_title():
    assert str(error_from_space(None, "ZeroGPU worker error")).startswith("ZeroGPU worker error: ")


@pytest.mark.parametrize("message", [{"detail": "odd"}, 42, ["a", "b"]])
def test_a_message_of_another_type_is_shown_not_lost(message):
    error = error_from_space(message)
    assert isinstance(error, SpaceError) and str(message)[:5] in str(error)


def test_retry_after_parsing():
    parse = _errors.parse_retry_after
    assert parse("Try again in 0:05:12.") == 312.0
    assert parse("try again in 5:12") == 312.0
    assert parse("Try again in 2:00:00") == 7200.0
    assert parse("Try again later") is None
    assert parse("Try again in 1 day, 0:00:05.") == 86405.0
    assert parse("... to get more quotas or retry in 0:06:53") == 413.0
    assert parse("Try again in 0:00:01.250000.") == 1.25
    assert parse("You have exceeded your ZeroGPU runs limit.") is None  # no wait given
    assert _errors.parse_retry_after_header("12") == 12.0
    assert _errors.parse_retry_after_header(" 3 ") == 3.0
    assert _errors.parse_retry_after_header("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert _errors.parse_retry_after_header(None) is None


# -- what an HTTP status becomes ----------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "retry_after", "kind", "delay", "words"),
    [
        (401, b'{"detail": "Invalid credentials"}', None, SpaceAuthError, None, "Invalid credentials"),
        (403, b"Forbidden", None, SpaceAuthError, None, "Forbidden"),
        (429, b"Too Many Requests", "30", SpaceRateLimitError, 30.0, "Too Many Requests"),
        (429, b"", None, SpaceRateLimitError, None, "HTTP 429"),
        (
            503,
            b'{"detail": "Queue is full. Max size is 2 and size is 2."}',
            None,
            SpaceRateLimitError,
            None,
            "Queue is full. Max size is 2 and size is 2.",
        ),
        (503, b"Service Unavailable", "5", SpaceStatusError, None, "Service Unavailable"),
        (
            502,
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000,
            None,
            SpaceStatusError,
            None,
            "(HTML page: 502 Bad Gateway)",
        ),
        (500, b"Internal Server Error", None, SpaceStatusError, None, "Internal Server Error"),
        (404, b'{"detail": "Not Found"}', None, SpaceStatusError, None, "Not Found"),
    ],
)
def test_status_mapping(status, body, retry_after, kind, delay, words):
    error = error_from_status(status, body, retry_after, "joining the Space's queue")
    assert type(error) is kind
    assert error.status == status
    text = str(error)
    assert text.startswith(f"joining the Space's queue: HTTP {status}")
    assert words in text
    assert len(text) < 400  # an excerpt, never a whole page
    if kind is SpaceRateLimitError:
        assert isinstance(as_g4f(error), g4f.errors.RateLimitError)
        assert error.retry_after == delay
    if kind is SpaceAuthError:
        assert isinstance(as_g4f(error), g4f.errors.MissingAuthError)


def test_an_html_page_without_a_title_is_not_quoted():
    error = error_from_status(
        502, b"<html><body><h1>Bad</h1>" + b"<p>x</p>" * 500 + b"</body></html>", None, "x"
    )
    assert "(HTML page)" in str(error) and "<" not in str(error)


def test_a_long_body_is_cut_to_an_excerpt():
    error = error_from_status(500, b"y" * 100_000, None, "x")
    assert str(error) == "x: HTTP 500 " + "y" * 300


def test_an_error_body_nested_past_the_parsers_depth_is_still_a_status_error():
    error = error_from_status(500, b"[" * 2000, None, "x")
    assert isinstance(error, SpaceStatusError) and error.status == 500


def test_a_hidden_error_keeps_the_spaces_capital():
    assert str(error_from_space(None)).startswith("The Space reported an error")


def test_the_front_s_error_text_is_a_space_unavailable_error():
    body = b"Your space is in error, check its status on hf.co"
    assert len(body) == 49  # what HF's front sends, byte for byte
    error = error_from_status(503, body, None, "reading the Space's /config")
    assert isinstance(error, SpaceUnavailableError) and error.stage is None
    assert "in error" in str(error) and "another Space" in str(error)
    # Any other 503 stays a status error (retried), a full queue a rate limit.
    assert type(error_from_status(503, b"Service Unavailable", None, "x")) is SpaceStatusError


# -- a busy Space, seen through g4f's own chains ------------------------------------
async def test_a_busy_space_makes_g4fs_chain_move_on(monkeypatch):
    """After its retries, the provider raises the busy twin; g4f's
    IterListProvider records the failure and asks the next provider."""
    from g4f.providers.base_provider import AsyncGeneratorProvider
    from g4f.providers.response import ImageResponse
    from g4f.providers.retry_provider import IterListProvider, ProviderCircuitBreaker
    from test_client_mock import FAST, ROOT
    from test_zerogpu_client import NO_GPU, failed, joins, space

    from g4f_flux_plugin import MockTransport
    from g4f_flux_plugin._config import ConfigCache
    from g4f_flux_plugin._g4f_errors import SpaceBusyError as G4FSpaceBusyError
    from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

    class Next(AsyncGeneratorProvider):
        working = True

        @classmethod
        async def create_async_generator(cls, model, messages, **kwargs):
            yield ImageResponse(["https://next.example/image.png"], "a fox")

    class Busy(BlackForestLabs_Flux1Schnell):
        retry_policy = FAST
        config_cache = ConfigCache()

    monkeypatch.setattr(ProviderCircuitBreaker, "_failures", {})
    monkeypatch.setattr(ProviderCircuitBreaker, "_cooldowns", {})
    transport = MockTransport(space(*[failed(*NO_GPU) for _ in range(FAST.attempts)]))
    chain = IterListProvider([Busy, Next], shuffle=False)
    items = [
        item
        async for item in chain.create_async_generator(
            "flux", [], prompt="a fox", api_base=ROOT, transport=transport, protocol="queue"
        )
    ]
    images = [item for item in items if isinstance(item, ImageResponse)]
    assert [image.urls for image in images] == [["https://next.example/image.png"]]
    assert joins(transport) == FAST.attempts  # retried, then the chain moved on
    assert ProviderCircuitBreaker._failures == {"Busy": 1}
    # What the chain caught was the g4f twin, still the client's class.
    chain = IterListProvider([Busy], shuffle=False)
    transport = MockTransport(space(*[failed(*NO_GPU) for _ in range(FAST.attempts)]))
    with pytest.raises(G4FSpaceBusyError) as caught:
        async for _ in chain.create_async_generator(
            "flux", [], prompt="a fox", api_base=ROOT, transport=transport, protocol="queue"
        ):
            pass
    assert isinstance(caught.value, SpaceBusyError)
    assert isinstance(caught.value, g4f.errors.ResponseError)
    assert not isinstance(caught.value, g4f.errors.RateLimitError)
    assert caught.value.reason == "no_gpu"
