"""The ``g4f-flux`` command, run for real: the installed console script in a
subprocess against the local Space replica.

Each test uses prompts with a token of its own, so it can find its jobs in
the replica's shared record (``replica.jobs()``).
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from replica import seed_colour

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

SCRIPT = Path(sys.executable).parent / ("g4f-flux.exe" if os.name == "nt" else "g4f-flux")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "g4f_flux_plugin"]
SMALL = ["--width", "256", "--height", "256", "--steps", "2"]
IS_POSIX = os.name == "posix"


def _env(tmp_path: Path) -> dict[str, str]:
    # Nothing of the user's (token, Space URL, transport, HOME) leaks into a run.
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN" and not k.startswith("G4F_FLUX")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), G4F_CACHE_DIR=str(home / "g4f-cache"), PYTHONUNBUFFERED="1")
    return env


class Run:
    """The outcome of one command."""

    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __repr__(self) -> str:
        return f"<Run {self.code} stdout={self.stdout!r} stderr={self.stderr!r}>"


def g4f_flux(*args: str, cwd: Path, timeout: float = 120) -> Run:
    """Run the command with stdout and stderr piped (not terminals)."""
    done = _piped([*COMMAND, *args], cwd, timeout)
    return Run(done.returncode, done.stdout, done.stderr)


def _piped(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``command`` in ``cwd`` with the test environment, stdin empty, output captured."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def g4f_flux_on_terminal(*args: str, cwd: Path, timeout: float = 120) -> Run:
    """Run the command with stderr on a pseudo-terminal (stdout piped)."""
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [*COMMAND, *args],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        stdout = process.communicate(timeout=max(1, deadline - time.monotonic()))[0]
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return Run(process.returncode, stdout.decode(), b"".join(chunks).decode(errors="replace"))


def token() -> str:
    return uuid.uuid4().hex[:8]


def jobs_for(replica, marker: str) -> list[dict]:
    return [job for job in replica.jobs() if marker in job["prompt"]]


def exif_record(path: Path) -> tuple[str, dict]:
    """(ImageDescription, UserComment JSON) as Pillow reads them."""
    with Image.open(path) as image:
        exif = image.getexif()
        comment = exif.get_ifd(0x8769)[0x9286]
    assert comment[:8] == b"ASCII\x00\x00\x00"
    return exif[0x010E], json.loads(comment[8:])


def near(colour, expected, tolerance=12) -> bool:
    # The Space's WebP is lossy: a solid colour comes back within a few units.
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


# -- no server needed -----------------------------------------------------
def test_help_is_fast_to_reach_and_cli_imports_no_heavy_module(tmp_path):
    run = g4f_flux("--help", cwd=tmp_path)
    assert run.code == 0, run
    assert "--prompt-file" in run.stdout and "resuming a batch" in run.stdout
    check = (
        "import sys, g4f_flux_plugin.cli; "
        "heavy = [m for m in ('g4f', 'aiohttp', 'curl_cffi', 'PIL') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def imported_modules(importtime_stderr: str) -> list[str]:
    """Module names in ``python -X importtime`` output (``import time: self | cumulative | name``)."""
    names = []
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[-1].strip()
            if name != "imported package":  # the header line
                names.append(name)
    return names


def g4f_modules(names: list[str]) -> list[str]:
    """g4f's own modules among ``names`` (this package, ``g4f_flux_plugin``, is not one)."""
    return [name for name in names if name == "g4f" or name.startswith("g4f.")]


def test_g4f_modules_are_told_from_this_packages():
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   g4f_flux_plugin._client\n"
        "import time:        80 |         80 |     g4f.typing\n"
        "import time:       300 |        380 | g4f\n"
        "g4f-flux: error: something else on stderr\n"
    )
    names = imported_modules(stderr)
    assert names == ["g4f_flux_plugin._client", "g4f.typing", "g4f"]
    assert g4f_modules(names) == ["g4f.typing", "g4f"]


