"""Registered plugin providers in the provider list of g4f's web GUI.

g4f's GUI (``g4f gui``, and ``g4f api``, which mounts the same Flask app) fills
its provider selector from the backend route ``/backend-api/v2/providers``,
that is ``g4f.gui.server.api.Api.get_providers``.  In g4f 8.8.6 that function
returns a ``providers.json`` cached inside the g4f package whenever the file
exists, so providers registered at run time never appear there, although every
other route (``/backend-api/v2/models/<provider>``, the conversation route, the
server-rendered ``/providers`` page) finds them through ``ProviderLoader``.

:func:`install` wraps ``Api.get_providers`` so that its result also lists the
providers this package registered and that g4f left out, described with the
fields g4f's own listing uses (``name``, ``label``, ``parent``, ``image``,
``hf_space``, ``active_by_default``, ``auth``, ...).  Nothing is written: not
g4f's cached file, not the list g4f returned (the result is a new list).

The GUI's modules import Flask and are imported only by the servers, long
after g4f itself, so :func:`g4f_flux_plugin._registry.autoload` calls
:func:`install`, which puts the wrapper in place when ``g4f.gui.server.api``
finishes importing (watched like the start-up hook watches ``g4f``, see
:mod:`._hook`), or at once if it is already imported.  The list reads the
registry's public view, so providers registered later are listed too.
"""

from __future__ import annotations

import functools
import logging
import sys
from types import ModuleType

from ._hook import watch_import

logger = logging.getLogger(__package__)

WATCHED = "g4f.gui.server.api"
_MARK = "__g4f_flux_plugin_wrapped__"


def install() -> None:
    """Make g4f's GUI provider list include the registered plugin providers.

    Wraps ``Api.get_providers`` now if the GUI backend is imported, else when
    it is.  Safe to call more than once.
    """
    watch_import(WATCHED, lambda: _wrap(sys.modules[WATCHED]))


def with_registered_providers(listed: object) -> object:
    """``listed`` (g4f's provider list) plus the registered plugin providers it lacks.

    Returns a new list; anything that is not a list is returned unchanged.
    """
    if not isinstance(listed, list):
        return listed
    present = {entry.get("name") for entry in listed if isinstance(entry, dict)}
    extra = [entry for entry in _registered_entries() if entry["name"] not in present]
    return [*listed, *extra] if extra else listed


def provider_entry(name: str, provider: object) -> dict[str, object]:
    """The GUI's description of one provider, field for field as g4f builds it
    in ``Api.get_providers`` (8.8.6)."""
    active = getattr(provider, "active_by_default", None)
    return {
        "name": name,
        "label": getattr(provider, "label", None) or name,
        "parent": getattr(provider, "parent", None),
        "image": len(getattr(provider, "image_models", None) or []),
        "audio": len(getattr(provider, "audio_models", None) or []),
        "video": len(getattr(provider, "video_models", None) or []),
        "vision": getattr(provider, "default_vision_model", None) is not None,
        "nodriver": getattr(provider, "use_nodriver", False),
        "hf_space": getattr(provider, "hf_space", False),
        "active_by_default": False if active is None else active,
        "auth": getattr(provider, "needs_auth", False),
        "login_url": getattr(provider, "login_url", None),
        "live": getattr(provider, "live", 0),
        "login": hasattr(provider, "login"),
    }


def _registered_entries() -> list[dict[str, object]]:
    from g4f.Provider import ProviderLoader

    from ._registry import default_registry

    ignored = set(getattr(ProviderLoader, "ignored", ()) or ())
    entries: list[dict[str, object]] = []
    for name in default_registry.names():
        if name in ignored:
            continue
        try:
            provider = ProviderLoader.from_name(name)
        except Exception:  # a deferred plugin that fails to import is reported there
            continue
        if getattr(provider, "working", False):
            entries.append(provider_entry(name, provider))
    return entries


def _wrap(module: ModuleType) -> None:
    api = getattr(module, "Api", None)
    original = getattr(api, "__dict__", {}).get("get_providers")
    if api is None or not isinstance(original, staticmethod):
        logger.debug("g4f's GUI has no Api.get_providers staticmethod: plugins not listed")
        return
    function = original.__func__
    if getattr(function, _MARK, False):
        return

    def get_providers(*args: object, **kwargs: object) -> object:
        listed = function(*args, **kwargs)
        try:
            return with_registered_providers(listed)
        except Exception:  # the GUI must keep its own list whatever happens here
            logger.debug("could not add plugin providers to g4f's GUI list", exc_info=True)
            return listed

    functools.update_wrapper(get_providers, function)  # its name, doc and __wrapped__
    setattr(get_providers, _MARK, True)
    api.get_providers = staticmethod(get_providers)
