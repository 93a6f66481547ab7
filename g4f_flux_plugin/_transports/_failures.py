"""Connection failures in plain words, shared by the transports.

A library's class name (``ClientConnectorError``, ``curl: (7)``) explains
nothing to a user; each transport maps its library's error to one of the
reasons below and raises :class:`~.._errors.SpaceConnectError` with the
origin, keeping the library's exception chained with ``from``.
"""

from __future__ import annotations

import errno
import socket
import ssl

__all__ = ["HOST_NOT_FOUND", "REFUSED", "TIMED_OUT", "os_reason", "tls_reason"]

REFUSED = "connection refused (nothing accepts connections there)"
HOST_NOT_FOUND = "host not found"
TIMED_OUT = "timed out connecting"
UNREACHABLE = "network or host unreachable"
RESET = "connection reset by the server"
PROXY = "cannot connect through the proxy"

_BY_ERRNO = {
    errno.ECONNREFUSED: REFUSED,
    errno.ETIMEDOUT: TIMED_OUT,
    errno.ENETUNREACH: UNREACHABLE,
    errno.EHOSTUNREACH: UNREACHABLE,
    errno.ECONNRESET: RESET,
    errno.ECONNABORTED: RESET,
}


def tls_reason(host: str, detail: str | None) -> str:
    """A certificate the client does not trust for ``host``."""
    return f"TLS certificate not valid for {host}" + (f" ({detail})" if detail else "")


def os_reason(error: BaseException | None, host: str) -> str | None:
    """The plain reason for an ``OSError`` raised while connecting, or ``None``."""
    if isinstance(error, socket.gaierror):
        return HOST_NOT_FOUND
    if isinstance(error, ssl.SSLCertVerificationError):
        return tls_reason(host, getattr(error, "verify_message", None))
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake with {host} failed ({error.reason or error})"
    if isinstance(error, TimeoutError):
        return TIMED_OUT
    if isinstance(error, OSError) and error.errno in _BY_ERRNO:
        return _BY_ERRNO[error.errno]
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    return None
