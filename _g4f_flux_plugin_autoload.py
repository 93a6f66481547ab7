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
        if _g4f_is_loaded():
            _on_g4f_imported()
        elif not any(isinstance(f, _G4FImportWatcher) for f in sys.meta_path):
            sys.meta_path.insert(0, _G4FImportWatcher())
        return True
    except Exception:  # start-up must survive anything
        _debug("could not install the g4f import hook")
        return False


def uninstall() -> None:
    """Remove the import hook if it is still waiting for g4f."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _G4FImportWatcher)]


def _g4f_is_loaded() -> bool:
    module = sys.modules.get(WATCHED)
    spec = getattr(module, "__spec__", None)
    # While g4f/__init__.py runs, the module is already in sys.modules but
    # its spec is marked as initializing; the wrapped loader handles that case.
    return module is not None and not getattr(spec, "_initializing", False)


class _G4FImportWatcher:
    """A :data:`sys.meta_path` finder that only watches the ``g4f`` import.

    Duck-typed rather than derived from ``importlib.abc.MetaPathFinder``:
    importing :mod:`importlib.abc` at start-up would cost more than all the
    rest of this module.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != WATCHED:
            return None
        try:
            return self._watched_spec(fullname, path, target)
        except Exception:
            _debug("could not watch the g4f import")
            return None

    def invalidate_caches(self):
        """Nothing cached; present because importlib may call it on finders."""

    def _watched_spec(self, fullname, path, target):
        spec = _find_with_other_finders(self, fullname, path, target)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # a namespace package or an odd loader: leave it be
        _wrap_exec_module(loader)
        return spec


def _find_with_other_finders(watcher, fullname, path, target):
    # Ask the finders after this one, the way the import system would have.
    for finder in list(sys.meta_path):
        if finder is watcher or isinstance(finder, _G4FImportWatcher):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


def _wrap_exec_module(loader) -> None:
    # An instance attribute shadows the class method for this one loader
    # object (file finders make a new loader per module), so g4f keeps its
    # own loader type as __loader__ and the attribute is deleted afterwards.
    original = loader.exec_module

    def exec_module(module):
        try:
            original(module)
        finally:
            _unwrap(loader)
        _on_g4f_imported()

    loader.exec_module = exec_module


def _unwrap(loader) -> None:
    try:
        del loader.exec_module
    except AttributeError:
        pass


def _on_g4f_imported() -> None:
    uninstall()
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
