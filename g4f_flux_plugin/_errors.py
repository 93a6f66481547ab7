"""The Space client's exceptions: one tree, importing nothing of g4f::

    FluxClientError                    anything the client raises for a generation
    ├── SpaceError                     the Space ran the job and said it failed
    │   ├── JobCancelledError          the job was cancelled on the Space
    │   └── SpaceBusyError             ZeroGPU had no GPU for us now (retryable)
    ├── SpaceProtocolError             an answer we cannot read (bad JSON, no event id,
    │   │                              a size limit passed, a foreign URL scheme)
    │   ├── StreamCutError             the stream ended before a result (retryable)
    │   └── NotAGradioAppError         an HTML page where JSON was due (a front's page)
    ├── SpaceConnectionError           the connection failed or broke (retryable)
    │   └── SpaceConnectError          no connection could be made at all
    ├── SpaceStatusError               an HTTP error status (``status``)
    │   ├── SpaceRateLimitError        429, or the queue is full (``retry_after``)
    │   │   └── QuotaExceededError     ZeroGPU quota, with ``retry_after``
    │   └── SpaceAuthError             401/403 from the Space
    ├── SpaceUnavailableError          the Space cannot run jobs now: paused, in error,
    │                                  missing or private (``stage``, from the Hub)
    └── SpaceTimeoutError              the generation's deadline passed

The g4f provider raises the same classes seen through g4f: for each of them,
:mod:`._g4f_errors` has a subclass that also inherits g4f's matching error
(``RateLimitError`` for a quota, ``MissingAuthError``, ``ResponseStatusError``,
``TimeoutError``, ``ResponseError``), raised ``from`` the client's. So
``except g4f.errors.RateLimitError`` and ``except QuotaExceededError`` both
catch a quota from the provider, and the client alone never imports g4f.

Messages carry the Space's own words and never a token, a header or a body
longer than a short excerpt.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Literal

from ._zerogpu import Outcome, Tier, classify, quota_tier

__all__ = [
    "FluxClientError",
    "JobCancelledError",
    "NotAGradioAppError",
    "QuotaExceededError",
    "SpaceAuthError",
    "SpaceBusyError",
    "SpaceConnectError",
    "SpaceConnectionError",
    "SpaceError",
    "SpaceProtocolError",
    "SpaceRateLimitError",
    "SpaceStatusError",
    "SpaceTimeoutError",
    "SpaceUnavailableError",
    "StreamCutError",
    "error_from_space",
    "error_from_status",
    "parse_retry_after",
]


class FluxClientError(Exception):
    """The root of every error the Space client raises for a generation."""


class SpaceError(FluxClientError):
    """The Space ran the job and reported a failure.

    ``title`` is the Space's title for it (Gradio's ``gr.Error(title=...)``,
    ``"Error"`` by default); ``message`` its text, or ``None`` where the Space
    hides error details.
    """

    def __init__(self, message: str | None, title: str | None = None) -> None:
        self.message = message
        self.title = title
        super().__init__(_describe(message, title))


class JobCancelledError(SpaceError):
    """The job was cancelled on the Space before it produced an image."""


BusyReason = Literal["queue_timeout", "no_gpu", "pending_credits", "expired_token"]


class SpaceBusyError(SpaceError):
    """ZeroGPU found no GPU for the job now; the same job may run later.

    ``reason`` is ``"queue_timeout"`` (no GPU within the scheduler's wait),
    ``"no_gpu"`` (the scheduler answered 503), ``"pending_credits"`` (too
    many of the caller's tasks at once) or ``"expired_token"`` (the Space's
    proxy token expired). The client retries it with backoff within the
    deadline (an expired token at once, once) and raises it after that.

    A :class:`SpaceError`: the Space reported it as a failed job, with a
    title and its words, and code that caught these as ``SpaceError`` before
    they had a class of their own still does. Not a rate limit: nothing the
    caller did is limited, and no wait is known (``retry_after`` is ``None``).
    """

    def __init__(self, message: str | None, title: str | None, reason: BusyReason) -> None:
        self.reason: BusyReason = reason
        self.retry_after: float | None = None
        super().__init__(message, title)


class SpaceProtocolError(FluxClientError):
    """The Space answered something this client cannot read."""


class StreamCutError(SpaceProtocolError):
    """The event stream ended before a result: the job is lost server-side."""


class NotAGradioAppError(SpaceProtocolError):
    """An HTML page came where the app's JSON was due: something in front of
    the Space (HF's front while it sleeps or starts) answered, not Gradio."""


class SpaceConnectionError(FluxClientError):
    """The connection to the Space failed, broke, or went silent too long."""


class SpaceConnectError(SpaceConnectionError):
    """No connection to the Space could be made; nothing was sent."""


class SpaceStatusError(FluxClientError):
    """The Space answered with an HTTP error status (``status``)."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


class SpaceRateLimitError(SpaceStatusError):
    """Too many requests (HTTP 429) or the Space's queue is full (HTTP 503).

    ``retry_after`` is the number of seconds the Space asked us to wait, or
    ``None`` when it did not say.
    """

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status)


class QuotaExceededError(SpaceRateLimitError):
    """ZeroGPU quota exceeded: the Space's own text, and ``retry_after`` seconds.

    Raised at once, never slept on, so a fallback chain can move on.
    ``tier`` is whose quota it was, read from the text: ``"anonymous"``,
    ``"free"``, ``"pro"``, or ``None`` when the text does not say. For an
    anonymous caller the message adds that a Hugging Face token gives more
    quota. ``remembered`` is ``True`` when no request was made: the client
    remembered the quota (see :class:`~._memory.SpaceMemory`).
    """

    def __init__(
        self,
        message: str | None,
        title: str | None,
        retry_after: float | None,
        *,
        tier: Tier | None = None,
        remembered: bool = False,
    ) -> None:
        self.message = message
        self.title = title
        self.tier: Tier | None = tier
        self.remembered = remembered
        text = _describe(message, title)
        if remembered:
            wait = f"; it ends in {timedelta(seconds=round(retry_after))}" if retry_after else ""
            text += f" (remembered from an earlier answer of the Space: no request was made{wait})"
        if tier == "anonymous":
            text += (
                " A Hugging Face token (HF_TOKEN, or api_key= / --token) gives more ZeroGPU quota "
                "than an anonymous caller gets."
            )
        super().__init__(text, status=429, retry_after=retry_after)


class SpaceAuthError(SpaceStatusError):
    """The Space refused us (HTTP 401/403): a private Space, or a bad token."""


class SpaceUnavailableError(FluxClientError):
    """The Space cannot run jobs now, and waiting will not change that.

    ``stage`` is the Hub's word for its state (``"PAUSED"``,
    ``"RUNTIME_ERROR"``, ...), or ``None`` when it is not known (a Space
    given by URL alone, or one the Hub does not show). Raised at once, never
    retried, so a list of Spaces (or g4f's chains) can move on.
    """

    def __init__(self, message: str, stage: str | None = None) -> None:
        self.stage = stage
        super().__init__(message)


#: The 49-byte body HF's front answers (with a 503) for a Space in error.
SPACE_IN_ERROR_TEXT = "Your space is in error, check its status on hf.co"


class SpaceTimeoutError(FluxClientError):
    """The generation did not end within its deadline.

    Not the builtin ``TimeoutError``: g4f's fallback code tells a provider's
    timeout apart from an ``asyncio`` one.
    """


# What each ZeroGPU message is (quota, busy, failed) is _zerogpu's table.
# The wait is Python's str(timedelta) ("0:05:12", "23:59:09.5", "1 day,
# 0:00:05", "3 days, 1:02:03"), after "Try again in" or, in the older wording,
# "... or retry in". "M:SS" is accepted too.
_TRY_AGAIN = re.compile(
    r"(?:try again|retry) in\s+(?:(\d+) days?,\s*)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]{0,500}>")


def _describe(message: str | None, title: str | None) -> str:
    if message:
        text = message.strip()
        return f"{title}: {text}" if title and title != "Error" else text
    # Gradio sends null when the Space runs with show_error=False and the
    # function raised something other than gr.Error: say so instead of "null".
    hidden = "the Space reported an error but hides its details (show_error is off)"
    return f"{title}: {hidden}" if title and title != "Error" else hidden[:1].upper() + hidden[1:]


def parse_retry_after(message: str) -> float | None:
    """Seconds in ZeroGPU's "Try again in [N day(s), ]H:MM:SS[.ffffff]" (or the
    older "retry in H:MM:SS", or "M:SS"), or ``None`` when the text gives no wait."""
    match = _TRY_AGAIN.search(message)
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    # Back through timedelta, which wrote it: exact to the microsecond, where
    # adding floats is not (136 + 0.001187 != 136.001187).
    return timedelta(
        days=int(days or 0), hours=int(hours or 0), minutes=int(minutes), seconds=float(seconds)
    ).total_seconds()


def error_from_space(message: object, title: object = None) -> SpaceError | QuotaExceededError:
    """Build the error for a job the Space reported as failed.

    ``message`` and ``title`` come straight from the Space's JSON and may be
    ``None`` or of any type; HTML links that HF appends are stripped.
    """
    text = _TAG.sub("", message).strip() if isinstance(message, str) else None
    if text and len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        # Gradio 4 reports a queue job's gr.Error as repr(message), quotes included.
        text = text[1:-1].strip()
    title_text = title if isinstance(title, str) and title else None
    if text is None and message is not None and not isinstance(message, str):
        text = str(message)[:500]
    outcome: Outcome | None = classify(title_text, text)
    if outcome == "quota":
        return QuotaExceededError(
            text,
            title_text or "ZeroGPU quota exceeded",
            parse_retry_after(text or ""),
            tier=quota_tier(text),
        )
    busy = _BUSY.get(outcome) if outcome is not None else None
    if busy is not None:
        reason, default_title = busy
        return SpaceBusyError(text, title_text or default_title, reason)
    return SpaceError(text, title_text)


# Each busy outcome's reason, and ZeroGPU's title for it (Gradio 4.44 sends none).
_BUSY: dict[Outcome, tuple[BusyReason, str]] = {
    "queue_timeout": ("queue_timeout", "ZeroGPU queue timeout"),
    "no_gpu": ("no_gpu", "ZeroGPU client error"),
    "pending_credits": ("pending_credits", "ZeroGPU pending credits exceeded"),
    "expired_token": ("expired_token", "ZeroGPU client error"),
}


def parse_retry_after_header(value: str | None) -> float | None:
    """The delay-seconds form of an HTTP ``Retry-After`` header, or ``None``."""
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _excerpt(body: bytes) -> str:
    text = body[:2000].decode("utf-8", "replace").strip()
    if text[:1] == "<":
        # An HTML error page from a proxy: its title says more than its markup.
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        return f"(HTML page: {title.group(1).strip()[:120]})" if title else "(HTML page)"
    try:
        detail = json.loads(text).get("detail")
        if isinstance(detail, str):
            return detail[:300]
    except (ValueError, AttributeError, RecursionError):
        pass
    return text[:300]


def error_from_status(status: int, body: bytes, retry_after: str | None, what: str) -> Exception:
    """Map an HTTP error status of the Space to the error a caller can act on."""
    excerpt = _excerpt(body)
    if excerpt.startswith(SPACE_IN_ERROR_TEXT):
        return SpaceUnavailableError(
            f"{what}: the Space is in error (HTTP {status}: {SPACE_IN_ERROR_TEXT}); "
            "its owner must fix or restart it: use another Space or a duplicate"
        )
    message = f"{what}: HTTP {status}" + (f" {excerpt}" if excerpt else "")
    delay = parse_retry_after_header(retry_after)
    if status in (401, 403):
        return SpaceAuthError(message, status)
    if status == 429 or (status == 503 and "queue is full" in excerpt.lower()):
        return SpaceRateLimitError(message, status, delay)
    return SpaceStatusError(message, status)
