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

from g4f_subprocess import seed_g4f_cache

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


def _build_wheel(tmp_path: Path, source: Path | None = None) -> Path:
    source = source or _copy_sources(tmp_path)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(source),
            "-w",
            str(wheels),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("g4f_flux_plugin-*.whl")
    return wheel


def _build_sdist(tmp_path: Path) -> Path:
    # setuptools' PEP 517 hook, run directly: offline, and no extra build tool.
    source = _copy_sources(tmp_path)
    sdists = tmp_path / "sdists"
    code = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    subprocess.run(
        [sys.executable, "-c", code, str(sdists)], cwd=source, check=True, capture_output=True, timeout=300
    )
    (sdist,) = sdists.glob("g4f_flux_plugin-*.tar.gz")
    return sdist


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


def test_wheel_in_a_fresh_environment_registers_the_provider(tmp_path, replica):
    wheel = _build_wheel(tmp_path)
    python, purelib = _fresh_environment(tmp_path)
    subprocess.run(
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
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    assert (purelib / PTH_NAME).is_file()
    assert not (purelib / "build_pth.py").exists()  # a build step, not installed

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


def test_wheel_built_from_the_sdist_ships_the_hook(tmp_path):
    sdist = _build_sdist(tmp_path)
    with tarfile.open(sdist) as archive:
        names = {name.partition("/")[2] for name in archive.getnames()}
    assert {"build_pth.py", "MANIFEST.in", f"{HOOK_MODULE}.py"} <= names  # the build needs them
    wheel = _build_wheel(tmp_path, sdist)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        line = archive.read(PTH_NAME).decode()
    assert {PTH_NAME, f"{HOOK_MODULE}.py"} <= names
    assert "build_pth.py" not in names and not any(n.startswith("g4f_flux_plugin/_build") for n in names)
    assert line.startswith("import ") and HOOK_MODULE in line


def test_editable_install_writes_the_hook(tmp_path):
    source = _copy_sources(tmp_path)
    python, purelib = _fresh_environment(tmp_path)
    # Without build isolation the build runs in the fresh interpreter, which
    # finds setuptools through the test environment's path.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-e",
            str(source),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
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
