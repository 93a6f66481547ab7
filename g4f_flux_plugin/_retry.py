"""When a failed generation is tried again, and after how long."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._errors import (
    QuotaExceededError,
    SpaceBusyError,
    SpaceConnectionError,
    SpaceRateLimitError,
    SpaceStatusError,
    StreamCutError,
)

__all__ = ["RetryPolicy", "is_retryable"]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    ``attempts`` counts the first try. The ``n``-th retry waits about
    ``base * 2**n`` seconds (capped), scaled by a random factor in [0.5, 1],
    or what the Space asked for in ``Retry-After``, whichever is longer; a
    wait that would pass the deadline is not made: the error is raised.

    ``wake``: a Space given by URL alone (no Hub to ask) whose front answers
    502, 503 or 504 may be waking up, which takes from 30 s to minutes: its
    gateway errors are then retried with this backoff until the deadline,
    beyond ``attempts``. Off in a bare ``RetryPolicy()``; on in the default
    policies of ``FluxClient`` and the provider.
    """

    attempts: int = 3
    base: float = 0.5
    cap: float = 8.0
    wake: bool = False

    def delay(self, retry: int, error: BaseException) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        backoff = min(self.cap, self.base * 2.0**retry) * random.uniform(0.5, 1.0)
        asked = getattr(error, "retry_after", None)
        return max(backoff, float(asked)) if isinstance(asked, (int, float)) else backoff


def is_retryable(error: BaseException) -> bool:
    """Whether submitting again may succeed: transient network and server
    trouble only, never a quota, a validation error or a job the Space failed.

    ZeroGPU's busy answers (no GPU now, too many pending tasks) are retried
    with backoff; an expired proxy token is not retried here: the client
    submits again at once, once, by itself (a new request gets a new token)."""
    if isinstance(error, QuotaExceededError):
        return False
    if isinstance(error, SpaceBusyError):
        return error.reason != "expired_token"
    if isinstance(error, (SpaceConnectionError, StreamCutError, SpaceRateLimitError)):
        return True
    return isinstance(error, SpaceStatusError) and error.status in (408, 502, 503, 504)
