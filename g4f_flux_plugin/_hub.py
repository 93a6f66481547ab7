"""A small client of the Hugging Face Hub's API: where a Space runs, and its state.

Two routes, both anonymous for a public Space:

- ``GET {hub}/api/spaces/{id}``: ``host`` (``https://owner-name.hf.space``)
  and ``subdomain``. The host cannot be derived from the id reliably
  (gradio_client asks the Hub too), so an id is resolved once per process
  and kept in a :class:`SpaceHosts` its owner holds.
- ``GET {hub}/api/spaces/{id}/runtime``: ``stage`` and ``errorMessage``.

The Hub is ``$HF_ENDPOINT`` (huggingface_hub's variable), else
``https://huggingface.co``. Requests go through the caller's transport (so
its proxy). The token goes to the Hub's origin alone, as
``Authorization: Bearer ...`` (what huggingface_hub sends the Hub API), and
only over https or to a loopback host.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ._errors import SpaceProtocolError, SpaceStatusError, SpaceUnavailableError
from ._http import HttpClient, is_loopback, origin_label, origin_of
from ._spaces import DEFAULT_HUB, HUB_ENV, SpaceHosts, hub_endpoint
from ._transports import Transport

__all__ = ["DEFAULT_HUB", "HUB_ENV", "HubClient", "SpaceHosts", "SpaceRuntime", "hub_endpoint"]

log = logging.getLogger(__package__)


@dataclass(frozen=True)
class SpaceRuntime:
    """What the Hub says of a Space's state: ``stage`` (``"RUNNING"``,
    ``"SLEEPING"``, ``"PAUSED"``, ...; ``None`` if it gave none) and its
    ``error_message`` (the Hub's ``errorMessage``)."""

    stage: str | None
    error_message: str | None = None


def _not_found(space_id: str) -> SpaceUnavailableError:
    return SpaceUnavailableError(
        f"the Space {space_id} was not found on the Hub, or it is private and the token "
        "cannot read it (check the id; for a private Space, use a token of an account "
        "that can read it: --token, HF_TOKEN or `hf auth login`)"
    )


class HubClient:
    """Asks the Hub about Spaces, over the caller's transport."""

    def __init__(self, transport: Transport, token: str | None = None, endpoint: str | None = None) -> None:
        self.endpoint = (endpoint or hub_endpoint()).rstrip("/")
        scheme, host, _ = origin_of(self.endpoint)
        if token and scheme == "http" and not is_loopback(host):
            # Never in clear text across a network: the Hub is asked anonymously.
            log.debug("not sending the token to the Hub at %s: plain http", origin_label(self.endpoint))
            token = None
        self._http = HttpClient(transport, self.endpoint, token, token_header="authorization")

    def __repr__(self) -> str:  # the token never appears in a repr
        return f"<HubClient {self.endpoint}>"

    async def _get(self, space_id: str, route: str, what: str) -> dict[str, Any]:
        url = f"{self.endpoint}/api/spaces/{quote(space_id, safe='/')}{route}"
        try:
            data = await self._http.json("GET", url, what=f"asking the Hub {what} {space_id}")
        except SpaceStatusError as error:
            if error.status in (401, 403, 404):  # RepoNotFound: missing, or private to us
                raise _not_found(space_id) from error
            raise
        if not isinstance(data, dict):
            raise SpaceProtocolError(f"the Hub's answer about {space_id} is not a JSON object")
        return data

    async def space_root(self, space_id: str) -> str:
        """The root URL where ``space_id`` runs (its ``host``, else its
        ``subdomain`` on ``hf.space``)."""
        info = await self._get(space_id, "", "where runs")
        host = info.get("host")
        if isinstance(host, str) and host.strip():
            root = host.strip().rstrip("/")
            root = root if "://" in root else f"https://{root}"
        elif isinstance(info.get("subdomain"), str) and info["subdomain"]:
            root = f"https://{info['subdomain']}.hf.space"
        else:
            # No host: the Space has never run (or is not a Gradio app); its
            # runtime says why.
            runtime = await self.runtime(space_id)
            raise SpaceUnavailableError(
                f"the Hub gives no address for the Space {space_id} (stage {runtime.stage or 'unknown'})",
                runtime.stage,
            )
        origin_of(root)  # an http(s) URL, or SpaceProtocolError
        return root

    async def runtime(self, space_id: str) -> SpaceRuntime:
        """The Space's stage and error message, as the Hub reports them now."""
        data = await self._get(space_id, "/runtime", "the state of")
        stage = data.get("stage")
        message = data.get("errorMessage")
        return SpaceRuntime(
            stage if isinstance(stage, str) and stage else None,
            message.strip()[:1000] if isinstance(message, str) and message.strip() else None,
        )
