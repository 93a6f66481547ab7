"""Every ZeroGPU message, row by row: what ``_zerogpu`` reads and what error it becomes.

The texts are those of Hugging Face's ``spaces`` package (0.51.3,
``spaces/zero/client.py``), as a Space on ZeroGPU sends them: the title of
``gr.Error``/``gr.Info`` and the text. Gradio 5 and 6 send the title; Gradio
4.44 sends none (``title`` ``None``), and its queue quotes a job's error
(``repr``), which :func:`~g4f_flux_plugin._errors.error_from_space` undoes.
Rows are named ``<title or 4.44>-<case>``.
"""

from __future__ import annotations

import pytest

from g4f_flux_plugin._errors import QuotaExceededError, SpaceBusyError, SpaceError, error_from_space
from g4f_flux_plugin._zerogpu import classify, quota_tier, token_warning

QUOTA = "ZeroGPU quota exceeded"
TOKENS_URL = "https://huggingface.co/settings/tokens"
PRO_URL = "https://huggingface.co/subscribe/pro?from=ZeroGPU"
CREDITS_URL = "https://huggingface.co/settings/billing?add-credits=true"
ANONYMOUS_HINT = f"Authenticate with a Hugging Face token for more quota - {TOKENS_URL}"
FREE_HINT = f"Subscribe to Hugging Face PRO to get 40 min of ZeroGPU quota a day - {PRO_URL}"
PRO_HINT = f"Add credits to keep using ZeroGPU. $1 for 10 minutes of ZeroGPU inference - {CREDITS_URL}"


def quota_text(gpu: str, hint: str = "") -> str:
    return f"You have exceeded your {gpu} quota (60s requested vs. 13s left). Try again in 0:05:12. {hint}"


RUNS_LIMIT = "You have exceeded your ZeroGPU runs limit. "
GPU_LIMIT = "Space app has reached its GPU limit. Try re-running outside of examples if it happened after clicking one"
NO_TOKEN_TIMEOUT = (
    "No GPU was available after 60s. Try re-running outside of examples if it happened after clicking one"
)
ANONYMOUS_TIMEOUT = (
    "No GPU was available after 60s [Create a free account](https://huggingface.co/join) "
    "to get a higher priority in ZeroGPU queues."
)
FREE_TIMEOUT = (
    "No GPU was available after 60s [Subscribe to Pro](https://huggingface.co/subscribe/pro?from=ZeroGPU) "
    "to get the highest priority in ZeroGPU queues."
)
PRO_TIMEOUT = "No GPU was available after 60s Retry later"
PENDING = (
    "You have too many ZeroGPU credits allocated to running tasks. "
    "Try again once some of those tasks have completed."
)
ILLEGAL = "The requested GPU duration (120s) is larger than the maximum allowed"
ILLEGAL_WITH_HINT = ILLEGAL + f"Subscribe to Hugging Face PRO to allow GPU tasks up to 40 min - {PRO_URL}"
FALLBACK = "Falling back to IP-based quotas (Invalid credentials in Authorization header)"

