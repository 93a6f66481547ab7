"""Entry-point loading of g4f provider plugins into g4f's own registry.

g4f 8.8.6 has no plugin discovery of its own: its registry,
``g4f.Provider.ProviderLoader``, is a closed ``names`` list plus a ``loaded``
cache, and everything else reads through it (the module ``__getattr__`` of
``g4f.Provider``, ``g4f.Provider.__providers__``, ``ProviderUtils.convert``
and so ``Client(...).images.generate(provider="Name")``).  This module fills
that registry from the ``g4f.providers`` entry-point group of every installed
distribution, in the manner of pluggy and ``llm``:

- the first entry point of a name wins; later ones are reported and skipped;
- a name that is one of g4f's built-in providers is reported and skipped,
  never shadowed;
- an entry point that fails to import or is not a g4f provider class is
  reported (logger ``g4f_flux_plugin``, level WARNING) and skipped;
- ``G4F_FLUX_BLOCKED_PROVIDERS="A,B"`` blocks entry points by name, and
  ``G4F_FLUX_NO_AUTOLOAD=1`` stops the start-up hook from calling any of it.

The state (what was registered, deferred, appended to g4f's lists) is kept
on a :class:`ProviderRegistry`; the module owns one, :data:`default_registry`.
Routing model names to providers is :mod:`._routes`' job.
What :func:`register` and :func:`autoload` change in g4f, and nothing more:

- ``ProviderLoader.loaded[name] = cls``: ``from_name`` looks there first, so
  ``from g4f.Provider import Name``, ``ProviderUtils.convert["Name"]`` and
  provider strings given to the client resolve to the class;
- ``ProviderLoader.names.append(name)``: ``__providers__`` and the API's
  ``/v1/providers`` iterate that list;
- ``g4f.Provider.__all__.append(name)``: for ``dir()`` and ``import *``;
- the GUI's provider list (``/backend-api/v2/providers``), served from a
  ``providers.json`` cached inside the g4f package, is wrapped so that it
  also lists registered providers, once the GUI backend is imported
  (:func:`autoload` arranges it, see :mod:`._gui`; g4f's files are not
  written).

Only when an entry point's module is itself still being imported at that
moment (it imported g4f first) is ``ProviderLoader._load`` wrapped, until
that entry point has been resolved on its first lookup (see below).

"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from types import MappingProxyType
from typing import Any

# route_model and MODEL_ROUTES are imported from here too (re-exported).
from ._routes import MODEL_ROUTES as MODEL_ROUTES, route_model as route_model, route_own_models

#: g4f's ``ProviderLoader`` class: g4f is untyped, so this edge is Any.
Loader = Any

logger = logging.getLogger(__package__)

GROUP = "g4f.providers"
ENV_BLOCKED = "G4F_FLUX_BLOCKED_PROVIDERS"


def autoload() -> list[type]:
    """Everything the start-up hook does once g4f has been imported.

    In this order: load the ``g4f.providers`` entry points
    (:func:`load_entry_point_providers`), route this package's models to its
    provider (:data:`MODEL_ROUTES`), then arrange for g4f's GUI to list the
    registered providers.  Returns the classes registered by this call.
    Safe to call more than once.
    """
    providers = load_entry_point_providers()
    route_own_models(default_registry)
    _list_in_gui()
    return providers


def load_entry_point_providers(group: str = GROUP, *, blocked: Iterable[str] | None = None) -> list[type]:
    """Register the g4f provider classes that installed distributions declare.

    Reads the entry points of ``group`` (by default ``g4f.providers``) of
    every installed distribution and puts each class into g4f's provider
    registry (see :func:`register`), so that ``provider="<name>"``,
    ``from g4f.Provider import <name>`` and ``g4f.Provider.__providers__``
    find it.  Like pluggy: the first entry point of a name wins, a name of
    one of g4f's built-in providers is never shadowed, and an entry point
    that fails to import or is not a provider class is logged (logger
    ``g4f_flux_plugin``, WARNING) and skipped.

    ``blocked`` is a collection of entry-point names to skip; by default it
    comes from the ``G4F_FLUX_BLOCKED_PROVIDERS`` environment variable
    (comma-separated).  Returns the classes registered by this call, in
    entry-point order (a second call returns ``[]``).  Raises
    :class:`RuntimeError` if g4f's registry is not the one this supports.

    The start-up hook calls this through :func:`autoload`, which also routes
    models and lists the providers in g4f's GUI; with
    ``G4F_FLUX_NO_AUTOLOAD=1``, call either by hand.
    """
    return default_registry.load_entry_points(group, blocked=blocked)


def register(provider_cls: type, name: str | None = None) -> bool:
    """Put ``provider_cls`` into g4f's provider registry (see :meth:`ProviderRegistry.register`)."""
    return default_registry.register(provider_cls, name)


