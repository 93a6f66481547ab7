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

- ``.venv-py3.12/`` and ``.venv-py3.13/``: this package on each other
  supported CPython the machine has (found through pyenv, else on PATH;
  skipped with a notice when absent), with ``.ci/contract-requirements.txt``,
  where the contract subset runs (:data:`CONTRACT_TESTS`);

and makes sure a Chromium is on the machine for the GUI test (Debian's
``chromium`` through apt-get when running as root; never a browser download).

When the whole suite is asked for (no pytest arguments other than options),
the gates come first: ``ruff check``, ``ruff format --check`` and ``mypy``
(strict, the package) from ``.venv-test``; a failing gate stops the run with
its tool's message (``--no-gates`` skips them). Then pytest runs in
``.venv-test``, then the g4f integration tests in ``.venv-g4f-lowest`` and
the contract subset on the other Pythons (again only for the whole suite),
and the exit status is the first failing one. ``--no-install`` skips the
installation steps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
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
    "tests/test_get_quota.py",
)
CHROMIUM = ("chromium", "chromium-browser")
#: The other supported CPythons (3.11 is .venv-test's), each in its own venv.
EXTRA_PYTHONS = ("3.12", "3.13")
#: What runs on them: the client's logic (mock transport, SSE, messages,
#: parameters, retry hints, the public API in a fresh interpreter), the
#: provider's contract against the Gradio 6 replica (run by .venv-test's
#: python), and g4f through its client (fallback chains) and its registry.
CONTRACT_TESTS = (
    "tests/test_client_mock.py",
    "tests/test_sse.py",
    "tests/test_sse_properties.py",
    "tests/test_messages.py",
    "tests/test_params.py",
    "tests/test_params_properties.py",
    "tests/test_retry_hints_properties.py",
    "tests/test_public_api.py",
    "tests/test_provider.py",
    "tests/test_fallback.py",
    "tests/test_registry.py",
)
CONTRACT_REQUIREMENTS = ROOT / ".ci" / "contract-requirements.txt"
#: The checks made before the suite, each a module run by .venv-test's python.
GATES = (
    ("ruff", "check", "."),
    ("ruff", "format", "--check", "."),
    ("mypy",),  # strict, on the package: [tool.mypy] in pyproject.toml
)


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


def extra_venv(version: str) -> Path:
    """The venv of the other supported CPython ``version`` ("3.12")."""
    return ROOT / f".venv-py{version}"


def find_python(version: str) -> str | None:
    """An interpreter of CPython ``version``: pyenv's newest of that version if
    pyenv is there, else ``python3.12``-style on PATH; ``None`` if neither."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False)
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
        found = [
            name
            for name in listed.stdout.split()
            if name.split(".")[:2] == version.split(".") and name.replace(".", "").isdigit()
        ]
        for name in sorted(found, key=lambda n: tuple(int(p) for p in n.split(".")), reverse=True):
            candidate = Path(root) / "versions" / name / "bin" / "python"
            if root and candidate.exists():
                return str(candidate)
    return shutil.which(f"python{version}")


def install_extra_pythons() -> None:
    """A venv per other supported CPython the machine has, with the contract
    subset's requirements, then this package itself (``--no-deps``)."""
    for version in EXTRA_PYTHONS:
        env_dir = extra_venv(version)
        if not _python(env_dir).exists():
            interpreter = find_python(version)
            if interpreter is None:
                print(f"Python {version} not found (pyenv or PATH): its contract run is skipped", flush=True)
                continue
            _run(interpreter, "-m", "venv", "--clear", env_dir)
            _run(_python(env_dir), "-m", "pip", "install", "-q", "--upgrade", "pip")
        _run(_python(env_dir), "-m", "pip", "install", "-q", "-r", CONTRACT_REQUIREMENTS)
        _run(_python(env_dir), "-m", "pip", "install", "-q", "--no-deps", "-e", ROOT)


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
    install_extra_pythons()
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


def gates() -> int:
    """Run each gate in turn; the first failing one's status (its tool has
    printed why), else 0."""
    for gate in GATES:
        started = time.monotonic()
        command = [str(_python(TEST_VENV)), "-m", *gate]
        print("+", " ".join(command), flush=True)
        status = subprocess.run(command, cwd=ROOT).returncode
        if status:
            print(f"gate failed: {' '.join(gate)} (exit status {status}); the suite does not run", flush=True)
            return status
        print(f"  passed in {time.monotonic() - started:.1f} s", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """Install (unless ``--no-install``), run the gates (for the whole suite,
    unless ``--no-gates``), then pytest with ``argv``."""
    flags = {"--no-install", "--no-gates"}
    given, argv = flags.intersection(argv), [arg for arg in argv if arg not in flags]
    if "--no-install" not in given:
        install()
    whole = not _selects_tests(argv)
    if whole and "--no-gates" not in given:
        status = gates()
        if status:
            return status
    env = dict(os.environ)
    for generation in GRADIO_GENERATIONS.values():
        env[generation.env_var] = str(_python(generation.venv))
    chromium = find_chromium()
    if chromium:
        env.setdefault("G4F_FLUX_CHROMIUM", chromium)
    status = _pytest(TEST_VENV, argv, env)
    if whole:
        env[GRADIO6_PYTHON_ENV] = str(_python(TEST_VENV))
        lowest = _pytest(G4F_LOWEST_VENV, [*argv, *G4F_LOWEST_TESTS], env)
        status = status or lowest
        for version in EXTRA_PYTHONS:
            if not _python(extra_venv(version)).exists():
                print(f"no {extra_venv(version).name}: the contract subset on Python {version} is skipped")
                continue
            started = time.monotonic()
            contract = _pytest(extra_venv(version), [*argv, *CONTRACT_TESTS], env)
            print(f"contract subset on Python {version}: {time.monotonic() - started:.0f} s", flush=True)
            status = status or contract
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
