"""A throwaway certificate authority for the network section's TLS link.

The relay that terminates TLS presents a certificate for 127.0.0.1 signed by
a CA made for this run only (``trustme``). Clients trust that CA the way a
user trusts a company's TLS proxy: through ``SSL_CERT_FILE``, which OpenSSL
reads when a default context is made. aiohttp makes its default verified
context when it is imported, so :func:`trust_throwaway_ca` must run before
anything imports aiohttp; that is how the provider "as g4f calls it" (no
transport, so aiohttp's default context) trusts the CA without a single
change to the provider. curl_cffi reads its own CA bundle, not
``SSL_CERT_FILE``: its contender gets the CA's path (``verify=``).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import available

__all__ = ["ThrowawayCA", "trust_throwaway_ca"]


@dataclass
class ThrowawayCA:
    """The CA's certificate file and the server-side context the TLS relay presents."""

    ca_path: str
    server_context: ssl.SSLContext
    _directory: tempfile.TemporaryDirectory
    _previous: str | None  # SSL_CERT_FILE before, restored by close()

    def close(self) -> None:
        """Remove the CA's file and restore ``SSL_CERT_FILE`` (later child processes
        must not inherit a path that no longer exists)."""
        if self._previous is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = self._previous
        self._directory.cleanup()


def trust_throwaway_ca() -> ThrowawayCA | None:
    """Make the CA, trust it process-wide (``SSL_CERT_FILE``, inherited by child
    processes) and return it; ``None`` when trustme is not installed. Call it
    before aiohttp is imported (see the module docstring). This process then
    trusts that CA and certifi's bundle (all it needs: it talks to 127.0.0.1
    only)."""
    if not available("trustme"):
        return None
    import trustme

    authority = trustme.CA()
    directory = tempfile.TemporaryDirectory(prefix="g4f-flux-bench-ca-")
    ca_path = str(Path(directory.name) / "ca.pem")
    # The usual bundle plus the throwaway CA, not the CA alone: a client that
    # loads its bundle for every new client or connection (httpx in
    # gradio_client, which builds one per call) then pays what it pays by
    # default, and the other sections measure it as users see it.
    authority.cert_pem.write_to_path(ca_path)
    if available("certifi"):
        import certifi

        with open(ca_path, "ab") as bundle:
            bundle.write(Path(certifi.where()).read_bytes())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = ca_path
    return ThrowawayCA(ca_path, context, directory, previous)