class ProviderRegistry:
    """The plugin providers one process has put into g4f's registry.

    g4f's ``ProviderLoader`` is the registry everyone reads; this object
    keeps what it added there (the registered classes, the names it
    appended, the entry points deferred until first lookup) so that it can
    tell its own names from g4f's built-in ones.  The module owns one,
    :data:`default_registry`, which the functions of this module use.
    """

    def __init__(self) -> None:
        self._registered: dict[str, type] = {}  # name -> class
        self._added_names: set[str] = set()  # what this appended to ProviderLoader.names
        self._pending: dict[str, metadata.EntryPoint] = {}  # deferred entry points by name
        self._original_load: classmethod[Any, [str], Any] | None = None  # ProviderLoader._load, while wrapped

    def registered(self) -> Mapping[str, type]:
        """The classes registered so far, by name (a read-only view)."""
        return MappingProxyType(self._registered)

    def pending(self) -> tuple[str, ...]:
        """Names of entry points registered by name only, to be imported on first lookup."""
        return tuple(self._pending)

    def names(self) -> tuple[str, ...]:
        """Every provider name this registry put into g4f: registered, then pending."""
        return (*self._registered, *(n for n in self._pending if n not in self._registered))

    def load_entry_points(self, group: str = GROUP, *, blocked: Iterable[str] | None = None) -> list[type]:
        """What :func:`load_entry_point_providers` does, into this registry."""
        loader = _provider_loader()
        skipped = _blocked_names() if blocked is None else set(blocked)
        registered: list[type] = []
        seen: dict[str, metadata.EntryPoint] = {}
        for ep in _entry_points(group):
            if not _first_of_its_name(ep, seen):
                continue
            if ep.name in skipped:
                logger.info("g4f provider plugin %s is blocked", _describe(ep))
                continue
            provider = self._load_entry_point(loader, ep)
            if provider is not None:
                registered.append(provider)
        return registered

    def register(self, provider_cls: type, name: str | None = None) -> bool:
        """Put ``provider_cls`` into g4f's provider registry.

        Afterwards ``from g4f.Provider import <name>`` works, the class is in
        ``g4f.Provider.__providers__`` and ``ProviderUtils.convert[<name>]``,
        and ``images.generate(..., provider="<name>")`` resolves to it.
        ``name`` defaults to the class's ``__name__``.  Returns ``False`` if
        the class was already registered under that name.  Raises
        :class:`TypeError` for something that is not a g4f provider class and
        :class:`ValueError` for a name that g4f or another class already uses.
        """
        if not _is_provider_class(provider_cls):
            raise TypeError(f"{provider_cls!r} is not a g4f provider class")
        name = name or provider_cls.__name__
        loader = _provider_loader()
        if self._registered.get(name) is provider_cls:
            return False
        self._check_name_is_free(loader, name)
        loader.loaded[name] = provider_cls
        self._add_name(loader, name)
        self._registered[name] = provider_cls
        logger.debug("registered g4f provider %s", name)
        return True

    # --- entry points ---------------------------------------------------

    def _load_entry_point(self, loader: Loader, ep: metadata.EntryPoint) -> type | None:
        if not self._name_is_free(loader, ep):
            return None
        if _module_is_initializing(ep.module):
            self._defer(loader, ep)
            return None
        try:
            provider: type = ep.load()
        except Exception as e:
            _report_failed_import(ep, e)
            return None
        return provider if self._register_loaded(ep, provider) else None

    def _register_loaded(self, ep: metadata.EntryPoint, provider: type) -> bool:
        try:
            return self.register(provider, ep.name)
        except (TypeError, ValueError) as e:
            logger.warning("skipping g4f provider plugin %s: %s", _describe(ep), e)
            return False

    def _name_is_free(self, loader: Loader, ep: metadata.EntryPoint) -> bool:
        try:
            self._check_name_is_free(loader, ep.name)
        except ValueError as e:
            if ep.name not in self._registered and ep.name not in self._pending:  # not a second run
                logger.warning("skipping g4f provider plugin %s: %s", _describe(ep), e)
            return False
        return True

    # --- g4f's registry -------------------------------------------------

    def _check_name_is_free(self, loader: Loader, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"{name!r} is not usable as a provider name")
        if name in self._registered or name in self._pending:
            raise ValueError(f"{name!r} is already registered")
        if self._is_builtin(loader, name):
            raise ValueError(f"{name!r} would shadow g4f's built-in provider of that name")

    def _is_builtin(self, loader: Loader, name: str) -> bool:
        known = set(loader.names) | set(getattr(loader, "extra", ())) | set(_module_names())
        known -= self._added_names
        if _normal(name) in {_normal(k) for k in known}:
            return True
        # Aliases that only the loader's if-chain knows (e.g. "PollinationsAI").
        try:
            found: object = loader.from_name(name)
            return found is not None
        except Exception:
            return False

    def _add_name(self, loader: Loader, name: str) -> None:
        if name not in loader.names:
            loader.names.append(name)
            self._added_names.add(name)
        all_names = getattr(sys.modules.get("g4f.Provider"), "__all__", None)
        if isinstance(all_names, list) and name not in all_names:
            all_names.append(name)

    def _drop_name(self, loader: Loader, name: str) -> None:
        if name not in self._added_names:
            return
        self._added_names.discard(name)
        all_names = getattr(sys.modules.get("g4f.Provider"), "__all__", None)
        for names in (loader.names, all_names):
            if isinstance(names, list) and name in names:
                names.remove(name)

    # --- entry points whose module is still being imported ---------------
    #
    # If a plugin module imports g4f at its top and is itself imported first
    # (say `from g4f_flux_plugin import BlackForestLabs_Flux1Schnell` in a
    # fresh process), the hook runs while that module is half-executed and
    # its class does not exist yet.  Such entry points are registered by name
    # only, and a thin wrapper around ProviderLoader._load (g4f's fallback
    # for names not in `loaded`) imports them on first lookup, then removes
    # itself.

    def _defer(self, loader: Loader, ep: metadata.EntryPoint) -> None:
        if not isinstance(loader.__dict__.get("_load"), classmethod):
            logger.warning(
                "skipping g4f provider plugin %s: it is still being imported and this "
                "g4f has no ProviderLoader._load to defer it to",
                _describe(ep),
            )
            return
        self._pending[ep.name] = ep
        self._add_name(loader, ep.name)
        self._wrap_load(loader)
        logger.debug("deferred g4f provider plugin %s until first use", _describe(ep))

    def _wrap_load(self, loader: Loader) -> None:
        if self._original_load is not None:
            return
        self._original_load = loader.__dict__["_load"]
        registry = self

        def _load(cls: Loader, name: str) -> type:
            return registry._load_with_pending(cls, name)

        loader._load = classmethod(_load)

    def _unwrap_load(self, loader: Loader) -> None:
        if self._original_load is not None and not self._pending:
            loader._load = self._original_load
            self._original_load = None

    def _load_with_pending(self, cls: Loader, name: str) -> type:
        try:
            if self._original_load is not None:  # always, while wrapped
                provider: type = self._original_load.__get__(None, cls)(name)
                return provider
        except ImportError:
            if name not in self._pending:
                raise
        return self._resolve_pending(cls, name)

    def _resolve_pending(self, loader: Loader, name: str) -> type:
        ep = self._pending[name]
        if _module_is_initializing(ep.module):
            raise ImportError(f"Provider {name!r} is still being imported")
        del self._pending[name]
        self._unwrap_load(loader)
        try:
            provider: type = ep.load()
        except Exception as e:
            self._drop_name(loader, name)
            _report_failed_import(ep, e)
            raise ImportError(f"Provider {name!r} failed to load") from e
        if not self._register_loaded(ep, provider):
            self._drop_name(loader, name)
            raise ImportError(f"Provider {name!r} is not a g4f provider class")
        return provider