# (title, text, outcome, error class, reason or tier, retry_after)
ROWS = [
    # -- quota: QuotaExceededError, with its tier -----------------------------------
    pytest.param(QUOTA, quota_text("ZeroGPU", ANONYMOUS_HINT), "quota", QuotaExceededError, "anonymous", 312.0,
                 id="quota-anonymous"),
    pytest.param(QUOTA, quota_text("free ZeroGPU", FREE_HINT), "quota", QuotaExceededError, "free", 312.0,
                 id="quota-free"),
    pytest.param(QUOTA, quota_text("Pro ZeroGPU", PRO_HINT), "quota", QuotaExceededError, "pro", 312.0,
                 id="quota-pro"),
    # A browser's call (x-gradio-user: app) gets no hint: the tier word alone.
    pytest.param(QUOTA, quota_text("free ZeroGPU"), "quota", QuotaExceededError, "free", 312.0,
                 id="quota-free-no-hint"),
    pytest.param(QUOTA, quota_text("Pro ZeroGPU"), "quota", QuotaExceededError, "pro", 312.0,
                 id="quota-pro-no-hint"),
    pytest.param(QUOTA, RUNS_LIMIT + ANONYMOUS_HINT, "quota", QuotaExceededError, "anonymous", None,
                 id="runs-limit-anonymous"),
    pytest.param(QUOTA, RUNS_LIMIT + FREE_HINT, "quota", QuotaExceededError, "free", None,
                 id="runs-limit-free"),
    pytest.param(QUOTA, RUNS_LIMIT + PRO_HINT, "quota", QuotaExceededError, "pro", None,
                 id="runs-limit-pro"),
    pytest.param(QUOTA, RUNS_LIMIT, "quota", QuotaExceededError, None, None, id="runs-limit-no-hint"),
    pytest.param(QUOTA, GPU_LIMIT, "quota", QuotaExceededError, None, None, id="space-gpu-limit"),
    pytest.param(None, quota_text("free ZeroGPU", FREE_HINT), "quota", QuotaExceededError, "free", 312.0,
                 id="4.44-quota-free"),
    pytest.param(None, quota_text("ZeroGPU", ANONYMOUS_HINT), "quota", QuotaExceededError, "anonymous", 312.0,
                 id="4.44-quota-anonymous"),
    pytest.param(None, RUNS_LIMIT, "quota", QuotaExceededError, None, None, id="4.44-runs-limit"),
    pytest.param(None, GPU_LIMIT, "quota", QuotaExceededError, None, None, id="4.44-space-gpu-limit"),
    # An unknown text under the quota title is still a quota (the title helps).
    pytest.param(QUOTA, "Something new about your quota", "quota", QuotaExceededError, None, None,
                 id="quota-title-unknown-text"),
    # -- busy: SpaceBusyError, retried with backoff ----------------------------------
    pytest.param(QUOTA, NO_TOKEN_TIMEOUT, "queue_timeout", SpaceBusyError, "queue_timeout", None,
                 id="queue-timeout-under-quota-title"),
    pytest.param("ZeroGPU queue timeout", ANONYMOUS_TIMEOUT, "queue_timeout", SpaceBusyError, "queue_timeout",
                 None, id="queue-timeout-anonymous"),
    pytest.param("ZeroGPU queue timeout", FREE_TIMEOUT, "queue_timeout", SpaceBusyError, "queue_timeout", None,
                 id="queue-timeout-free"),
    pytest.param("ZeroGPU queue timeout", PRO_TIMEOUT, "queue_timeout", SpaceBusyError, "queue_timeout", None,
                 id="queue-timeout-pro"),
    pytest.param("ZeroGPU client error", "No GPU was available", "no_gpu", SpaceBusyError, "no_gpu", None,
                 id="scheduler-503"),
    pytest.param("ZeroGPU pending credits exceeded", PENDING, "pending_credits", SpaceBusyError,
                 "pending_credits", None, id="pending-credits"),
    pytest.param("ZeroGPU client error", "Expired ZeroGPU proxy token", "expired_token", SpaceBusyError,
                 "expired_token", None, id="scheduler-401-expired-token"),
    pytest.param(None, NO_TOKEN_TIMEOUT, "queue_timeout", SpaceBusyError, "queue_timeout", None,
                 id="4.44-queue-timeout-no-token"),
    pytest.param(None, ANONYMOUS_TIMEOUT, "queue_timeout", SpaceBusyError, "queue_timeout", None,
                 id="4.44-queue-timeout"),
    pytest.param(None, "No GPU was available", "no_gpu", SpaceBusyError, "no_gpu", None, id="4.44-scheduler-503"),
    pytest.param(None, PENDING, "pending_credits", SpaceBusyError, "pending_credits", None,
                 id="4.44-pending-credits"),
    pytest.param(None, "Expired ZeroGPU proxy token", "expired_token", SpaceBusyError, "expired_token", None,
                 id="4.44-expired-token"),
    # -- failed: SpaceError with the Space's words, not retried ---------------------
    pytest.param("ZeroGPU illegal duration", ILLEGAL, "failed", SpaceError, None, None, id="illegal-duration"),
    pytest.param("ZeroGPU illegal duration", ILLEGAL_WITH_HINT, "failed", SpaceError, None, None,
                 id="illegal-duration-hint-glued"),
    pytest.param("ZeroGPU worker error", "GPU task aborted", "failed", SpaceError, None, None,
                 id="worker-aborted"),
    pytest.param("ZeroGPU worker error", "RuntimeError", "failed", SpaceError, None, None,
                 id="worker-exception-name"),
    pytest.param(None, ILLEGAL_WITH_HINT, "failed", SpaceError, None, None, id="4.44-illegal-duration"),
    pytest.param(None, "GPU task aborted", "failed", SpaceError, None, None, id="4.44-worker-aborted"),
]  # fmt: skip


