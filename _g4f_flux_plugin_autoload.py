"""Start-up hook of g4f-flux-plugin: register provider plugins when g4f is imported.

The ``_g4f_flux_plugin_autoload.pth`` file that the package installs into
site-packages calls :func:`install` at every interpreter start-up.  That must
cost next to nothing in the many processes that never import g4f, so this is
a top-level module (importing a submodule would import the package and scan
its directory first, twice the cost), imports nothing beyond :mod:`os` and
:mod:`sys` (both already loaded by then) and only puts a small finder at the
front of :data:`sys.meta_path`.

The finder ignores every import except the top-level ``g4f`` package.  For
that one it asks the remaining finders for the real spec and wraps its
loader's ``exec_module``, so that right after ``g4f/__init__.py`` has run to
the end (which imports ``g4f.Provider`` and ``g4f.models``) it calls
:func:`g4f_flux_plugin._registry.autoload` and then takes itself out of
:data:`sys.meta_path`.  Waiting for the whole package rather than for
``g4f.Provider`` matters: g4f imports ``g4f.Provider`` half-way through its
own ``__init__``, when ``g4f.models`` and ``g4f.client`` cannot be imported
yet, and a plugin module that imports them would fail there.

Nothing here may raise at start-up: every failure is logged at debug level
and g4f then imports as if the plugin were not installed.  Setting
``G4F_FLUX_NO_AUTOLOAD=1`` turns the hook off.
"""

import os
import sys

ENV_DISABLE = "G4F_FLUX_NO_AUTOLOAD"
WATCHED = "g4f"

# Values of G4F_FLUX_NO_AUTOLOAD that leave the hook on (unset, empty, "0");
# the .pth line repeats this test, so the switch works even if this module
# cannot be imported.
_HOOK_ON = ("", "0")


def autoload_disabled(environ=None) -> bool:
    """Whether ``G4F_FLUX_NO_AUTOLOAD`` (set, and not empty or ``0``) turns the hook off."""
    value = (os.environ if environ is None else environ).get(ENV_DISABLE, "")
    return value not in _HOOK_ON


def install() -> bool:
    """Arrange for plugin providers to be registered when g4f is imported.

    Returns whether anything was arranged: ``False`` when the hook is turned
    off.  If g4f is already imported, registration happens at once.  Safe to
    call more than once; never raises.
    """
    try:
        if autoload_disabled():
            return False
        watch_import(WATCHED, _on_g4f_imported)
        return True
    except Exception:  # start-up must survive anything
        _debug("could not install the g4f import hook")
        return False


def uninstall() -> None:
    """Remove the import hook if it is still waiting for g4f."""
    stop_watching(WATCHED)


def watch_import(name: str, callback) -> None:
    """Call ``callback()`` once module ``name`` has been imported to the end:
    at once if it already is, else right after its import (once).

    Also used for g4f's GUI backend (``g4f_flux_plugin._gui``).  A failing
    callback is logged at debug level, never raised into the import.
    """
    module = sys.modules.get(name)
    # While a module's code runs, it is already in sys.modules but its spec is
    # marked as initializing; the wrapped loader handles that case.
    if module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False):
        _run(callback, name)
    elif not any(isinstance(f, _ImportWatcher) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _ImportWatcher(name, callback))


def stop_watching(name: str) -> None:
    """Forget the callback waiting for module ``name``, if any."""
    sys.meta_path[:] = [f for f in sys.meta_path if not (isinstance(f, _ImportWatcher) and f.name == name)]


class _ImportWatcher:
    """A :data:`sys.meta_path` finder that watches the import of one module.

    For that module it asks the remaining finders for the real spec and wraps
    its loader's ``exec_module``, so the callback runs right after the
    module's code has run to the end; the finder then removes itself.
    Duck-typed rather than derived from ``importlib.abc.MetaPathFinder``:
    importing :mod:`importlib.abc` at start-up would cost more than all the
    rest of this module.
    """

    def __init__(self, name: str, callback) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        try:
            return self._watched_spec(fullname, path, target)
        except Exception:
            _debug(f"could not watch the import of {self.name}")
            return None

    def invalidate_caches(self):
        """Nothing cached; present because importlib may call it on finders."""

    def _watched_spec(self, fullname, path, target):
        spec = _find_with_other_finders(fullname, path, target)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # a namespace package or an odd loader: leave it be
        _wrap_exec_module(loader, self)
        return spec


def _find_with_other_finders(fullname, path, target):
    # Ask the other finders, the way the import system would have.
    for finder in list(sys.meta_path):
        if isinstance(finder, _ImportWatcher):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


def _wrap_exec_module(loader, watcher: _ImportWatcher) -> None:
    # An instance attribute shadows the class method for this one loader
    # object (file finders make a new loader per module), so the module keeps
    # its own loader type as __loader__ and the attribute is deleted afterwards.
    original = loader.exec_module

    def exec_module(module):
        try:
            original(module)
        finally:
            _unwrap(loader)
        stop_watching(watcher.name)
        _run(watcher.callback, watcher.name)

    loader.exec_module = exec_module


def _unwrap(loader) -> None:
    try:
        del loader.exec_module
    except AttributeError:
        pass


def _run(callback, name: str) -> None:
    try:
        callback()
    except Exception:  # the watched module's import must never break here
        _debug(f"the hook for {name} failed")


def _on_g4f_imported() -> None:
    try:
        from g4f_flux_plugin._registry import autoload

        autoload()
    except Exception:  # g4f's internals may change: never break its import
        _debug("automatic registration of g4f provider plugins failed")


def _debug(message: str) -> None:
    # logging is imported only here: importing it at start-up costs more than
    # a millisecond, and these messages are for debugging only.
    try:
        import logging

        logging.getLogger("g4f_flux_plugin").debug(message, exc_info=True)
    except Exception:
        pass