#: The registry the start-up hook and this module's functions fill.
default_registry = ProviderRegistry()


# --- entry points -----------------------------------------------------------


def _entry_points(group: str) -> metadata.EntryPoints:
    return metadata.entry_points(group=group)


def _describe(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    where = f" from {dist.name} {dist.version}" if dist is not None else ""
    return f"{ep.name!r} ({ep.value}{where})"


def _first_of_its_name(ep: metadata.EntryPoint, seen: dict[str, metadata.EntryPoint]) -> bool:
    earlier = seen.get(ep.name)
    if earlier is None:
        seen[ep.name] = ep
        return True
    if earlier.value != ep.value:
        logger.warning(
            "skipping g4f provider plugin %s: the name is already taken by %s",
            _describe(ep),
            _describe(earlier),
        )
    return False


def _report_failed_import(ep: metadata.EntryPoint, error: Exception) -> None:
    logger.warning("skipping g4f provider plugin %s: %s: %s", _describe(ep), type(error).__name__, error)
    logger.debug("traceback of %s", ep.name, exc_info=error)


def _blocked_names() -> set[str]:
    raw = os.environ.get(ENV_BLOCKED, "")
    return {name.strip() for name in raw.replace(",", " ").split() if name.strip()}


# --- g4f's registry ---------------------------------------------------------


def _provider_loader() -> Loader:
    from g4f.Provider import ProviderLoader

    for attribute in ("names", "loaded", "from_name"):
        if not hasattr(ProviderLoader, attribute):
            raise RuntimeError(f"g4f.Provider.ProviderLoader has no {attribute!r}: unsupported g4f")
    return ProviderLoader


def _is_provider_class(obj: object) -> bool:
    from g4f.providers.types import BaseProvider

    return isinstance(obj, type) and issubclass(obj, BaseProvider)


def _normal(name: str) -> str:
    # g4f's own normalisation in ProviderLoader.from_name
    return name.lower().replace("-", "").replace("_", "")


def _module_names() -> list[str]:
    module = sys.modules.get("g4f.Provider")
    names = list(getattr(module, "__others__", ()))
    names += [k for k in getattr(module, "__dict__", {}) if not k.startswith("_")]
    return names


def _module_is_initializing(module_name: str) -> bool:
    # Any half-imported module of the plugin's top-level package counts: with
    # `import g4f_flux_plugin._errors` first, the hook fires while _errors is
    # half-executed, and importing the entry point's module would need it.
    top = module_name.partition(".")[0]
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name == top or name.startswith(top + ".")
    )


# --- g4f's GUI --------------------------------------------------------------
#
# The GUI's provider list is a providers.json cached inside the g4f package,
# blind to registered providers; _gui wraps the function that serves it once
# the GUI backend is imported (see _gui's docstring).


def _list_in_gui() -> None:
    try:
        from . import _gui

        _gui.install()
    except Exception:  # the GUI is optional; registration must not fail over it
        logger.debug("could not arrange for g4f's GUI to list plugin providers", exc_info=True)
