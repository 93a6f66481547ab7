"""Fresh interpreters and commands, run the same way for every start-up measurement.

Each run gets the same environment: the start-up hook on or off by
``G4F_FLUX_NO_AUTOLOAD``, no import-time profiling or byte-code suppression
inherited from the caller, and a byte-code cache of its own outside the
repository (an installed package has its .pyc files, and a
``PYTHONDONTWRITEBYTECODE=1`` in the environment would otherwise make every
run compile the plugin from source). Runs start in the temporary directory,
so the repository's sources never shadow the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import NO_AUTOLOAD


def bin_path(name: str) -> str | None:
    """A console script of this interpreter's environment (else on PATH), or None."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else shutil.which(name)


class Interpreters:
    """A context that runs fresh processes with a private byte-code cache."""

    def __init__(self) -> None:
        self._pycache: str | None = None

    def __enter__(self) -> Interpreters:
        self._pycache = tempfile.mkdtemp(prefix="g4f-flux-bench-pycache-")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pycache:
            shutil.rmtree(self._pycache, ignore_errors=True)
            self._pycache = None

    def env(self, hook: bool = True) -> dict[str, str]:
        """The environment of a run, with the start-up hook on or off."""
        env = dict(os.environ)
        env.pop(NO_AUTOLOAD, None)
        if not hook:
            env[NO_AUTOLOAD] = "1"
        for name in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        if self._pycache:
            env["PYTHONPYCACHEPREFIX"] = self._pycache
        return env

    def run(self, argv: list[str], hook: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run to the end (a failure raises), capturing the output as text."""
        return subprocess.run(
            argv,
            env=self.env(hook),
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),
            timeout=timeout,
        )

    def wall_ms(self, argv: list[str], hook: bool = True, timeout: float = 300) -> float:
        """Wall time of the whole process, in ms (its output discarded; a failure raises
        :class:`subprocess.CalledProcessError` with the error output)."""
        start = time.perf_counter()
        subprocess.run(
            argv,
            env=self.env(hook),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),
            timeout=timeout,
        )
        return (time.perf_counter() - start) * 1000

    def json(self, argv: list[str], hook: bool = True) -> dict:
        """The JSON object on the last line of the process's output."""
        return json.loads(self.run(argv, hook).stdout.strip().splitlines()[-1])