@pytest.mark.parametrize(("title", "text", "outcome", "cls", "detail", "retry_after"), ROWS)
def test_each_zerogpu_error_is_read_and_raised_as_documented(title, text, outcome, cls, detail, retry_after):
    assert classify(title, text.strip()) == outcome
    error = error_from_space(text, title)
    assert type(error) is cls
    assert error.message == text.strip()
    if cls is QuotaExceededError:
        assert error.tier == detail
        assert quota_tier(text) == detail
        assert error.retry_after == retry_after
        assert error.title == (title or QUOTA)
    elif cls is SpaceBusyError:
        assert error.reason == detail
        assert error.retry_after is None
        assert error.title is not None and error.title.startswith("ZeroGPU")
    else:
        assert error.title == title
        assert text.strip() in str(error)


@pytest.mark.parametrize(
    ("title", "text", "outcome", "cls", "detail", "retry_after"),
    [row for row in ROWS if row.id.startswith("4.44-")],
)
def test_gradio4_quotes_change_nothing(title, text, outcome, cls, detail, retry_after):
    # Gradio 4.44's queue sends repr(message), and no title.
    assert title is None
    error = error_from_space(repr(text.strip()), None)
    assert type(error) is cls
    assert error.message == text.strip()


def test_an_anonymous_quota_says_in_plain_words_that_a_token_gives_more():
    error = error_from_space(quota_text("ZeroGPU", ANONYMOUS_HINT), QUOTA)
    assert "A Hugging Face token (HF_TOKEN" in str(error)
    for tier_text in (quota_text("free ZeroGPU", FREE_HINT), quota_text("Pro ZeroGPU", PRO_HINT), GPU_LIMIT):
        assert "HF_TOKEN" not in str(error_from_space(tier_text, QUOTA))


@pytest.mark.parametrize(
    ("title", "text"),
    [
        pytest.param("ZeroGPU queue", "Waiting for a GPU to become available", id="waiting-node"),
        pytest.param("ZeroGPU queue", "Waiting for a GPU slot on this Space", id="waiting-concurrency"),
        pytest.param("ZeroGPU queue", "Successfully acquired a GPU", id="acquired"),
        pytest.param("ZeroGPU client warning", "GPU device not used", id="device-not-used"),
        pytest.param(
            "ZeroGPU duration",
            "GPU task is exceeding its requested duration and might be aborted",
            id="duration",
        ),
        pytest.param(None, "Waiting for a GPU to become available", id="4.44-waiting"),
        pytest.param(None, "Successfully acquired a GPU", id="4.44-acquired"),
    ],
)
def test_toasts_are_progress(title, text):
    assert classify(title, text) == "progress"
    assert token_warning(title, text) is None


@pytest.mark.parametrize("title", ["ZeroGPU client warning", None], ids=["titled", "4.44"])
def test_the_fallback_toast_is_a_token_warning_in_plain_words(title):
    assert classify(title, FALLBACK) == "token_warning"
    assert token_warning(title, FALLBACK) == (
        "the Space did not accept your Hugging Face token (Invalid credentials in Authorization header), "
        "so this generation uses the anonymous quota"
    )


def test_a_fallback_without_a_reason_still_warns():
    assert "(no reason given)" in (token_warning(None, "Falling back to IP-based quotas") or "")


@pytest.mark.parametrize(
    ("title", "text"),
    [("Error", "CUDA out of memory"), (None, "CUDA out of memory"), (None, None), ("Error", None)],
)
def test_other_messages_are_not_zerogpus(title, text):
    assert classify(title, text) is None
    assert type(error_from_space(text, title)) is SpaceError


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("You have exceeded your GPU quota (60s requested vs. 56s left).", None),  # older wording
        (quota_text("ZeroGPU"), "anonymous"),  # "your ZeroGPU quota": a caller without an account
        (None, None),
    ],
)
def test_quota_tier_of_other_texts(text, tier):
    assert quota_tier(text) == tier
