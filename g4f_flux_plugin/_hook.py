"""Import watching: run a callback once a module has been imported to the end.

The start-up hook (the top-level module ``_g4f_flux_plugin_autoload``, which
the package's ``.pth`` file imports at every interpreter start) is only a
finder waiting for the name ``g4f``; everything else is here and is loaded
only when g4f is imported.  The hook's finder then asks
:func:`find_g4f_spec` for g4f's spec, and once ``g4f/__init__.py`` has run
to the end, :func:`g4f_flux_plugin._registry.autoload` registers the plugin
providers.  Waiting for the whole package rather than for ``g4f.Provider``
matters: g4f imports ``g4f.Provider`` half-way through its own ``__init__``,
when ``g4f.models`` and ``g4f.client`` cannot be imported yet, and a plugin
module that imports them would fail there.

A watcher asks the finders after it for the module's real spec and replaces
that spec's loader with a :class:`_WatchedLoader` for that one module, which
delegates everything to the real loader, puts it back once the module's code
has run, and then calls back.  Wrapping per module matters: one loader
object may load many modules (a zip archive's ``zipimporter`` loads every
module at its root), so patching the loader object itself would call back
when some other module it loads finishes, in the middle of the watched
module's import.

Nothing here raises into an import: failures are logged at debug level and
the module then imports as if nothing watched it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    #: What is called once the watched module has been imported.
    Callback = Callable[[], object]

logger = logging.getLogger(__package__)

G4F = "g4f"


def watch_import(name: str, callback: Callback) -> None:
    """Call ``callback()`` once module ``name`` has been imported to the end.

    At once if it already is, else right after its import (once).  A failing
    callback is logged at debug level, never raised into the import.
    """
    module = sys.modules.get(name)
    # While a module's code runs it is already in sys.modules, with its spec
    # marked as initializing: that import is under way without a watcher.
    if module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False):
        _run(callback, name)
    elif not any(isinstance(f, _ImportWatcher) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _ImportWatcher(name, callback))


def watch_g4f() -> None:
    """Register the plugin providers once g4f has been imported (at once if it is)."""
    watch_import(G4F, _on_g4f_imported)


def find_g4f_spec(
    finder: object, path: Sequence[str] | None = None, target: ModuleType | None = None
) -> ModuleSpec | None:
    """g4f's spec, with a loader that registers the plugin providers after its ``__init__``.

    Called by the start-up hook's ``finder``, which is taken out of
    :data:`sys.meta_path` once g4f has been imported.
    """
    try:
        return _watched_spec(finder, G4F, path, target, _on_g4f_imported)
    except Exception:
        logger.debug("could not watch the import of %s", G4F, exc_info=True)
        return None


class _ImportWatcher:
    """A :data:`sys.meta_path` finder that watches the import of one module.

    Duck-typed rather than derived from ``importlib.abc.MetaPathFinder``,
    like the start-up hook's own finder.
    """

    def __init__(self, name: str, callback: Callback) -> None:
        self.name = name
        self.callback = callback

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """The real spec of the watched module, with a watching loader; ``None`` for others."""
        if fullname != self.name:
            return None
        try:
            return _watched_spec(self, fullname, path, target, self.callback)
        except Exception:
            logger.debug("could not watch the import of %s", fullname, exc_info=True)
            return None


class _WatchedLoader:
    """The loader of one module: the real loader, plus a call back after ``exec_module``.

    Every other attribute is the real loader's.  Once the module's code has
    run (or failed), the module's ``__loader__`` and ``__spec__.loader`` are
    the real loader again.
    """

    def __init__(self, loader: Loader, done: Callback) -> None:
        self._loader = loader
        self._done = done

    def __getattr__(self, attribute: str) -> object:
        if attribute in ("_loader", "_done"):  # not set yet (a copy being made)
            raise AttributeError(attribute)
        return getattr(self._loader, attribute)

    def exec_module(self, module: ModuleType) -> None:
        """Run the module's code with the real loader, then call back (if it succeeded)."""
        try:
            self._loader.exec_module(module)
        finally:
            self._restore(module)
        self._done()

    def _restore(self, module: ModuleType) -> None:
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "loader", None) is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader


def _watched_spec(
    finder: object,
    name: str,
    path: Sequence[str] | None,
    target: ModuleType | None,
    callback: Callback,
) -> ModuleSpec | None:
    spec = _find_after(finder, name, path, target)
    loader = getattr(spec, "loader", None)
    if spec is None or loader is None or not hasattr(loader, "exec_module"):
        return spec  # a namespace package or an odd loader: leave it be

    def done() -> None:
        # Only now: if the module's code fails, the next import is watched again.
        _stop(finder)
        _run(callback, name)

    # Duck-typed: every other attribute is the real loader's (see __getattr__).
    spec.loader = cast("Loader", _WatchedLoader(loader, done))
    return spec


def _find_after(
    finder: object, name: str, path: Sequence[str] | None, target: ModuleType | None
) -> ModuleSpec | None:
    # Ask the finders after this one, as the import system would have.
    finders = list(sys.meta_path)
    start = next((i + 1 for i, f in enumerate(finders) if f is finder), 0)
    for other in finders[start:]:
        find_spec = getattr(other, "find_spec", None)
        if find_spec is None or other is finder:
            continue
        spec: ModuleSpec | None = find_spec(name, path, target)
        if spec is not None:
            return spec
    return None


def _stop(finder: object) -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if f is not finder]


def _run(callback: Callback, name: str) -> None:
    try:
        callback()
    except Exception:  # the watched module's import must never break here
        logger.debug("the hook for %s failed", name, exc_info=True)


def _on_g4f_imported() -> None:
    try:
        from ._registry import autoload

        autoload()
    except Exception:  # g4f's internals may change: never break its import
        logger.debug("automatic registration of g4f provider plugins failed", exc_info=True)
