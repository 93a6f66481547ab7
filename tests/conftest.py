"""Shared pytest fixtures.

Each section below belongs to one area of the suite; add new fixtures in a
section of their own.
"""

from __future__ import annotations

# ===========================================================================
# Space replica fixtures: local FLUX.1-schnell Spaces on every Gradio generation
# (tests/replica.py run as subprocesses on 127.0.0.1)
# ===========================================================================
import json
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest's default import mode puts tests/ on sys.path; --import-mode=importlib does not.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
import replica as replica_script
import run as run_script
from launch import ServerProcess, StartError, free_port, stop_all

REPLICA_SCRIPT = Path(__file__).with_name("replica.py")
#: The Gradio generations the replica runs on, oldest first: "4" (4.44, routes
#: without /gradio_api), "5.0" (the first /gradio_api release), "5.38" (the
#: last without slider bounds checks), "5.50" (the last 5.x) and "6" (the
#: test extra's own Gradio). Each older one lives in a virtualenv of its own
#: (tests/run.py makes them from .ci/gradio<name>-requirements.txt), whose
#: python the environment variable of :data:`run.GRADIO_GENERATIONS` names.
GENERATIONS = (*run_script.GRADIO_GENERATIONS, "6")
#: Environment variable naming the python of a virtualenv with Gradio 4.
GRADIO4_PYTHON_ENV = run_script.GRADIO_GENERATIONS["4"].env_var
#: Where generation "6" runs when the tests themselves run elsewhere (the
#: g4f-lowest run of tests/run.py has no Gradio): the python of .venv-test.
GRADIO6_PYTHON_ENV = run_script.GRADIO6_PYTHON_ENV
#: How long a replica may take to come up (it takes about 2-4 s on an idle machine).
REPLICA_START_TIMEOUT = 60.0
_READY_PREFIX = "REPLICA READY "


