"""SpaceMemory: a remembered quota, per Space root and token, until its wait passes."""

from __future__ import annotations

import pytest

from g4f_flux_plugin import QuotaExceededError, SpaceMemory
from g4f_flux_plugin._errors import error_from_space

ROOT = "https://black-forest-labs-flux-1-schnell.hf.space"
OTHER_ROOT = "https://someone-flux-1-schnell.hf.space"
TOKEN = "hf_memory_test_secret_token_value"
QUOTA_TITLE = "ZeroGPU quota exceeded"
FREE_QUOTA = (
    "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12. "
    "Subscribe to Hugging Face PRO to get 40 min of ZeroGPU quota a day - https://huggingface.co/subscribe/pro"
)
ANONYMOUS_QUOTA = (
    "You have exceeded your ZeroGPU quota (60s requested vs. 0s left). Try again in 0:01:40. "
    "Authenticate with a Hugging Face token for more quota - https://huggingface.co/settings/tokens"
)


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def quota(text: str = FREE_QUOTA) -> QuotaExceededError:
    error = error_from_space(text, QUOTA_TITLE)
    assert isinstance(error, QuotaExceededError)
    return error


def remembering() -> tuple[Clock, SpaceMemory]:
    """A memory on a test clock that has just remembered the free quota for ROOT and TOKEN."""
    clock = Clock()
    memory = SpaceMemory(clock=clock)
    memory.remember_quota(ROOT, TOKEN, quota())
    return clock, memory


def test_a_remembered_quota_counts_down_and_ends():
    clock, memory = remembering()
    clock.now += 12.0
    known = memory.known_quota(ROOT, TOKEN)
    assert isinstance(known, QuotaExceededError)
    assert known.retry_after == pytest.approx(312.0 - 12.0)
    assert known.remembered
    assert known.tier == "free"
    assert known.message == FREE_QUOTA.strip()
    assert "remembered" in str(known)
    assert "no request was made" in str(known)
    assert "0:05:00" in str(known)
    clock.now += 300.0
    assert memory.known_quota(ROOT, TOKEN) is None


def test_only_the_same_root_and_token_are_answered_from_memory():
    memory = SpaceMemory(clock=Clock())
    memory.remember_quota(ROOT, TOKEN, quota())
    assert memory.known_quota(ROOT, TOKEN) is not None
    assert memory.known_quota(ROOT + "/", TOKEN) is not None  # the same root
    assert memory.known_quota(ROOT, "hf_another_token") is None
    assert memory.known_quota(ROOT, None) is None
    assert memory.known_quota(OTHER_ROOT, TOKEN) is None


def test_an_anonymous_quota_is_kept_apart_and_says_a_token_helps():
    memory = SpaceMemory(clock=Clock())
    memory.remember_quota(ROOT, None, quota(ANONYMOUS_QUOTA))
    known = memory.known_quota(ROOT, None)
    assert known is not None
    assert known.tier == "anonymous"
    assert "HF_TOKEN" in str(known)
    assert memory.known_quota(ROOT, TOKEN) is None


@pytest.mark.parametrize(
    "text",
    [
        "You have exceeded your ZeroGPU runs limit. ",
        "Space app has reached its GPU limit. Try re-running outside of examples if it happened after clicking one",
    ],
)
def test_a_quota_without_a_wait_is_not_remembered(text):
    memory = SpaceMemory(clock=Clock())
    memory.remember_quota(ROOT, TOKEN, quota(text))
    assert memory.known_quota(ROOT, TOKEN) is None


def test_the_opt_out_remembers_nothing():
    memory = SpaceMemory(clock=Clock(), remember_quotas=False)
    memory.remember_quota(ROOT, TOKEN, quota())
    assert memory.known_quota(ROOT, TOKEN) is None
    assert memory.quota_status(ROOT, TOKEN)["available"] is True


def test_a_remembered_error_does_not_extend_the_wait():
    clock, memory = remembering()
    clock.now += 100.0
    again = memory.known_quota(ROOT, TOKEN)
    assert again is not None
    memory.remember_quota(ROOT, TOKEN, again)
    clock.now += 212.5
    assert memory.known_quota(ROOT, TOKEN) is None


def test_forget_and_clear():
    memory = SpaceMemory(clock=Clock())
    memory.remember_quota(ROOT, TOKEN, quota())
    memory.remember_quota(OTHER_ROOT, None, quota())
    memory.forget_quota(ROOT, TOKEN)
    assert memory.known_quota(ROOT, TOKEN) is None
    assert memory.known_quota(OTHER_ROOT, None) is not None
    memory.clear()
    assert memory.known_quota(OTHER_ROOT, None) is None


def test_quota_status():
    clock = Clock()
    memory = SpaceMemory(clock=clock)
    assert memory.quota_status(ROOT, None) == {
        "space": ROOT,
        "available": True,
        "retry_after": None,
        "tier": "anonymous",
        "message": None,
    }
    assert memory.quota_status(ROOT, TOKEN)["tier"] is None
    memory.remember_quota(ROOT, TOKEN, quota())
    clock.now += 2.0
    assert memory.quota_status(ROOT, TOKEN) == {
        "space": ROOT,
        "available": False,
        "retry_after": pytest.approx(310.0),
        "tier": "free",
        "message": FREE_QUOTA.strip(),
    }


def test_the_token_is_never_kept_nor_shown():
    memory = SpaceMemory(clock=Clock())
    memory.remember_quota(ROOT, TOKEN, quota())
    assert TOKEN not in repr(memory)
    assert TOKEN not in repr(vars(memory))
    known = memory.known_quota(ROOT, TOKEN)
    assert known is not None
    assert TOKEN not in str(known)