def importing(*args: str, cwd: Path, timeout: float = 120) -> tuple[Run, list[str]]:
    """Run the command under ``python -X importtime``; the run and every module it imported."""
    done = _piped([sys.executable, "-X", "importtime", "-m", "g4f_flux_plugin", *args], cwd, timeout)
    run = Run(
        done.returncode,
        done.stdout,
        "".join(line + "\n" for line in done.stderr.splitlines() if not line.startswith("import time:")),
    )
    return run, imported_modules(done.stderr)


HEAVY = ("g4f", "aiohttp", "curl_cffi", "PIL")


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["a cat", "--width", "abc"], 2),
        (["--prompt-file", "missing.txt"], 2),
        (["a cat", "-o", "x.gif"], 2),
        (["a cat", "--aspect-ratio", "7:5"], 2),
        (["a cat", "--space", "not a space"], 2),
    ],
)
def test_help_and_usage_errors_import_no_http_library_nor_g4f(tmp_path, args, code):
    run, names = importing(*args, cwd=tmp_path)
    assert run.code == code, run
    assert "g4f_flux_plugin.cli.running" in names  # the output was read: the command ran
    assert [name for name in names if name.split(".")[0] in HEAVY] == []


def test_a_generation_loads_no_g4f_module(replica, tmp_path):
    # The command uses the Space client directly: g4f (a few hundred modules)
    # is neither needed nor paid for, even with the start-up hook installed.
    prompt = f"no g4f {token()}"
    run, names = importing(
        prompt, "-o", "x.webp", "--seed", "3", *SMALL, "--api-base", replica.url, cwd=tmp_path
    )
    assert run.code == 0, run
    assert run.stdout == "x.webp (seed 3)\n"
    assert [job["seed"] for job in jobs_for(replica, prompt)] == [3]
    # A real generation happened in this process: the client and a transport were imported.
    assert "g4f_flux_plugin._client" in names and "aiohttp" in names
    assert g4f_modules(names) == []


def test_python_dash_m_runs_the_same_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "g4f_flux_plugin", "--version"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.startswith("g4f-flux "), done


