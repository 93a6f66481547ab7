"""Properties of ZeroGPU's retry hints: every wait the Space can write is read back.

ZeroGPU writes the wait with Python's ``str(timedelta)``: ``0:05:12``,
``23:59:09.500000``, ``1 day, 0:00:05``, ``3 days, 1:02:03``. Whatever the
duration, :func:`parse_retry_after` must return its seconds, in the current
wording ("Try again in ...") and in the older one ("... or retry in ...").
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import example, given, strategies as st

from g4f_flux_plugin._errors import QuotaExceededError, error_from_space, parse_retry_after

# ZeroGPU's quota resets 24 h after first use; a year bounds any wait it could state.
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=366))

CURRENT = "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in {}."
OLDER = (
    "You have exceeded your GPU quota (60s requested vs. 56s left). "
    "Sign-up on Hugging Face to get more quotas or retry in {}"
)
API_SUFFIX = " Authenticate with a Hugging Face token for more quota - https://huggingface.co/settings/tokens"


@given(durations)
@example(timedelta(minutes=5, seconds=12))  # "0:05:12", the common case
@example(timedelta(days=1, seconds=5))  # "1 day, 0:00:05": missed before
@example(timedelta(hours=23, minutes=59, seconds=9))  # "23:59:09"
@example(timedelta(days=3, hours=1, minutes=2, seconds=3))  # "3 days, 1:02:03"
@example(timedelta(seconds=1, microseconds=500000))  # "0:00:01.500000"
@example(timedelta(0))  # "0:00:00"
def test_every_wait_in_the_current_wording_is_read(wait):
    assert parse_retry_after(CURRENT.format(wait)) == wait.total_seconds()


@given(durations)
@example(timedelta(minutes=6, seconds=53))  # "retry in 0:06:53", the older wording: missed before
@example(timedelta(seconds=136, microseconds=1187))  # float sums are not exact: 136.00118700000002
def test_every_wait_in_the_older_wording_is_read(wait):
    assert parse_retry_after(OLDER.format(wait)) == wait.total_seconds()


@given(durations)
def test_a_quota_error_carries_the_wait_with_the_api_suffix(wait):
    error = error_from_space(CURRENT.format(wait) + API_SUFFIX, "ZeroGPU quota exceeded")
    assert isinstance(error, QuotaExceededError)
    assert error.retry_after == wait.total_seconds()


@given(st.text(alphabet=st.characters(blacklist_characters="0123456789")))
def test_a_text_without_digits_gives_no_wait(text):
    assert parse_retry_after(text) is None
