"""Build step that ships the start-up hook: a ``.pth`` file in site-packages.

setuptools has no declarative option for a top-level file in purelib (its
``data_files`` land under ``sys.prefix``, not site-packages), so setup.cfg
names this ``build_py`` subclass in ``[options] cmdclass``.  setuptools loads
this file by path from the project root while reading setup.cfg, inside
pip's isolated build too, without importing the package.  It lives outside
the package and is not installed (neither ``packages`` nor ``py_modules``
names it); MANIFEST.in puts it into the sdist, which needs it to build.

- Normal builds (wheel, ``pip install .``): the ``.pth`` is written into
  ``build_lib``, whose whole tree becomes the wheel's purelib.
- Editable builds (``pip install -e .``, PEP 660): setuptools discards
  ``build_lib`` and packs the directory it pointed ``install`` at, so the
  ``.pth`` is written there.

Never imported at run time.
"""

import os

from setuptools.command.build_py import build_py

PTH_NAME = "_g4f_flux_plugin_autoload.pth"

# One line, run by site.py at every start-up (lines starting with "import"
# are executed).  It tests the off switch itself, so G4F_FLUX_NO_AUTOLOAD
# works even if the package is broken, and swallows import errors (say, an
# editable install whose directory was moved), which site.py would otherwise
# print as a traceback at every start-up.
PTH_LINE = (
    "import os; exec('try:\\n from _g4f_flux_plugin_autoload import install\\n"
    "except Exception:\\n pass\\nelse:\\n install()') "
    "if os.environ.get('G4F_FLUX_NO_AUTOLOAD', '') in ('', '0') else None\n"
)


class BuildPyWithPth(build_py):
    """``build_py`` that also writes the start-up hook's ``.pth`` file."""

    def run(self):
        """Build the packages, then write the ``.pth`` file next to them."""
        super().run()
        target = os.path.join(self._pth_dir(), PTH_NAME)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(PTH_LINE)

    def get_outputs(self, include_bytecode=True):
        """The package files plus the ``.pth`` file (normal builds)."""
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, PTH_NAME))
        return outputs

    def _pth_dir(self) -> str:
        if getattr(self, "editable_mode", False):
            return self.get_finalized_command("install").install_lib
        return self.build_lib
