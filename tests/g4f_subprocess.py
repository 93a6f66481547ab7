"""Fresh Python processes for the registry and routing tests.

g4f's provider registry is process state and the start-up hook runs at
interpreter start, so these tests run their code in a new interpreter each
time: with a temporary HOME, a temporary working directory and a seeded
``G4F_CACHE_DIR``.  The seed matters offline: resolving g4f's ``G4FSpace``
provider (which reading ``g4f.Provider.__providers__`` does) downloads a
provider list unless ``$G4F_CACHE_DIR/.models/<YYYY-MM-DD>/providers.json``
exists (``AbstractClientFactory.create_provider`` in g4f 8.8.6).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DIST_NAME = "g4f-flux-plugin"
PTH_NAME = "_g4f_flux_plugin_autoload.pth"
PROVIDER = "BlackForestLabs_Flux1Schnell"

# Environment variables of ours or of Python that would change what a test
# process does; each test sets the ones it needs.
_SCRUBBED = (
    "G4F_FLUX_NO_AUTOLOAD",
    "G4F_FLUX_BLOCKED_PROVIDERS",
    "G4F_FLUX_SCHNELL_URL",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONNOUSERSITE",
    "G4F_CACHE_DIR",
)

# The "live providers" file g4f reads instead of downloading it: the one entry
# it needs is "default" (G4FSpace), pointed at a closed local port.
_PROVIDERS_JSON = {
    "providers": {"default": {"baseUrl": "http://127.0.0.1:9/v1"}},
    "defaultModels": {},
}


def seed_g4f_cache(cache_dir: Path) -> None:
    """Write the providers.json g4f looks for, for today and tomorrow.

    Tomorrow too, so that a test running across midnight stays offline.
    """
    today = datetime.date.today()
    for day in (today, today + datetime.timedelta(days=1)):
        folder = cache_dir / ".models" / day.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "providers.json").write_text(json.dumps(_PROVIDERS_JSON), encoding="utf-8")


def require_installed_plugin() -> None:
    """Fail with instructions unless the package and its .pth are installed.

    The start-up hook only exists once the package is installed into the
    interpreter running the tests; a source checkout on ``sys.path`` has the
    code but neither the entry point nor the .pth file.
    """
    how = "install it first: `pip install -e .` (or `pip install .`) in the project directory"
    # Look at every copy: a checkout's own g4f_flux_plugin.egg-info may come
    # first on sys.path, but only an installed copy carries the .pth.
    for dist in importlib.metadata.distributions(name=DIST_NAME):
        names = [str(f) for f in dist.files or ()]
        if PTH_NAME not in names or not Path(dist.locate_file(PTH_NAME)).is_file():
            continue
        if PROVIDER not in dist.entry_points.select(group="g4f.providers").names:
            pytest.fail(
                f"{DIST_NAME} is installed without its g4f.providers entry point; {how}", pytrace=False
            )
        return
    pytest.fail(
        f"{DIST_NAME} with its start-up hook {PTH_NAME} is not installed in {sys.executable}; {how}",
        pytrace=False,
    )


class G4FProcess:
    """Runs code in fresh interpreters sharing one temporary HOME and g4f cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.cache = root / "g4f-cache"
        self.cwd = root / "cwd"  # g4f writes ./generated_media and the like here
        for folder in (self.home, self.cache, self.cwd):
            folder.mkdir(parents=True, exist_ok=True)
        seed_g4f_cache(self.cache)

    def env(self, extra: dict | None = None, pythonpath=()) -> dict:
        """The environment of a test process."""
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update(
            HOME=str(self.home),
            G4F_CACHE_DIR=str(self.cache),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONUNBUFFERED="1",
        )
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
        env.update(extra or {})
        return env

    def run(
        self, code: str, *, env: dict | None = None, pythonpath=(), timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run ``code`` (dedented) with ``python -c``; on ``check``, fail on a non-zero exit."""
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=self.env(env, pythonpath),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"test process exited with {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}",
                pytrace=False,
            )
        return result

    def json(self, code: str, **kwargs):
        """Run ``code``, which must print one JSON document as its last line, and parse it."""
        result = self.run(code, **kwargs)
        lines = result.stdout.strip().splitlines()
        assert lines, f"no output\n--- stderr\n{result.stderr}"
        return json.loads(lines[-1])


def make_distribution(root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """A throwaway installed distribution in ``root`` (to put on PYTHONPATH).

    ``entry_points`` maps names to ``module:attribute`` in the g4f.providers
    group; ``modules`` maps module file names to their (dedented) source.
    """
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = ["[g4f.providers]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for filename, source in modules.items():
        (root / filename).write_text(textwrap.dedent(source))
    return root


def one_provider_plugin(root: Path, dist: str, name: str, source: str | None = None) -> Path:
    """A throwaway distribution ``dist`` whose module ``dist`` declares one entry
    point ``name`` (the module's ``source``: by default a working fake provider)."""
    source = FAKE_PROVIDER.format(name=name) if source is None else source
    return make_distribution(root, dist, {name: f"{dist}:{name}"}, {f"{dist}.py": source})


#: Source of a minimal g4f provider class named ``{name}`` for throwaway plugins.
FAKE_PROVIDER = """
from g4f.providers.base_provider import AsyncGeneratorProvider
from g4f.providers.response import ImageResponse


class {name}(AsyncGeneratorProvider):
    working = True
    image_models = ["fake-model"]

    @classmethod
    async def create_async_generator(cls, model, messages, **kwargs):
        yield ImageResponse("https://example.invalid/{name}.png", "fake")
"""
