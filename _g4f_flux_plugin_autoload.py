"""Start-up hook of g4f-flux-plugin: waits for ``import g4f`` (see g4f_flux_plugin/_hook.py)."""

import os
import sys


class _ImportWatcher:
    name = "g4f"

    def find_spec(self, name, path=None, target=None):
        if name == "g4f":
            try:
                from g4f_flux_plugin._hook import find_g4f_spec

                return find_g4f_spec(self, path, target)
            except Exception:  # a broken plugin must not break g4f's import
                return None


def install():
    """Register plugin providers when g4f is imported (at once if it is); never raises."""
    try:
        if os.environ.get("G4F_FLUX_NO_AUTOLOAD", "") not in ("", "0"):
            return False
        if "g4f" in sys.modules:
            from g4f_flux_plugin._hook import watch_g4f

            watch_g4f()
        elif not any(type(f) is _ImportWatcher for f in sys.meta_path):
            sys.meta_path.insert(0, _ImportWatcher())
        return True
    except Exception:  # start-up must survive anything
        return False
