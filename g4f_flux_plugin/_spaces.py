"""Which Spaces a client uses: ids (``owner/name``), root URLs, and lists of them.

Turning what the user wrote (``space=``, ``api_base=``, ``--space``,
``$G4F_FLUX_SCHNELL_URL``) into :class:`SpaceRef` items, with no request.
An id's host comes from the Hub later (:mod:`._hub`), except for the public
Space, whose host is known, so the default costs no Hub request; the
answers are kept in a :class:`SpaceHosts` its owner holds. No request here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from ._config import PUBLIC_SPACE_URL
from ._errors import SpaceProtocolError
from ._http import origin_of

__all__ = [
    "DEFAULT_HUB",
    "HUB_ENV",
    "PUBLIC_SPACE_ID",
    "URL_ENV",
    "SpaceHosts",
    "SpaceRef",
    "SpaceSpec",
    "hub_endpoint",
    "parse_space",
    "space_refs",
]

#: The variable that names the Space(s) when the caller names none.
URL_ENV = "G4F_FLUX_SCHNELL_URL"
#: The public Space's id; its host is known, so it needs no Hub request.
PUBLIC_SPACE_ID = "black-forest-labs/FLUX.1-schnell"
#: Ids whose root is known without asking the Hub (and the other way round).
KNOWN_ROOTS = {PUBLIC_SPACE_ID: PUBLIC_SPACE_URL}
_KNOWN_IDS = {root: space_id for space_id, root in KNOWN_ROOTS.items()}

# The Hub's repo names: letters, digits, "-", "_", "."; at most 96 characters.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
# Patterns, not compiled here: re compiles (and caches) them on first use, so
# the default Space, a known URL, costs no compilation on the command line.
_ID = rf"{_NAME}/{_NAME}"
# A Space's page on the Hub, pasted as its address: https://huggingface.co/spaces/owner/name
_HUB_PAGE = rf"/spaces/({_NAME}/{_NAME})/?"


HUB_ENV = "HF_ENDPOINT"
DEFAULT_HUB = "https://huggingface.co"


def hub_endpoint() -> str:
    """The Hub's root: ``$HF_ENDPOINT``, else ``https://huggingface.co``."""
    endpoint = (os.environ.get(HUB_ENV) or DEFAULT_HUB).strip().rstrip("/")
    origin_of(endpoint)  # an http(s) URL, or SpaceProtocolError
    return endpoint


class SpaceHosts:
    """Where each Space id runs (``id -> root URL``), per Hub endpoint.

    Owned by whoever passes it in (a class attribute of ``FluxClient``), so
    an id is resolved once per process without a module global.
    """

    def __init__(self) -> None:
        self._roots: dict[tuple[str, str], str] = {}

    def get(self, hub: str, space_id: str) -> str | None:
        """The root resolved earlier, or ``None``."""
        return self._roots.get((hub, space_id))

    def put(self, hub: str, space_id: str, root: str) -> None:
        """Remember where ``space_id`` runs."""
        self._roots[(hub, space_id)] = root

    def clear(self) -> None:
        """Forget everything (a Space may move when it is renamed)."""
        self._roots.clear()


class SpaceRef:
    """One Space: its ``id`` (``owner/name``) and/or its ``root`` URL.

    Given by id, ``root`` is ``None`` until the Hub says where it runs
    (known at once for the public Space). Given by URL, ``id`` is ``None``
    (the Hub cannot be asked about its state), except for the public Space.
    Immutable and hashable. (A plain class, not a dataclass: this module is
    on the command line's cold path, and a dataclass costs its creation.)
    """

    __slots__ = ("id", "root")
    id: str | None
    root: str | None

    def __init__(self, id: str | None, root: str | None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "root", root)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SpaceRef is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpaceRef):
            return NotImplemented
        return (self.id, self.root) == (other.id, other.root)

    def __hash__(self) -> int:
        return hash((SpaceRef, self.id, self.root))

    def __repr__(self) -> str:
        return f"SpaceRef(id={self.id!r}, root={self.root!r})"

    @property
    def label(self) -> str:
        """How messages and results name it: its id, else its root URL."""
        return self.id or self.root or "?"


#: What ``space=`` takes: one id or URL, a comma-separated string of them,
#: or a sequence of strings and :class:`SpaceRef` items.
SpaceSpec = str | SpaceRef | Sequence[str | SpaceRef]


def parse_space(text: str, source: str = "space") -> SpaceRef:
    """One Space from an id, a root URL, or its page's URL on the Hub.

    ``ValueError`` in plain words for anything else, before any request
    (``source`` names where the text came from).
    """
    value = text.strip().rstrip("/")
    if value.startswith("spaces/"):  # huggingface_hub's "spaces/owner/name"
        value = value[len("spaces/") :]
    if value in _KNOWN_IDS:  # the public Space's URL: no parsing needed
        return SpaceRef(_KNOWN_IDS[value], value)
    if "://" in value:
        try:
            origin_of(value)
        except SpaceProtocolError:
            pass
        else:
            parts = urlsplit(value)
            if (parts.hostname or "").lower() in ("huggingface.co", "hf.co"):
                page = re.fullmatch(_HUB_PAGE, parts.path)
                if page:
                    return parse_space(page.group(1), source)
            return SpaceRef(None, value)
    elif re.fullmatch(_ID, value):
        return SpaceRef(value, KNOWN_ROOTS.get(value))
    raise ValueError(
        f"{source} must name a Space: an id like {PUBLIC_SPACE_ID!r} or an http(s) root URL "
        f"like {PUBLIC_SPACE_URL!r}, not {text!r}"
    )


def space_refs(
    space: SpaceSpec | None = None,
    api_base: str | None = None,
    default: str = PUBLIC_SPACE_URL,
) -> tuple[SpaceRef, ...]:
    """The Spaces to try, in order: ``space``, else ``api_base`` (its alias),
    else ``$G4F_FLUX_SCHNELL_URL``, else ``default``. Repeats are dropped."""
    chosen: SpaceSpec | None = space
    source = "space"
    if chosen is None or chosen == "" or chosen == []:
        if api_base:
            chosen, source = api_base, "api_base"
        elif os.environ.get(URL_ENV):
            chosen, source = os.environ[URL_ENV], f"${URL_ENV}"
        else:
            chosen, source = default, "the default Space"
    items: Sequence[str | SpaceRef] = (
        chosen.split(",")
        if isinstance(chosen, str)
        else ([chosen] if isinstance(chosen, SpaceRef) else chosen)
    )
    refs: list[SpaceRef] = []
    for item in items:
        if isinstance(item, SpaceRef):
            ref = item
        elif isinstance(item, str):
            if not item.strip():
                continue
            ref = parse_space(item, source)
        else:
            raise ValueError(f"{source} must name Spaces by id or URL strings, not {item!r}")
        if ref not in refs:
            refs.append(ref)
    if not refs:
        raise ValueError(f"{source} names no Space: {chosen!r}")
    return tuple(refs)
