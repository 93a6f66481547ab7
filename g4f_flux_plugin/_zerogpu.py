"""ZeroGPU's messages, read into outcomes: pure, no I/O, no state.

A Space on ZeroGPU runs its function under ``@spaces.GPU`` (Hugging Face's
``spaces`` package, ``spaces/zero/client.py``), which asks HF's GPU scheduler
for a GPU first. Every ZeroGPU message a caller meets comes from there, as a
``gr.Error(text, title=...)`` that fails the job or as a toast (a queue
``log`` message)::

    title                             text (start)                                   outcome
    ZeroGPU quota exceeded            You have exceeded your [free |Pro ]ZeroGPU     quota
                                      quota (...). Try again in 0:05:12.
    ZeroGPU quota exceeded            You have exceeded your ZeroGPU runs limit.     quota
    ZeroGPU quota exceeded            Space app has reached its GPU limit. ...       quota
    ZeroGPU quota exceeded            No GPU was available after 60s. Try re-...     queue_timeout
    ZeroGPU queue timeout             No GPU was available after 60s ...             queue_timeout
    ZeroGPU client error              No GPU was available                           no_gpu
    ZeroGPU client error              Expired ZeroGPU proxy token                    expired_token
    ZeroGPU pending credits exceeded  You have too many ZeroGPU credits ...          pending_credits
    ZeroGPU illegal duration          The requested GPU duration (Ns) is larger ...  failed
    ZeroGPU worker error              GPU task aborted (or an exception's name)      failed
    ZeroGPU client warning            Falling back to IP-based quotas (...)          token_warning
    ZeroGPU client warning / queue /  GPU device not used, Waiting for a GPU ...,    progress
    duration                          Successfully acquired a GPU, ...

Gradio 4.44 sends no titles at all, so the text decides and the title only
helps (a title that says "quota" with a text we do not know is still a
quota). The tier of a quota is read from the text: "free ZeroGPU" / "Pro
ZeroGPU", else the hint that API callers get ("Authenticate with a Hugging
Face token" for anonymous callers, "Subscribe to Hugging Face PRO" for free
accounts, "Add credits" for PRO ones).
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "BUSY_OUTCOMES",
    "Outcome",
    "Tier",
    "classify",
    "quota_tier",
    "token_warning",
]

#: What a ZeroGPU message means for the caller.
Outcome = Literal[
    "quota",  # the caller's quota (or the Space's GPU limit) is spent: wait, or go elsewhere
    "queue_timeout",  # no GPU came within the scheduler's wait: try again later
    "no_gpu",  # the scheduler answered 503: try again later
    "pending_credits",  # too many of the caller's tasks at once: try again once some end
    "expired_token",  # the Space's proxy token expired: a new request gets a new one
    "failed",  # the Space cannot run this job (illegal duration, the GPU worker died)
    "token_warning",  # HF's front did not accept the caller's token: anonymous quota used
    "progress",  # a toast about the GPU queue: shown, nothing else
]
#: Whose quota a message speaks of.
Tier = Literal["anonymous", "free", "pro"]

#: The outcomes worth a retry with backoff (raised as ``SpaceBusyError`` in the end).
BUSY_OUTCOMES: frozenset[Outcome] = frozenset({"queue_timeout", "no_gpu", "pending_credits", "expired_token"})

_NO_GPU = re.compile(r"no gpu was available", re.IGNORECASE)
_QUEUE_WAIT = re.compile(r"no gpu was available after \d+", re.IGNORECASE)
_EXPIRED = re.compile(r"expired zerogpu proxy token", re.IGNORECASE)
_PENDING = re.compile(r"too many zerogpu credits|pending credits", re.IGNORECASE)
_ILLEGAL = re.compile(r"requested gpu duration|illegal duration", re.IGNORECASE)
_WORKER = re.compile(r"zerogpu worker error|gpu task aborted", re.IGNORECASE)
_QUOTA_TEXT = re.compile(r"exceeded your .*?(quota|limit)|reached its GPU limit|runs limit", re.IGNORECASE)
_FALLBACK = re.compile(r"falling back to ip-based quotas?\s*(?:\((.*)\))?", re.IGNORECASE | re.DOTALL)
_TOAST_TEXT = re.compile(
    r"waiting for a gpu|successfully acquired a gpu|gpu device not used|exceeding its requested duration",
    re.IGNORECASE,
)

_TIER_WORDS: tuple[tuple[re.Pattern[str], Tier], ...] = (
    (re.compile(r"\bfree ZeroGPU\b", re.IGNORECASE), "free"),
    (re.compile(r"\bPro ZeroGPU\b", re.IGNORECASE), "pro"),
    # The hints API callers get name the next step up from the caller's tier.
    (re.compile(r"Authenticate with a Hugging Face token", re.IGNORECASE), "anonymous"),
    (re.compile(r"Subscribe to Hugging Face PRO", re.IGNORECASE), "free"),
    (re.compile(r"Add credits", re.IGNORECASE), "pro"),
    # `spaces` writes "your ZeroGPU quota" (no tier word) for a caller it
    # could not authenticate.
    (re.compile(r"exceeded your ZeroGPU quota", re.IGNORECASE), "anonymous"),
)


def classify(title: str | None, text: str | None) -> Outcome | None:
    """What a ZeroGPU message means, or ``None`` when it is not one of ZeroGPU's.

    ``title`` is the Gradio title (``None`` on Gradio 4.44, which sends none)
    and ``text`` the message, HTML links already stripped. A job's error and a
    toast are told apart by the caller; this reads only the words.
    """
    words = text or ""
    heading = title or ""
    # Order matters: "No GPU was available after 60s" also comes under the
    # quota title (a caller without a quota identity), and is not a quota.
    if _EXPIRED.search(words):
        return "expired_token"
    if _NO_GPU.search(words):
        if _QUEUE_WAIT.search(words) or "queue" in heading.lower() or "quota" in heading.lower():
            return "queue_timeout"
        return "no_gpu"
    if _PENDING.search(words) or "pending credits" in heading.lower():
        return "pending_credits"
    if _FALLBACK.search(words):
        return "token_warning"
    if _QUOTA_TEXT.search(words) or "quota" in heading.lower():
        return "quota"
    if _ILLEGAL.search(words) or _ILLEGAL.search(heading) or _WORKER.search(heading) or _WORKER.search(words):
        return "failed"
    if _TOAST_TEXT.search(words) or heading.lower().startswith("zerogpu"):
        return "progress"
    return None


def quota_tier(text: str | None) -> Tier | None:
    """The tier a quota text speaks of, or ``None`` when it does not say."""
    for pattern, tier in _TIER_WORDS:
        if text and pattern.search(text):
            return tier
    return None


def token_warning(title: str | None, text: str | None) -> str | None:
    """The plain-words warning for ZeroGPU's "Falling back to IP-based quotas
    (<reason>)" toast, or ``None`` for any other message."""
    match = _FALLBACK.search(text or "")
    if match is None:
        return None
    reason = (match.group(1) or "").strip() or "no reason given"
    return (
        f"the Space did not accept your Hugging Face token ({reason}), "
        "so this generation uses the anonymous quota"
    )
