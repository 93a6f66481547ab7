"""Install everything the test suite needs, then run it: ``python tests/run.py [pytest args]``.

Standard library only, so it runs on a bare Python 3.11+. It creates, in the
project directory:

- ``.venv-test/``: this package with its ``test`` extra (real Gradio 6 for the
  replica, both transports, g4f, the OpenAI SDK, Playwright's Python driver);
- ``.venv-gradio4/``: Gradio 4 (routes without ``/gradio_api``), only to run
  the Space replica of the older generation (``.ci/gradio4-requirements.txt``);

and makes sure a Chromium is on the machine for the GUI test (Debian's
``chromium`` through apt-get when running as root; never a browser download).
Then it runs pytest in ``.venv-test`` and exits with its status.
``--no-install`` skips the installation steps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_VENV = ROOT / ".venv-test"
GRADIO4_VENV = ROOT / ".venv-gradio4"
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
    """Create both virtual environments and install the browser if missing."""
    python = _ensure_venv(TEST_VENV)
    _run(python, "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]")
    gradio4 = _ensure_venv(GRADIO4_VENV)
    _run(gradio4, "-m", "pip", "install", "-q", "-r", ROOT / ".ci" / "gradio4-requirements.txt")
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
    env = dict(os.environ, G4F_FLUX_GRADIO4_PYTHON=str(_python(GRADIO4_VENV)))
    chromium = find_chromium()
    if chromium:
        env.setdefault("G4F_FLUX_CHROMIUM", chromium)
    command = [str(_python(TEST_VENV)), "-m", "pytest", *argv]
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