class Replica:
    """A running replica server, as handed to tests.

    ``url`` is the root URL without a trailing slash (where ``/config`` lives);
    ``prefix`` is its Gradio ``api_prefix`` (``"/gradio_api"`` on Gradio 5+,
    ``""`` on Gradio 4) and ``api_url`` the two joined.
    """

    def __init__(self, server: ServerProcess, url: str, generation: str, flags: dict[str, Any]) -> None:
        self.server = server
        self.process = server.process
        self.url = url
        self.generation = generation
        self.flags = dict(flags)
        self.log_path = server.log_path
        config = self._get_json("/config")
        self.gradio_version: str = config.get("version", "")
        self.prefix: str = config.get("api_prefix") or ""
        self.api_url = self.url + self.prefix

    def __repr__(self) -> str:
        return f"<Replica gradio {self.gradio_version} {self.url} {self.flags}>"

    @property
    def pid(self) -> int:
        """The server process id."""
        return self.process.pid

    def _get_json(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def jobs(self) -> list[dict[str, Any]]:
        """Every ``infer`` call the server saw (``GET /_replica/jobs``), oldest first.

        Each job has ``prompt``, ``seed`` (the one used), ``width``, ``height``,
        ``steps``, ``state`` (running|completed|cancelled|failed), ``started_at``,
        ``ended_at`` and ``error``. The replica is shared by the session: filter
        by a prompt unique to your test rather than relying on the list's length.
        """
        return self._get_json("/_replica/jobs")

    def requests(self) -> list[dict[str, Any]]:
        """Every request the app received (``GET /_replica/requests``), oldest first:
        ``method``, ``path`` and ``headers`` (``[name, value]`` pairs, lower-case names)."""
        return self._get_json("/_replica/requests")

    def reset(self) -> None:
        """Forget the recorded jobs (``POST /_replica/reset``)."""
        self._get_json("/_replica/reset", method="POST")

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's output."""
        return self.server.log_tail(lines)

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it lingers. Idempotent."""
        self.server.stop()


#: replica.py's own defaults, so that start_replica(sleep=0.0) and
#: start_replica() share one server.
_DEFAULT_FLAGS = {
    name: value
    for name, value in vars(replica_script.parse_args(["--port", "0"])).items()
    if name not in ("port", "host")
}


def _flag_args(flags: dict[str, Any]) -> list[str]:
    """``{"show_error": True, "sleep": 0.5}`` -> ``["--show-error", "--sleep", "0.5"]``."""
    args: list[str] = []
    for name, value in sorted(flags.items()):
        option = "--" + name.replace("_", "-")
        if value is True:
            args.append(option)
        elif value is not None and value is not False:
            args += [option, str(value)]
    return args


def _generation_python(generation: str) -> str:
    """The python that runs the replica of ``generation``."""
    if generation == "6":
        return os.environ.get(GRADIO6_PYTHON_ENV) or sys.executable
    env_var = run_script.GRADIO_GENERATIONS[generation].env_var
    python = os.environ.get(env_var)
    message = (
        f"the Gradio {generation} replica needs {env_var} set to the python of a "
        f"virtualenv made with `pip install -r .ci/gradio{generation}-requirements.txt` "
        f"(tests/run.py does it)"
    )
    if not python:
        if os.environ.get("CI"):
            pytest.fail(f"{message} (it is unset, and CI must test every generation)", pytrace=False)
        pytest.skip(f"{message} (unset)")
    if not Path(python).exists():
        pytest.fail(f"{message}; {python!r} does not exist", pytrace=False)
    return python


def _launch_replica(
    python: str, generation: str, flags: dict[str, Any], work_dir: Path, attempts: int = 3
) -> Replica:
    """Start ``replica.py`` and wait until it announces readiness."""
    for attempt in range(1, attempts + 1):
        # The port is free when we look; another process may take it before
        # the replica binds, which is detected below and retried.
        port = free_port()
        env = dict(
            os.environ,
            PYTHONUNBUFFERED="1",
            # Keep Gradio's files out of the shared /tmp/gradio and the repository.
            GRADIO_TEMP_DIR=str(work_dir / "gradio-files"),
            GRADIO_EXAMPLES_CACHE=str(work_dir / "examples-cache"),
        )
        server = ServerProcess(
            [python, REPLICA_SCRIPT, "--port", port, *_flag_args(flags)],
            log_path=work_dir / f"replica-{port}.log",
            env=env,
            cwd=work_dir,
            name="replica",
        )
        try:
            url = server.wait_ready(line_prefix=_READY_PREFIX, timeout=REPLICA_START_TIMEOUT)
            return Replica(server, url.rstrip("/"), generation, flags)
        except StartError as exc:
            server.stop()
            if "address already in use" in str(exc).lower() and attempt < attempts:
                continue
            raise
        except BaseException:
            server.stop()
            raise
    raise AssertionError("unreachable")


StartReplica = Callable[..., Replica]


@pytest.fixture(scope="session")
def start_replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartReplica]:
    """Factory: ``start_replica(generation="6", fresh=False, **flags) -> Replica``.

    ``generation`` is one of :data:`GENERATIONS`: ``"6"`` (this interpreter's
    Gradio) or an older one, run by the python its environment variable names
    (``G4F_FLUX_GRADIO4_PYTHON``, ``G4F_FLUX_GRADIO5_0_PYTHON``, ...; unset:
    the test fails under CI, else is skipped). ``flags`` are replica.py's
    options in Python form: ``sleep``, ``show_error``, ``concurrency_limit``,
    ``max_size``, ``mode``, ``zerogpu`` (a scheduler URL: tests/test_zerogpu.py).

    Replicas are cached for the session per generation and flags, so tests must
    not change or stop a shared one; ``fresh=True`` starts a private one (for
    example to kill it mid-job), still stopped at the end of the session.
    """
    cache: dict[tuple, Replica] = {}
    started: list[Replica] = []

    def start(generation: str = "6", *, fresh: bool = False, **flags: Any) -> Replica:
        generation = str(generation)
        if generation not in GENERATIONS:
            raise ValueError(f"generation must be one of {GENERATIONS}, not {generation!r}")
        python = _generation_python(generation)
        unknown = set(flags) - set(_DEFAULT_FLAGS)
        if unknown:
            raise TypeError(f"unknown replica flags {sorted(unknown)}; known: {sorted(_DEFAULT_FLAGS)}")
        flags = {name: value for name, value in flags.items() if value != _DEFAULT_FLAGS[name]}
        key = (generation, tuple(sorted(flags.items())))
        if not fresh and key in cache:
            replica = cache[key]
            if replica.process.poll() is None:
                return replica
        work_dir = tmp_path_factory.mktemp(f"replica-g{generation}")
        try:
            replica = _launch_replica(python, generation, flags, work_dir)
        except StartError as exc:
            pytest.fail(str(exc), pytrace=False)
        started.append(replica)
        if not fresh:
            cache[key] = replica
        return replica

    try:
        yield start
    finally:
        stop_all(*(replica.server for replica in started))


@pytest.fixture(scope="session")
def replica(start_replica: StartReplica) -> Replica:
    """A Gradio 6 replica with default flags (no sleep, show_error off, normal mode)."""
    return start_replica("6")


@pytest.fixture(scope="session")
def replica4(start_replica: StartReplica) -> Replica:
    """A Gradio 4 replica with default flags (skipped, or failed under CI, without Gradio 4)."""
    return start_replica("4")


@pytest.fixture(scope="session", params=["6", "4"], ids=["gradio6", "gradio4"])
def any_replica(request: pytest.FixtureRequest, start_replica: StartReplica) -> Replica:
    """The default replica of Gradio 6 and 4 in turn (parametrises the test)."""
    return start_replica(request.param)


@pytest.fixture(
    scope="session", params=GENERATIONS, ids=[f"gradio{generation}" for generation in GENERATIONS]
)
def every_generation(request: pytest.FixtureRequest, start_replica: StartReplica) -> Replica:
    """The default replica of every generation in :data:`GENERATIONS` in turn,
    for the contract tests that must hold on each (tests/test_cancel_generations.py)."""
    return start_replica(request.param)


# ===========================================================================
# end of the Space replica fixtures
# ===========================================================================


# ===========================================================================
# Markers (registered in setup.cfg), put on by what a test uses
# ===========================================================================
#: Whole files whose tests take seconds or more each.
SLOW_FILES = frozenset(
    {
        "test_cancel_generations.py",
        "test_soak.py",
        "test_install.py",
        "test_benchmarks_smoke.py",
        "test_g4f_servers.py",
        "test_image_api.py",
        "test_routing.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``replica`` for tests that start a replica, ``browser`` for Chromium,
    ``slow`` for the files above: ``pytest -m "not slow"`` runs in about a minute."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "start_replica" in names:
            item.add_marker(pytest.mark.replica)
        if "browser" in names:
            item.add_marker(pytest.mark.browser)
        if item.path.name in SLOW_FILES or "browser" in names:
            item.add_marker(pytest.mark.slow)


# ===========================================================================
# Small shared fixtures
# ===========================================================================


#: The user's settings a test must not inherit.
USER_SETTINGS = ("G4F_FLUX_SCHNELL_URL", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "G4F_FLUX_TRANSPORT")


@pytest.fixture
def clean_env(monkeypatch) -> None:
    """Keep the user's settings (Space URL, token, transport) out of the test."""
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    # Nor the token `hf auth login` saved (the client reads it like huggingface_hub).
    monkeypatch.setenv("HF_TOKEN_PATH", os.devnull + ".missing-token")


@pytest.fixture
def closed_url() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def openai_client():
    """Factory of OpenAI SDK clients for a base URL (no retries: a failure shows
    as it is, not three times), closed after the test."""
    try:
        import openai
    except ImportError:
        from g4f_servers import needed

        needed("the OpenAI SDK is not installed (install the package's `test` extra)")
    clients = []

    def make(base_url: str):
        client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=120)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def proc(tmp_path):
    """Runs code in fresh interpreters with a temporary HOME and a seeded g4f
    cache (g4f's registry is process state); needs the plugin installed."""
    from g4f_subprocess import G4FProcess, require_installed_plugin

    require_installed_plugin()
    return G4FProcess(tmp_path)


# ===========================================================================
# Space memory: each test starts with nothing remembered of any Space
# ===========================================================================
@pytest.fixture(autouse=True)
def fresh_space_memory(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A new :class:`SpaceMemory` for :class:`FluxClient` and the provider in
    every test, so a quota one test provokes is not answered from memory in
    the next. The provider is patched only where a test loaded it (this
    fixture never imports g4f)."""
    from g4f_flux_plugin._client import FluxClient
    from g4f_flux_plugin._memory import SpaceMemory

    memory = SpaceMemory()
    monkeypatch.setattr(FluxClient, "space_memory", memory)
    providers = sys.modules.get("g4f_flux_plugin.providers")
    if providers is not None:
        monkeypatch.setattr(providers.BlackForestLabs_Flux1Schnell, "space_memory", memory)
    # Nor an id one test resolved through its Hub (FluxClient.space_hosts).
    from g4f_flux_plugin._spaces import SpaceHosts

    monkeypatch.setattr(FluxClient, "space_hosts", SpaceHosts())
    return memory