@pytest.mark.parametrize(
    "args, says",
    [
        (["a cat", "--width", "abc"], "--width: invalid"),
        (["a cat", "--seed", "-1"], "--seed: invalid"),
        (["a cat", "--seed", "1", "--seeds", "2"], "not allowed with"),
        ([], "a prompt is needed"),
        (["--prompt-file", "prompts.txt", "-o", "x.webp"], "--out-dir for a batch"),
        (["a cat", "-o", "x.gif"], "unknown image extension"),
        (["a cat", "--api-base", "ftp://example.invalid"], "--api-base must be"),
        (["--prompt-file", "empty.txt"], "no prompts in"),
        (["a cat", "--aspect-ratio", "7:5"], "--aspect-ratio must be one of 1:1, 16:9, 9:16"),
        (["a cat", "--space", "not a space"], "--space must name a Space"),
        (["a cat", "--space", "a/b", "--api-base", "http://127.0.0.1:1"], "give one of them"),
        (["a cat", "--space", "http://example.invalid", "--token", "hf_x"], "plain http"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, says):
    (tmp_path / "prompts.txt").write_text("a cat\n")
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    run = g4f_flux(*args, cwd=tmp_path)
    assert run.code == 2, run
    assert says in run.stderr and "Traceback" not in run.stderr
    assert run.stdout == "" and list(tmp_path.glob("*.webp")) == []


def test_closed_port_exits_1_with_one_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends
    run = g4f_flux("a cat", "--api-base", f"http://127.0.0.1:{port}", cwd=tmp_path)
    assert run.code == 1, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("g4f-flux: error: ") and "connect" in lines[0]
    assert run.stdout == ""


# -- against the replica ------------------------------------------------
def test_one_image_with_size_seed_and_metadata(replica, tmp_path):
    prompt = f"A beautiful landscape {token()}"
    run = g4f_flux(
        prompt,
        "-o",
        "landscape.webp",
        "--seed",
        "42",
        "--width",
        "320",
        "--height",
        "256",
        "--steps",
        "3",
        "--api-base",
        replica.url,
        cwd=tmp_path,
    )
    assert run.code == 0, run
    assert run.stdout == "landscape.webp (seed 42)\n"
    assert run.stderr == ""  # not a terminal: results only
    path = tmp_path / "landscape.webp"
    with Image.open(path) as image:
        assert image.format == "WEBP" and image.size == (320, 256)
        assert near(image.convert("RGB").getpixel((10, 10)), seed_colour(42))
    description, record = exif_record(path)
    assert description == prompt
    assert record == {
        "prompt": prompt,
        "seed": 42,
        "width": 320,
        "height": 256,
        "steps": 3,
        "model": "black-forest-labs-flux-1-schnell",
        "space": replica.url,
    }
    [job] = jobs_for(replica, prompt)
    assert (job["seed"], job["width"], job["height"], job["steps"]) == (42, 320, 256, 3)


@pytest.mark.parametrize(
    "transport, protocol",
    [
        ("aiohttp", "call"),
        ("curl_cffi", "queue"),
        ("curl_cffi", "call"),
    ],
)
def test_other_transports_and_protocols(replica, tmp_path, transport, protocol):
    if transport == "curl_cffi":
        pytest.importorskip("curl_cffi")
    prompt = f"{transport} {protocol} {token()}"
    run = g4f_flux(
        prompt,
        "-o",
        "x.webp",
        "--seed",
        "8",
        *SMALL,
        "--transport",
        transport,
        "--protocol",
        protocol,
        "--api-base",
        replica.url,
        cwd=tmp_path,
    )
    assert run.code == 0, run
    assert exif_record(tmp_path / "x.webp") == (
        prompt,
        {
            "prompt": prompt,
            "seed": 8,
            "width": 256,
            "height": 256,
            "steps": 2,
            "model": "black-forest-labs-flux-1-schnell",
            "space": replica.url,
        },
    )
    assert [job["seed"] for job in jobs_for(replica, prompt)] == [8]


def test_webp_bytes_are_the_spaces_own(replica, tmp_path):
    # Metadata is added to the container; the image data is not re-encoded.
    prompt = f"untouched {token()}"
    assert (
        g4f_flux(prompt, "-o", "a.webp", "--seed", "7", *SMALL, "--api-base", replica.url, cwd=tmp_path).code
        == 0
    )
    assert (
        g4f_flux(
            prompt,
            "-o",
            "b.webp",
            "--seed",
            "7",
            *SMALL,
            "--no-metadata",
            "--api-base",
            replica.url,
            cwd=tmp_path,
        ).code
        == 0
    )
    with_meta, without = (tmp_path / "a.webp").read_bytes(), (tmp_path / "b.webp").read_bytes()
    assert b"EXIF" in with_meta and b"EXIF" not in without
    with Image.open(tmp_path / "b.webp") as image:
        assert "exif" not in image.info
    with Image.open(tmp_path / "a.webp") as a, Image.open(tmp_path / "b.webp") as b:
        assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


def test_several_seeds_make_several_files_named_by_seed(replica, tmp_path):
    prompt = f"seeds {token()}"
    run = g4f_flux(
        prompt,
        "-o",
        "land.webp",
        "--seed",
        "1",
        "--seed",
        "2",
        *SMALL,
        "--api-base",
        replica.url,
        cwd=tmp_path,
    )
    assert run.code == 0, run
    assert sorted(run.stdout.splitlines()) == ["land-seed1.webp (seed 1)", "land-seed2.webp (seed 2)"]
    for seed in (1, 2):
        assert exif_record(tmp_path / f"land-seed{seed}.webp")[1]["seed"] == seed
    assert sorted(job["seed"] for job in jobs_for(replica, prompt)) == [1, 2]


def test_random_seeds_are_chosen_before_and_appear_in_names(replica, tmp_path):
    marker = token()
    run = g4f_flux(
        f"Random {marker}",
        "--seeds",
        "3",
        *SMALL,
        "--out-dir",
        "out",
        "--api-base",
        replica.url,
        cwd=tmp_path,
    )
    assert run.code == 0, run
    files = sorted((tmp_path / "out").glob("*.webp"))
    assert len(files) == 3
    seeds = set()
    for path in files:
        match = re.fullmatch(rf"random-{marker}-seed(\d+)\.webp", path.name)
        assert match, path.name
        seeds.add(int(match.group(1)))
        assert exif_record(path)[1]["seed"] == int(match.group(1))
        with Image.open(path) as image:  # the pixels are the Space's image for that seed
            assert near(image.convert("RGB").getpixel((0, 0)), seed_colour(int(match.group(1))))
    assert {job["seed"] for job in jobs_for(replica, marker)} == seeds


def test_json_lines(replica, tmp_path):
    prompt = f"json {token()}"
    run = g4f_flux(
        prompt, "--seed", "5", "--seed", "6", *SMALL, "--json", "--api-base", replica.url, cwd=tmp_path
    )
    assert run.code == 0, run
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert sorted(r["seed"] for r in records) == [5, 6]
    for record in records:
        assert set(record) == {"path", "prompt", "seed", "width", "height", "steps", "model", "space", "url"}
        assert (tmp_path / record["path"]).is_file()
        assert f"seed{record['seed']}" in record["path"]
        assert (record["prompt"], record["width"], record["height"], record["steps"]) == (prompt, 256, 256, 2)
        assert record["space"] == replica.url and record["url"].startswith(replica.url + "/")


@pytest.mark.parametrize("name, fmt", [("out.png", "PNG"), ("out.jpg", "JPEG")])
def test_other_extension_converts_and_keeps_metadata(replica, tmp_path, name, fmt):
    prompt = f"Un été {token()}"
    run = g4f_flux(
        prompt,
        "-o",
        name,
        "--seed",
        "99",
        "--width",
        "288",
        "--height",
        "256",
        "--sidecar",
        "--api-base",
        replica.url,
        cwd=tmp_path,
    )
    assert run.code == 0, run
    with Image.open(tmp_path / name) as image:
        assert image.format == fmt and image.size == (288, 256)
        if fmt == "PNG":
            assert image.text["Description"] == prompt
            record = json.loads(image.text["g4f-flux"])
    if fmt == "JPEG":
        _, record = exif_record(tmp_path / name)
    assert record["prompt"] == prompt and record["seed"] == 99
    sidecar = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert sidecar["prompt"] == prompt and sidecar["seed"] == 99 and sidecar["width"] == 288


def test_batch_resume_generates_only_missing_images(replica, tmp_path):
    marker = token()
    prompts = [f"red fox {marker}", f"blue whale {marker}", f"green owl {marker}"]
    (tmp_path / "prompts.txt").write_text(
        "# animals\n\n" + "\n".join(prompts) + f"\n   \n{prompts[0]}\n", encoding="utf-8"
    )
    common = [
        "--prompt-file",
        "prompts.txt",
        "--out-dir",
        "out",
        *SMALL,
        "--concurrency",
        "2",
        "--api-base",
        replica.url,
    ]
    first = g4f_flux(*common, cwd=tmp_path)
    assert first.code == 0, first
    files = sorted((tmp_path / "out").glob("*.webp"))
    assert len(files) == 3 and len(jobs_for(replica, marker)) == 3
    assert len(first.stdout.splitlines()) == 3

    whale = next(path for path in files if "blue-whale" in path.name)
    whale.unlink()
    second = g4f_flux(*common, cwd=tmp_path)
    assert second.code == 0, second
    assert len(second.stdout.splitlines()) == 1 and "blue-whale" in second.stdout
    jobs = jobs_for(replica, marker)
    assert len(jobs) == 4 and jobs[-1]["prompt"] == prompts[1]
    assert len(list((tmp_path / "out").glob("*.webp"))) == 3
    assert not list((tmp_path / "out").glob(".*.part"))  # no temporary file left behind

    third = g4f_flux(*common, cwd=tmp_path)
    assert third.code == 0 and third.stdout == "" and len(jobs_for(replica, marker)) == 4


def test_batch_with_fixed_seeds_skips_known_names(replica, tmp_path):
    marker = token()
    (tmp_path / "p.txt").write_text(f"first {marker}\nsecond {marker}\n")
    common = ["--prompt-file", "p.txt", "--seed", "3", "--seed", "4", *SMALL, "--api-base", replica.url]
    assert g4f_flux(*common, cwd=tmp_path).code == 0
    assert len(list(tmp_path.glob("*-seed[34].webp"))) == 4
    (next(tmp_path.glob(f"second-{marker}-*-seed4.webp"))).unlink()
    again = g4f_flux(*common, "--json", cwd=tmp_path)
    assert again.code == 0, again
    [record] = [json.loads(line) for line in again.stdout.splitlines()]
    assert record["prompt"] == f"second {marker}" and record["seed"] == 4
    assert len(jobs_for(replica, marker)) == 5


def test_quota_exits_3_and_says_how_long_to_wait(replica, tmp_path):
    run = g4f_flux(f"[[quota]] {token()}", *SMALL, "--api-base", replica.url, cwd=tmp_path)
    assert run.code == 3, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("g4f-flux: error: ")
    assert "try again in 5 min 12 s" in lines[0] and "quota" in lines[0].lower()
    assert run.stdout == "" and not list(tmp_path.glob("*.webp"))


def _slow_job(marker: str) -> list[str]:
    """A 10-step job of one second a step: still running when a test stops it."""
    return [f"slow {marker} [[sleep=1]]", "--steps", "10", "--width", "256", "--height", "256"]


def test_timeout_exits_4(replica, tmp_path):
    marker = token()
    run = g4f_flux(
        *_slow_job(marker),
        "--timeout",
        "2",
        "--api-base",
        replica.url,
        cwd=tmp_path,
    )
    assert run.code == 4, run
    assert run.stderr.startswith("g4f-flux: error: ") and "Traceback" not in run.stderr
    _wait_for_state(replica, marker, "cancelled")


def _wait_for_state(replica, marker: str, state: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = jobs_for(replica, marker)
        if jobs and jobs[-1]["state"] == state:
            return jobs[-1]
        time.sleep(0.05)
    raise AssertionError(f"no job {marker} in state {state}: {jobs_for(replica, marker)}")


@pytest.mark.skipif(not IS_POSIX, reason="SIGINT to a child process is POSIX")
def test_ctrl_c_cancels_the_job_on_the_space_and_exits_130(replica, tmp_path):
    marker = token()
    process = subprocess.Popen(
        [
            *COMMAND,
            *_slow_job(marker),
            "--api-base",
            replica.url,
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        # A shell without job control starts background children with SIGINT
        # ignored, which Python honours: give the command the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        _wait_for_state(replica, marker, "running")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr and stderr.strip() == "g4f-flux: interrupted"
    assert stdout == "" and not list(tmp_path.glob("*.webp"))
    _wait_for_state(replica, marker, "cancelled")


@pytest.mark.skipif(not IS_POSIX, reason="pseudo-terminals are POSIX")
def test_progress_on_a_terminal_and_quiet(replica, tmp_path):
    marker = token()
    args = [
        f"progress {marker} [[sleep=0.2]]",
        "--steps",
        "3",
        "--width",
        "256",
        "--height",
        "256",
        "--seed",
        "11",
        "--api-base",
        replica.url,
    ]
    shown = g4f_flux_on_terminal(*args, "-o", "a.webp", cwd=tmp_path)
    assert shown.code == 0, shown
    assert "\r" in shown.stderr and "step 1 of 3" in shown.stderr and "step 3 of 3" in shown.stderr
    assert shown.stdout == "a.webp (seed 11)\n"

    quiet = g4f_flux_on_terminal(*args, "-o", "b.webp", "--quiet", cwd=tmp_path)
    assert quiet.code == 0, quiet
    assert quiet.stderr == "" and quiet.stdout == "b.webp (seed 11)\n"


# -- the download helper: token scope, size bound, image check ----------------
class _FakeResponse:
    def __init__(self, status, body, headers=None):
        self.status, self._body = status, body
        self.headers = {"content-length": str(len(body)), **(headers or {})}
        self.url = ""

    async def aiter_bytes(self):
        yield self._body

    async def read(self, limit):
        from g4f_flux_plugin._transports.base import Response

        return await Response.read(self, limit)

    async def aclose(self):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        pass


def _fake_transport(routes):
    from g4f_flux_plugin._transports.base import Transport

    class FakeTransport(Transport):
        def __init__(self):
            self.seen = []

        async def request(self, method, url, *, headers, content=None):
            self.seen.append((url, dict(headers)))
            return routes[url]

        async def aclose(self):
            pass

    return FakeTransport()


def _webp_bytes(size=(16, 16)):
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, "WEBP")
    return out.getvalue()


async def test_download_sends_the_token_only_to_the_space_and_follows_redirects():
    from g4f_flux_plugin._download import download_image
    from g4f_flux_plugin._http import HttpClient

    image = _webp_bytes()
    transport = _fake_transport(
        {
            "https://space.example/file=a.webp": _FakeResponse(
                302, b"", {"location": "https://cdn.example/a.webp"}
            ),
            "https://cdn.example/a.webp": _FakeResponse(200, image),
        }
    )
    data, kind = await download_image(
        HttpClient(transport, "https://space.example", "hf_secret"), "https://space.example/file=a.webp"
    )
    assert (data, kind) == (image, "webp")
    (_, first), (second_url, second) = transport.seen
    assert first["x-hf-authorization"] == "Bearer hf_secret" and "authorization" not in first
    assert "x-hf-authorization" not in second and second_url.startswith("https://cdn.example/")


@pytest.mark.parametrize(
    "body, limit, says",
    [
        (b"<html>not an image</html>", 1 << 20, "not a WebP, PNG or JPEG"),
        (None, 10, "limit"),
        (b"RIFF\xff\x00\x00\x00WEBPVP8 ", 1 << 20, "truncated"),
    ],
)
async def test_download_refuses_what_is_not_a_bounded_image(body, limit, says):
    from g4f_flux_plugin._download import download_image
    from g4f_flux_plugin._errors import SpaceProtocolError
    from g4f_flux_plugin._http import HttpClient

    body = _webp_bytes((64, 64)) if body is None else body
    transport = _fake_transport({"https://s.example/f": _FakeResponse(200, body)})
    with pytest.raises(SpaceProtocolError, match=says):
        await download_image(HttpClient(transport, "https://s.example"), "https://s.example/f", limit=limit)


# -- pure pieces of the command, in process ----------------------------------
@pytest.mark.parametrize(
    "url, public",
    [
        ("http://user:secret@[::1]:7860/space", "http://[::1]:7860/space"),
        ("https://user@[2001:db8::1]/", "https://[2001:db8::1]/"),
        ("http://user:secret@127.0.0.1:7860", "http://127.0.0.1:7860"),
        ("https://Name:pw@Example.ORG:8443/a?b=c", "https://Example.ORG:8443/a?b=c"),
        ("http://[::1]:7860", "http://[::1]:7860"),  # nothing to remove: unchanged
    ],
)
def test_public_url_drops_credentials_and_keeps_the_host_as_written(url, public):
    from g4f_flux_plugin.cli.running import public_url

    assert public_url(url) == public


@pytest.mark.parametrize(
    "event, sentence, status",
    [
        # Gradio estimates 0 s (or a fraction) for an empty queue: no "about 0 s".
        (
            dict(kind="queued", rank=0, queue_size=1, eta=0.0),
            "Queue position 1 of 1",
            "queue position 1 of 1",
        ),
        (dict(kind="queued", rank=2, eta=0.4), "Queue position 3", "queue position 3"),
        (
            dict(kind="queued", rank=1, queue_size=4, eta=12.4),
            "Queue position 2 of 4, about 12 s",
            "queue position 2 of 4, about 12 s",
        ),
        (dict(kind="queued", queue_size=5, eta=3.0), "Queued, about 3 s", "queued, about 3 s"),
        (dict(kind="queued"), "Queued", "queued"),
        (dict(kind="started", eta=0.0), "Generating", "running"),
        (dict(kind="started", eta=7.6), "Generating, about 8 s", "running"),
    ],
)
def test_progress_sentences_leave_out_an_estimate_under_a_second(event, sentence, status):
    from g4f_flux_plugin._events import ProgressEvent
    from g4f_flux_plugin.cli import describe

    assert ProgressEvent(**event).describe() == sentence  # what g4f's GUI shows
    assert describe(ProgressEvent(**event)) == status  # the command's progress line


async def test_download_error_page_over_64_kib_keeps_its_title():
    # A proxy's error page is often larger than the excerpt read from it; its
    # <title> is near the top, and the error message quotes it.
    from g4f_flux_plugin._download import download_image
    from g4f_flux_plugin._errors import SpaceStatusError
    from g4f_flux_plugin._http import HttpClient

    page = b"<html><head><title>502 Bad Gateway from the proxy</title></head><body>" + b"x" * (200 << 10)
    transport = _fake_transport({"https://s.example/f": _FakeResponse(502, page)})
    with pytest.raises(SpaceStatusError) as caught:
        await download_image(HttpClient(transport, "https://s.example"), "https://s.example/f")
    assert "HTTP 502" in str(caught.value) and "502 Bad Gateway from the proxy" in str(caught.value)


# -- --aspect-ratio and --space ------------------------------------------------------
def test_aspect_ratio_sizes_as_the_provider_does_and_space_lists_fail_over(replica, tmp_path, closed_url):
    from g4f_flux_plugin._params import ASPECT_RATIOS

    prompt = f"ratio {token()}"
    run = g4f_flux(
        prompt,
        "--seed",
        "8",
        "--aspect-ratio",
        "16:9",
        "--steps",
        "1",
        "--json",
        "--space",
        f"{closed_url},{replica.url}",
        cwd=tmp_path,
    )
    assert run.code == 0, run
    (record,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert (record["width"], record["height"]) == ASPECT_RATIOS["16:9"] == (1024, 576)
    assert record["space"] == replica.url  # the second Space made it: the first refused
    (job,) = jobs_for(replica, prompt)
    assert (job["width"], job["height"]) == (1024, 576)
    # --width and --height take precedence over the ratio, as in the provider.
    prompt = f"ratio {token()}"
    run = g4f_flux(
        prompt, "--seed", "8", "--aspect-ratio", "16:9", *SMALL, "--space", replica.url, cwd=tmp_path
    )
    assert run.code == 0, run
    assert [(job["width"], job["height"]) for job in jobs_for(replica, prompt)] == [(256, 256)]


# -- ZeroGPU's token warning ----------------------------------------------------
FALLBACK = "Falling back to IP-based quotas (Invalid credentials in Authorization header)"
SAYS = (
    "g4f-flux: warning: the Space did not accept your Hugging Face token (Invalid credentials in "
    "Authorization header), so this generation uses the anonymous quota"
)


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "not-quiet"])
def test_the_token_warning_reaches_stderr_even_under_quiet(tmp_path, quiet):
    """The fault server plays a Space whose ZeroGPU falls back to IP-based
    quotas: the command says so once, in plain words, ``-q`` or not."""
    from fault_server import FaultServer

    webp = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(webp, "WEBP")
    toasts = [
        ("warning", "ZeroGPU client warning", FALLBACK),
        ("info", "ZeroGPU queue", "Successfully acquired a GPU"),
    ]
    with FaultServer() as server:
        server.use("toast", toasts=toasts, image=webp.getvalue())
        args = ["a fox", *SMALL, "--seed", "3", "--api-base", server.root, "--token", "hf_rejected_token_x"]
        run = g4f_flux(*args, *(["-q"] if quiet else []), "-o", "fox.webp", cwd=tmp_path)
    assert run.code == 0, run
    assert run.stdout == "fox.webp (seed 7)\n"
    assert run.stderr.splitlines() == [SAYS]
    assert "hf_rejected_token_x" not in run.stderr
