"""What a client remembers about Spaces between generations: :class:`SpaceMemory`.

Today: quotas. When a Space answers a generation with a ZeroGPU quota error
that names a wait ("Try again in 0:05:12"), asking again before the wait
passes only hears the same answer (and g4f's chains ask on every call). So
the quota is remembered for that Space root and that token until the wait
passes, and a generation asked meanwhile raises the same
:class:`~._errors.QuotaExceededError` at once, without a request, its
``retry_after`` counting down. Another token, or another Space, is asked as
usual.

The token is never stored: the key holds a keyed hash of it (HMAC-SHA256
under a random key of this memory's own, so the key says nothing outside
this process). Time is a monotonic clock, which a test may replace.

And unavailable Spaces: one found paused, failed, missing or private
(:class:`~._errors.SpaceUnavailableError`) is remembered for a minute, so a
list of Spaces skips it at once meanwhile (see :mod:`._failover`). It is
remembered per token too: a Space private to one token is missing to every
other, and a token must not be barred from a Space it can reach because
another token could not.

Owned like :class:`~._config.ConfigCache`: a class attribute of
:class:`~._client.FluxClient` and of the g4f provider, which their clients
share; ``SpaceMemory(remember_quotas=False)`` remembers nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from ._errors import QuotaExceededError, SpaceUnavailableError
from ._zerogpu import Tier

__all__ = ["UNAVAILABLE_FOR", "QuotaStatus", "SpaceMemory"]

#: Seconds an unavailable Space is remembered (a paused Space stays paused;
#: one in error is fixed by its owner, which takes longer than this).
UNAVAILABLE_FOR = 60.0


class QuotaStatus(TypedDict):
    """What is known of a caller's ZeroGPU quota on one Space, without a request.

    ``space`` is the Space's root; ``available`` is ``False`` while a
    remembered quota runs; ``retry_after`` the seconds left of it (``None``
    when none is remembered); ``tier`` whose quota it is (``"anonymous"``,
    ``"free"``, ``"pro"``, or ``None`` when unknown); ``message`` the Space's
    own words of the remembered error, else ``None``.
    """

    space: str
    available: bool
    retry_after: float | None
    tier: Tier | None
    message: str | None


@dataclass(frozen=True)
class _Quota:
    error: QuotaExceededError
    until: float  # on this memory's clock


class SpaceMemory:
    """What a client remembers about Spaces, per Space root and token.

    ``clock`` is a monotonic clock in seconds (``time.monotonic``; a test
    passes its own). With ``remember_quotas=False`` no quota is remembered:
    every generation asks the Space. Safe to share between threads and
    event loops (g4f may run a provider in several).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, remember_quotas: bool = True) -> None:
        self.clock = clock
        self.remember_quotas = remember_quotas
        self._secret = os.urandom(32)
        self._lock = threading.Lock()
        self._quotas: dict[tuple[str, str], _Quota] = {}
        self._unavailable: dict[tuple[str, str], tuple[SpaceUnavailableError, float]] = {}

    def __repr__(self) -> str:  # keys are hashes, but even those stay out of reprs
        return f"<SpaceMemory quotas={len(self._quotas)} unavailable={len(self._unavailable)}>"

    def _key(self, root: str, token: str | None) -> tuple[str, str]:
        who = "" if not token else hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()
        return root.rstrip("/"), who

    # -- quotas --------------------------------------------------------------
    def remember_quota(self, root: str, token: str | None, error: QuotaExceededError) -> None:
        """Remember ``error`` for ``root`` and ``token`` until its wait passes.

        A quota with no wait (the runs limit, the Space's GPU limit) or an
        error that was itself remembered is not (re)recorded.
        """
        wait = error.retry_after
        if not self.remember_quotas or error.remembered or wait is None or wait <= 0:
            return
        with self._lock:
            self._quotas[self._key(root, token)] = _Quota(error, self.clock() + wait)

    def known_quota(self, root: str, token: str | None) -> QuotaExceededError | None:
        """The remembered quota of ``root`` for ``token`` as a new error to
        raise (``retry_after`` counted down, ``remembered`` set), or ``None``
        when none runs."""
        key = self._key(root, token)
        with self._lock:
            quota = self._quotas.get(key)
            if quota is None:
                return None
            left = quota.until - self.clock()
            if left <= 0:
                del self._quotas[key]
                return None
        error = quota.error
        return QuotaExceededError(error.message, error.title, left, tier=error.tier, remembered=True)

    def quota_status(self, root: str, token: str | None) -> QuotaStatus:
        """What is known of the quota of ``token`` on ``root``, without a request.

        With nothing remembered, the quota is taken to be available; its tier
        is ``"anonymous"`` without a token, else unknown.
        """
        known = self.known_quota(root, token)
        if known is None:
            return QuotaStatus(
                space=root.rstrip("/"),
                available=True,
                retry_after=None,
                tier=None if token else "anonymous",
                message=None,
            )
        return QuotaStatus(
            space=root.rstrip("/"),
            available=False,
            retry_after=known.retry_after,
            tier=known.tier,
            message=known.message,
        )

    def forget_quota(self, root: str, token: str | None) -> None:
        """Forget the quota remembered for ``root`` and ``token``, if any."""
        with self._lock:
            self._quotas.pop(self._key(root, token), None)

    # -- unavailable Spaces ---------------------------------------------------
    def remember_unavailable(
        self, space: str, error: SpaceUnavailableError, token: str | None = None
    ) -> None:
        """Remember for :data:`UNAVAILABLE_FOR` seconds that ``space`` (an id
        or a root URL) cannot run jobs for ``token`` (``None``: anonymous
        callers), and why."""
        with self._lock:
            self._unavailable[self._key(space, token)] = (error, self.clock() + UNAVAILABLE_FOR)

    def known_unavailable(self, space: str, token: str | None = None) -> SpaceUnavailableError | None:
        """The error ``space`` was found unavailable with for ``token`` in the
        last minute, else ``None``."""
        key = self._key(space, token)
        with self._lock:
            known = self._unavailable.get(key)
            if known is None:
                return None
            if known[1] <= self.clock():
                del self._unavailable[key]
                return None
        return known[0]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._quotas.clear()
            self._unavailable.clear()
