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

__all__ = [
    "HOST_NOT_FOUND",
    "REFUSED",
    "TIMED_OUT",
    "TOO_MANY_FILES",
    "os_reason",
    "out_of_descriptors",
    "tls_reason",
]

REFUSED = "connection refused (nothing accepts connections there)"
HOST_NOT_FOUND = "host not found"
TIMED_OUT = "timed out connecting"
UNREACHABLE = "network or host unreachable"
RESET = "connection reset by the server"
PROXY = "cannot connect through the proxy"
TOO_MANY_FILES = "too many open files: raise the limit (ulimit -n)"

_BY_ERRNO = {
    errno.ECONNREFUSED: REFUSED,
    errno.ETIMEDOUT: TIMED_OUT,
    errno.ENETUNREACH: UNREACHABLE,
    errno.EHOSTUNREACH: UNREACHABLE,
    errno.ECONNRESET: RESET,
    errno.ECONNABORTED: RESET,
    # Out of descriptors for a new socket: this process (EMFILE) or the whole
    # system (ENFILE). Many generations at once is the usual cause.
    errno.EMFILE: TOO_MANY_FILES,
    errno.ENFILE: TOO_MANY_FILES,
}


def out_of_descriptors() -> bool:
    """Whether this process can open no more file descriptors right now.

    For libraries that do not say why a socket could not be made: it opens
    (and closes at once) one socket.
    """
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError as error:
        return error.errno in (errno.EMFILE, errno.ENFILE)
    probe.close()
    return False


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
