"""Every way of installing the package ships the start-up hook.

A normal install of the built wheel, in a fresh virtual environment: g4f
finds the provider with no import of the plugin.  A wheel built from the
sdist, and an editable install (``pip install -e``), write the same ``.pth``
file, whose watcher is on ``sys.meta_path`` in a fresh interpreter.

Offline on purpose (tests talk to 127.0.0.1 only): the wheel is built without
build isolation, and g4f with its dependencies comes from this test
environment's site-packages, added to the fresh environment as a plain path.
A path line in a ``.pth`` file does not run that directory's own ``.pth``
files, so this environment's editable copy of the plugin (and its hook) stays
out: the only copy the fresh interpreter can find is the wheel's.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest
from g4f_subprocess import seed_g4f_cache

from g4f_flux_plugin import __version__

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (
    "setup.cfg",
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
    "build_pth.py",
    "_g4f_flux_plugin_autoload.py",
    "g4f_flux_plugin",
)
PTH_NAME = "_g4f_flux_plugin_autoload.pth"
HOOK_MODULE = "_g4f_flux_plugin_autoload"

# Prints what the start-up hook left in a fresh interpreter that never imports g4f.
_WATCHERS = """
import json, sys
print(json.dumps([type(f).__module__ for f in sys.meta_path if type(f).__name__ == "_ImportWatcher"]))
"""


def _copy_sources(tmp_path: Path) -> Path:
    # A copy of the sources, so no build/ or egg-info lands in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    return source


class Dist(NamedTuple):
    """What ``python -m build`` made: the sdist, and the wheel built from it."""

    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``python -m build`` of a copy of the sources (the wheel is built from
    the sdist, as a user's pip would), then ``twine check --strict`` on both.

    Offline: no build isolation, so setuptools comes from this environment."""
    tmp_path = tmp_path_factory.mktemp("build")
    source = _copy_sources(tmp_path)
    out = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (sdist,) = out.glob("g4f_flux_plugin-*.tar.gz")
    (wheel,) = out.glob("g4f_flux_plugin-*.whl")
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return Dist(sdist, wheel)


def _clean_env(tmp_path: Path) -> dict:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("G4F_", "PYTHON"))}
    env.update(HOME=str(home))
    return env


