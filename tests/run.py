"""Install everything the test suite needs, then run it: ``python tests/run.py [pytest args]``.

Standard library only, so it runs on a bare Python 3.11+. It creates, in the
project directory:

- ``.venv-test/``: this package with its ``test`` extra (real Gradio 6 for the
  replica, both transports, g4f, the OpenAI SDK, Playwright's Python driver);
- one virtualenv per older Gradio the Space replica is also run on, each from
  a pinned requirements file in ``.ci/`` (see :data:`GRADIO_GENERATIONS`):
  ``.venv-gradio4/`` (routes without ``/gradio_api``), ``.venv-gradio5.0/``,
  ``.venv-gradio5.38/`` and ``.venv-gradio5.50/``; the suite reaches each
  through the environment variable named there;
- ``.venv-g4f-lowest/``: this package with the lowest g4f it declares
  (``.ci/g4f-lowest-requirements.txt``), where the g4f integration tests run
  a second time (:data:`G4F_LOWEST_TESTS`);

and makes sure a Chromium is on the machine for the GUI test (Debian's
``chromium`` through apt-get when running as root; never a browser download).
Then it runs pytest in ``.venv-test``, then the g4f integration tests in
``.venv-g4f-lowest`` (only when the whole suite was asked for: no pytest
arguments other than options), and exits with the first failing status.
``--no-install`` skips the installation steps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TEST_VENV = ROOT / ".venv-test"
G4F_LOWEST_VENV = ROOT / ".venv-g4f-lowest"


class Generation(NamedTuple):
    """An older Gradio the replica runs on, outside the main test environment."""

    venv: Path
    requirements: Path
    env_var: str  # names the venv's python for tests/conftest.py


#: Older Gradio generations of the replica, by the name tests/conftest.py's
#: ``start_replica(generation=...)`` takes. "6" (the newest) is the Gradio of
#: the test extra, in ``.venv-test`` itself.
GRADIO_GENERATIONS = {
    name: Generation(
        ROOT / f".venv-gradio{name}",
        ROOT / ".ci" / f"gradio{name}-requirements.txt",
        f"G4F_FLUX_GRADIO{name.replace('.', '_')}_PYTHON",
    )
    for name in ("4", "5.0", "5.38", "5.50")
}
#: Names the python that runs the Gradio 6 replica where the tests run in a
#: venv without Gradio (.venv-g4f-lowest): the one of .venv-test.
GRADIO6_PYTHON_ENV = "G4F_FLUX_GRADIO6_PYTHON"
#: The g4f integration tests, run again on the lowest g4f the package declares.
G4F_LOWEST_TESTS = (
    "tests/test_registry.py",
    "tests/test_routing.py",
    "tests/test_fallback.py",
    "tests/test_provider.py",
)
CHROMIUM = ("chromium", "chromium-browser")


def _python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(*command: object, **kwargs) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, **kwargs)


def _ensure_venv(env_dir: Path) -> Path:
    if not _python(env_dir).exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        _run(_python(env_dir), "-m", "pip", "install", "-q", "--upgrade", "pip")
    return _python(env_dir)


def install() -> None:
    """Create every virtual environment and install the browser if missing."""
    python = _ensure_venv(TEST_VENV)
    _run(python, "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]")
    for generation in GRADIO_GENERATIONS.values():
        _run(_ensure_venv(generation.venv), "-m", "pip", "install", "-q", "-r", generation.requirements)
    lowest = _ensure_venv(G4F_LOWEST_VENV)
    # The package without its dependencies first, then the pinned set (the
    # lowest g4f and the test tools), so pip cannot pick a newer g4f.
    _run(lowest, "-m", "pip", "install", "-q", "-r", ROOT / ".ci" / "g4f-lowest-requirements.txt")
    _run(lowest, "-m", "pip", "install", "-q", "--no-deps", "-e", ROOT)
    if not find_chromium() and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _run("apt-get", "update", "-qq", env=env)
        _run("apt-get", "install", "-y", "-qq", "chromium", env=env)


def find_chromium() -> str | None:
    """The path of a system Chromium, or ``None``."""
    for name in CHROMIUM:
        path = shutil.which(name)
        if path:
            return path
    return None


def main(argv: list[str]) -> int:
    """Install (unless ``--no-install``), then run pytest with ``argv``."""
    if "--no-install" in argv:
        argv = [arg for arg in argv if arg != "--no-install"]
    else:
        install()
    env = dict(os.environ)
    for generation in GRADIO_GENERATIONS.values():
        env[generation.env_var] = str(_python(generation.venv))
    chromium = find_chromium()
    if chromium:
        env.setdefault("G4F_FLUX_CHROMIUM", chromium)
    status = _pytest(TEST_VENV, argv, env)
    if not _selects_tests(argv):
        env[GRADIO6_PYTHON_ENV] = str(_python(TEST_VENV))
        lowest = _pytest(G4F_LOWEST_VENV, [*argv, *G4F_LOWEST_TESTS], env)
        status = status or lowest
    return status


def _selects_tests(argv: list[str]) -> bool:
    """Whether pytest's arguments name tests (a path, a node id, -k or -m): then
    only those run, and the g4f-lowest run, which is for the whole suite, not."""
    for arg in argv:
        if arg in ("-k", "-m") or (arg.startswith(("-k", "-m")) and not arg.startswith("--")):
            return True
        if not arg.startswith("-") and ("::" in arg or (ROOT / arg).exists()):
            return True
    return False


def _pytest(env_dir: Path, argv: list[str], env: dict[str, str]) -> int:
    command = [str(_python(env_dir)), "-m", "pytest", *argv]
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
