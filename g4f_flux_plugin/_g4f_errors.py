"""The Space client's errors as g4f sees them (the adapter side of the error tree).

For each client error there is a subclass here that also inherits g4f's
matching error, so that g4f's fallback chains (``IterListProvider``,
``RetryProvider``), its circuit breaker and users catching ``g4f.errors``
see the types they always saw, while ``except QuotaExceededError`` (the
client's class) keeps working on what the provider raises::

    client error            g4f error it is seen as
    SpaceError              ResponseError
    JobCancelledError       ResponseError
    SpaceBusyError          ResponseError (g4f's chains move on to the next provider)
    SpaceProtocolError      ResponseError
    StreamCutError          ResponseError
    NotAGradioAppError      ResponseError
    SpaceConnectionError    ResponseError
    SpaceConnectError       ResponseError
    SpaceStatusError        ResponseStatusError
    SpaceRateLimitError     RateLimitError
    QuotaExceededError      RateLimitError
    SpaceAuthError          MissingAuthError
    SpaceTimeoutError       TimeoutError (g4f's)
    SpaceUnavailableError   ProviderNotWorkingError (so chains move on)

:func:`as_g4f` makes the g4f-facing twin of a client error (same message,
same attributes); the provider raises it ``from`` the original.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

from g4f import errors as g4f

from . import _errors as client

__all__ = ["G4F_TWINS", "as_g4f", "raising_g4f_errors"]


class SpaceError(client.SpaceError, g4f.ResponseError):
    """:class:`client.SpaceError` as a g4f ``ResponseError``."""


class JobCancelledError(client.JobCancelledError, g4f.ResponseError):
    """:class:`client.JobCancelledError` as a g4f ``ResponseError``."""


class SpaceBusyError(client.SpaceBusyError, g4f.ResponseError):
    """:class:`client.SpaceBusyError` as a g4f ``ResponseError``.

    g4f 8.8's ``IterListProvider`` and ``RetryProvider`` move on after any
    ``Exception`` of a provider that yielded no content yet (progress items
    are not content), so the class picks how the rest of g4f sees it:
    ``ResponseError``, as before it had a class of its own, and not
    ``RateLimitError``, which g4f's API and GUI report as the caller's rate
    limit (HTTP 429) and its ``config.yaml`` routes take for a spent quota.
    """


class SpaceProtocolError(client.SpaceProtocolError, g4f.ResponseError):
    """:class:`client.SpaceProtocolError` as a g4f ``ResponseError``."""


class StreamCutError(client.StreamCutError, g4f.ResponseError):
    """:class:`client.StreamCutError` as a g4f ``ResponseError``."""


class NotAGradioAppError(client.NotAGradioAppError, g4f.ResponseError):
    """:class:`client.NotAGradioAppError` as a g4f ``ResponseError``."""


class SpaceConnectionError(client.SpaceConnectionError, g4f.ResponseError):
    """:class:`client.SpaceConnectionError` as a g4f ``ResponseError``."""


class SpaceConnectError(client.SpaceConnectError, g4f.ResponseError):
    """:class:`client.SpaceConnectError` as a g4f ``ResponseError``."""


class SpaceStatusError(client.SpaceStatusError, g4f.ResponseStatusError):
    """:class:`client.SpaceStatusError` as a g4f ``ResponseStatusError``."""


class SpaceRateLimitError(client.SpaceRateLimitError, g4f.RateLimitError):
    """:class:`client.SpaceRateLimitError` as a g4f ``RateLimitError``."""


class QuotaExceededError(client.QuotaExceededError, g4f.RateLimitError):
    """:class:`client.QuotaExceededError` as a g4f ``RateLimitError``."""


class SpaceAuthError(client.SpaceAuthError, g4f.MissingAuthError):
    """:class:`client.SpaceAuthError` as a g4f ``MissingAuthError``."""


class SpaceTimeoutError(client.SpaceTimeoutError, g4f.TimeoutError):
    """:class:`client.SpaceTimeoutError` as g4f's ``TimeoutError``."""


class SpaceUnavailableError(client.SpaceUnavailableError, g4f.ProviderNotWorkingError):
    """:class:`client.SpaceUnavailableError` as g4f's ``ProviderNotWorkingError``."""


#: Client error class -> its g4f-facing twin.
G4F_TWINS: dict[type[BaseException], type[BaseException]] = {
    twin.__mro__[1]: twin
    for twin in (
        SpaceError,
        JobCancelledError,
        SpaceBusyError,
        SpaceProtocolError,
        StreamCutError,
        NotAGradioAppError,
        SpaceConnectionError,
        SpaceConnectError,
        SpaceStatusError,
        SpaceRateLimitError,
        QuotaExceededError,
        SpaceAuthError,
        SpaceTimeoutError,
        SpaceUnavailableError,
    )
}


def as_g4f(error: BaseException) -> BaseException:
    """The g4f-facing twin of a client error (the error itself for anything else).

    The twin is the same error, message and attributes, with g4f's class
    added (a subclass of a client error gets its nearest ancestor's twin);
    raise it ``from error`` so the client's traceback stays attached.
    """
    already: bool = isinstance(error, g4f.G4FError)  # (g4f's classes are Any to the checker)
    if already:
        return error
    for cls in type(error).__mro__:
        twin = G4F_TWINS.get(cls)
        if twin is not None:
            translated = twin.__new__(twin)
            translated.args = error.args
            translated.__dict__.update(vars(error))
            return translated
    return error


def raising_g4f_errors(
    generator: Callable[..., AsyncGenerator[Any, None]],
) -> Callable[..., AsyncGenerator[Any, None]]:
    """Wrap an async generator function so client errors leave it as their g4f twins.

    The wrapped generator is closed with the wrapper (``aclosing``), so a
    caller who stops early still reaches its cleanup (the job's cancel) at once.
    """

    @functools.wraps(generator)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        async with aclosing(generator(*args, **kwargs)) as items:
            try:
                async for item in items:
                    yield item
            except client.FluxClientError as error:
                raise as_g4f(error) from error

    return wrapper