def _watchers(python: Path, tmp_path: Path) -> list:
    done = subprocess.run(
        [python, "-c", _WATCHERS],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _fresh_environment(tmp_path: Path) -> tuple[Path, Path]:
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    )
    (purelib / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, purelib


def _pip_install(python: Path, *args: str) -> None:
    """This environment's pip installs into ``python``'s, offline, no dependencies."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_wheel_in_a_fresh_environment_registers_the_provider(tmp_path, replica, dist):
    wheel = dist.wheel
    python, purelib = _fresh_environment(tmp_path)
    _pip_install(python, str(wheel))
    assert (purelib / PTH_NAME).is_file()
    assert not (purelib / "build_pth.py").exists()  # a build step, not installed
    assert (purelib / "g4f_flux_plugin" / "py.typed").is_file()
    (info,) = purelib.glob(f"g4f_flux_plugin-{__version__}.dist-info")
    entry_points = _entry_points((info / "entry_points.txt").read_text())
    assert entry_points["console_scripts"] == {"g4f-flux": "g4f_flux_plugin.cli:main"}
    assert entry_points["g4f.providers"] == {
        "BlackForestLabs_Flux1Schnell": "g4f_flux_plugin.providers:BlackForestLabs_Flux1Schnell"
    }
    command = python.parent / "g4f-flux"
    assert os.access(command, os.X_OK)

    cache = tmp_path / "g4f-cache"
    seed_g4f_cache(cache)
    env = _clean_env(tmp_path)
    env.update(G4F_CACHE_DIR=str(cache), G4F_FLUX_SCHNELL_URL=replica.url)
    code = """
import json
from g4f.Provider import BlackForestLabs_Flux1Schnell as provider, ProviderUtils, __providers__
from g4f.client import Client
import g4f_flux_plugin
image = Client().images.generate("a fresh install", provider="BlackForestLabs_Flux1Schnell",
                                 response_format="url", width=256, height=256)
print(json.dumps({
    "plugin_file": g4f_flux_plugin.__file__,
    "convert": ProviderUtils.convert["BlackForestLabs_Flux1Schnell"] is provider,
    "listed": provider in __providers__,
    "url": image.data[0].url,
}))
"""
    done = subprocess.run(
        [python, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(state["plugin_file"]).is_relative_to(purelib)  # the wheel's copy, not the checkout
    assert state["convert"] and state["listed"]
    assert state["url"].startswith(replica.url)
    assert any(job["prompt"] == "a fresh install" for job in replica.jobs())

    # The installed console script: its version, then an image from the replica.
    version = subprocess.run(
        [command, "--version"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert version.stdout.split() == ["g4f-flux", __version__]
    out = tmp_path / "fox.webp"
    made = subprocess.run(
        [
            command,
            "an installed command",
            "--api-base",
            replica.url,
            "-o",
            out,
            "-q",
            "--steps",
            "1",
            "--width",
            "256",
            "--height",
            "256",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    assert out.read_bytes()[:4] == b"RIFF"
    assert any(job["prompt"] == "an installed command" for job in replica.jobs())


def _entry_points(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # names are case-sensitive
    parser.read_string(text)
    return {group: dict(parser[group]) for group in parser.sections()}


def test_sdist_and_wheel_are_complete(dist):
    with tarfile.open(dist.sdist) as archive:
        names = {name.partition("/")[2] for name in archive.getnames()}
        (pkg_info,) = (
            m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
        )
        sdist_metadata = archive.extractfile(pkg_info).read().decode()
    # What building from the sdist needs, and what users read.
    assert {"build_pth.py", "MANIFEST.in", f"{HOOK_MODULE}.py", "README.md", "setup.cfg"} <= names
    assert "g4f_flux_plugin/py.typed" in names
    with zipfile.ZipFile(dist.wheel) as archive:
        names = set(archive.namelist())
        line = archive.read(PTH_NAME).decode()
        wheel_metadata = archive.read(f"g4f_flux_plugin-{__version__}.dist-info/METADATA").decode()
    assert {PTH_NAME, f"{HOOK_MODULE}.py", "g4f_flux_plugin/py.typed"} <= names
    assert "build_pth.py" not in names and not any(n.startswith("g4f_flux_plugin/_build") for n in names)
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
    assert line.startswith("import ") and HOOK_MODULE in line
    readme_line = next(
        line for line in (ROOT / "README.md").read_text().splitlines() if line and not line.startswith("#")
    )
    for metadata in (sdist_metadata, wheel_metadata):
        assert f"\nVersion: {__version__}\n" in metadata
        assert "Description-Content-Type: text/markdown" in metadata
        assert readme_line in metadata  # the README is the long description


# A user's code: reveal_type shows what a checker sees; one deliberate error.
_USER_CODE = """
from g4f_flux_plugin import FluxClient, SpaceError


async def main() -> None:
    async with FluxClient() as flux:
        image = await flux.image("a fox")
        reveal_type(image.seed)
        wrong: int = image.url
    try:
        pass
    except SpaceError as error:
        reveal_type(error)
"""


def test_the_installed_package_is_typed(tmp_path, dist):
    """py.typed in the wheel: a user's mypy --strict checks calls into the
    installed package (without it: "missing library stubs or py.typed marker")."""
    python, _ = _fresh_environment(tmp_path)
    _pip_install(python, str(dist.wheel))
    user = tmp_path / "user.py"
    user.write_text(_USER_CODE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-executable",
            python,
            "user.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line.partition(": ")[2] for line in done.stdout.splitlines() if line.startswith("user.py:")]
    assert lines == [
        'note: Revealed type is "int | None"',
        'error: Incompatible types in assignment (expression has type "str", variable has type "int")  [assignment]',
        'note: Revealed type is "g4f_flux_plugin._errors.SpaceError"',
    ], done.stdout + done.stderr


def test_editable_install_writes_the_hook(tmp_path):
    source = _copy_sources(tmp_path)
    python, purelib = _fresh_environment(tmp_path)
    # Without build isolation the build runs in the fresh interpreter, which
    # finds setuptools through the test environment's path.
    _pip_install(python, "--no-build-isolation", "-e", str(source))
    assert (purelib / PTH_NAME).is_file()
    assert _watchers(python, tmp_path) == [HOOK_MODULE]
    done = subprocess.run(
        [python, "-c", f"import {HOOK_MODULE}; print({HOOK_MODULE}.__file__)"],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert Path(done.stdout.strip()) == source / f"{HOOK_MODULE}.py"  # the editable copy
