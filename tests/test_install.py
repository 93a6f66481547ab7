"""A normal install of the built wheel, in a fresh virtual environment, ships
the start-up hook: g4f finds the provider with no import of the plugin.

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
import venv
from pathlib import Path

from g4f_subprocess import seed_g4f_cache

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "_g4f_flux_plugin_autoload.py", "g4f_flux_plugin")


def _build_wheel(tmp_path: Path) -> Path:
    # A copy of the sources, so no build/ or egg-info lands in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", str(source), "-w", str(wheels)],
        check=True, timeout=300,
    )
    (wheel,) = wheels.glob("g4f_flux_plugin-*.whl")
    return wheel


def _fresh_environment(tmp_path: Path) -> tuple[Path, Path]:
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip())
    (purelib / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, purelib


def test_wheel_in_a_fresh_environment_registers_the_provider(tmp_path, replica):
    wheel = _build_wheel(tmp_path)
    python, purelib = _fresh_environment(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, timeout=300,
    )
    assert (purelib / "_g4f_flux_plugin_autoload.pth").is_file()

    home = tmp_path / "home"
    cache = tmp_path / "g4f-cache"
    home.mkdir()
    seed_g4f_cache(cache)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("G4F_", "PYTHON"))}
    env.update(HOME=str(home), G4F_CACHE_DIR=str(cache), G4F_FLUX_SCHNELL_URL=replica.url)
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
    done = subprocess.run([python, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(state["plugin_file"]).is_relative_to(purelib)  # the wheel's copy, not the checkout
    assert state["convert"] and state["listed"]
    assert state["url"].startswith(replica.url)
    assert any(job["prompt"] == "a fresh install" for job in replica.jobs())
