"""Smoke test of ``benchmarks/run.py``: it runs end to end and writes every section.

It never asserts on a timing: benchmark numbers belong in ``benchmarks/RESULTS.md``,
where they are reported as ratios from one run, not in pass/fail tests.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benchmarks" / "run.py"

SECTIONS = (
    "## Targets",
    "## Latency: one generation, image download included",
    "## Throughput:",
    "## Network: round trips and connections over a",
    "## Memory:",
    "## Start-up",
    "## SSE decoding",
    "## Scale:",
)
RATIO = re.compile(r"^(\d[\d,]*\.\d\dx|n/a)$")
NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$")


def _load_benchmark_module(name: str):
    """A module of benchmarks/; they import each other as top-level modules, so
    benchmarks/ is on sys.path only meanwhile, and they leave sys.modules after."""
    path = str(RUN.parent)
    before = set(sys.modules)
    sys.path.insert(0, path)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(path)
        for added in set(sys.modules) - before:
            if (
                getattr(sys.modules[added], "__file__", None)
                and Path(sys.modules[added].__file__).parent == RUN.parent
            ):
                del sys.modules[added]


def _table(report: str, heading: str) -> list[dict[str, str]]:
    """The first Markdown table after ``heading``, as a list of rows keyed by column name."""
    lines = report.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        block.append(line)
    header = [cell.strip() for cell in block[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in block[2:]
    ]


@pytest.mark.timeout(900)
def test_quick_run_writes_every_section_with_ratios(tmp_path: Path) -> None:
    pytest.importorskip("gradio")  # the replica the benchmark starts
    output = tmp_path / "RESULTS.md"
    completed = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = output.read_text(encoding="utf-8")

    for heading in SECTIONS:
        assert heading in report, f"missing section {heading!r}"
    assert "`python benchmarks/run.py --quick`" in report
    assert "- CPU:" in report and "- Versions:" in report

    targets = _table(report, "## Targets")
    assert {"what", "target", "measured", "ratio", "status"} <= set(targets[0])
    for row in targets:
        assert RATIO.match(row["ratio"]), row
        assert row["status"] in ("met", "**missed**", "not yet available"), row
    for topic in ("latency:", "throughput,", "import g4f", "start-up hook", "SSE decoder vs", "linear"):
        assert any(row["what"].startswith(topic) or topic in row["what"] for row in targets), topic

    latency = {row["contender"]: row for row in _table(report, "## Latency")}
    for name in (
        "provider aiohttp/call",
        "provider aiohttp/queue",
        "provider aiohttp/queue long-lived",
        "floor call",
        "floor queue",
    ):
        assert name in latency, name
        assert RATIO.match(latency[name]["vs floor (same protocol)"]), latency[name]
        assert latency[name]["errors"] == "0", latency[name]
    # Structural, not a timing: each floor is its own reference.
    assert latency["floor call"]["vs floor (same protocol)"] == "1.00x"

    throughput = _table(report, "## Throughput")
    assert {row["at a time"] for row in throughput} == {"1", "8", "32"}
    assert all(RATIO.match(row["vs floor (same protocol)"]) for row in throughput)

    memory = {row["contender"]: row for row in _table(report, "## Memory")}
    assert "floor queue" in memory and "provider aiohttp/queue" in memory
    assert memory["floor queue"]["peak vs floor"] == "1.00x"

    decoders = {row["decoder"] for row in _table(report, "## SSE decoding")}
    assert "g4f_flux_plugin._sse" in decoders

    network = {row["contender"]: row for row in _table(report, "## Network:")}
    for name in (
        "floor (aiohttp keep-alive, call)",
        "provider as g4f calls it (no transport)",
        "provider, one long-lived AiohttpTransport",
    ):
        assert name in network, name
        row = network[name]
        assert row["errors"] == "0", row
        for column in (
            "median ms to the URL",
            "loopback median ms",
            "job ms (replica)",
            "round trips beyond the job",
            "round trips the link adds",
            "connections per generation after the first",
            "connections, all generations",
        ):
            assert NUMBER.match(row[column]), (column, row)
    cold = _table(report, "Cold command line:")
    assert any(row["command"].startswith("`g4f-flux") for row in cold)
    floor = next(row for row in cold if "floor.py" in row["command"])
    assert floor["vs floor"] == "1.00x" and floor["errors"] == "0"
    assert all(RATIO.match(row["vs floor"]) for row in cold)
    assert all(
        NUMBER.match(row["round trips the link adds"]) and NUMBER.match(row["connections per run"])
        for row in cold
    )

    scale = {row["contender"]: row for row in _table(report, "## Scale:")}
    for name in ("provider default aiohttp", "floor queue", "floor queue curl_cffi"):
        assert name in scale, name
        assert scale[name]["errors"] == "0", scale[name]
        # Structural: the quick run's few generations all reach the queue while the server holds.
        assert scale[name]["all queued"].endswith(" s"), scale[name]
        for column in ("RSS KiB per waiting", "CPU ms/gen", "job end to image median ms"):
            assert NUMBER.match(scale[name][column]), (column, scale[name])
    assert any(row["what"].startswith("scale:") for row in targets)

    probes = _table(report, "Measured inside fresh interpreters")
    in_site = next(row["value"] for row in probes if "within `site.main()`" in row["measurement"])
    assert re.match(r"^\d[\d,]*\.\d+ ms ", in_site), in_site


def test_importtime_parser_counts_outermost_plugin_modules_once() -> None:
    # -X importtime prints children before their parent, indented by depth.
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:        10 |         10 |     aiohttp.helpers",
            "import time:        20 |         30 |   g4f_flux_plugin._transports",
            "import time:        40 |         70 | g4f_flux_plugin.providers",
            "import time:         5 |          5 |     g4f_flux_plugin._sse",
            "import time:        15 |         20 |   _g4f_flux_plugin_autoload",
            "import time:       100 |        120 | site",
            "import time:       900 |        900 | g4f",
        ]
    )
    startup = _load_benchmark_module("startup")
    assert startup.plugin_importtime_us(stderr) == 70 + 5
    assert startup.plugin_importtime_us(stderr, "g4f") == 900
    assert startup.importtime_us(stderr, lambda name: name == "_g4f_flux_plugin_autoload") == [20]


def test_the_benchmark_replica_keeps_an_idle_connection_past_uvicorns_default() -> None:
    """The network section's flake: uvicorn closes an idle keep-alive connection
    after 5 s, and a client (the floor never retries) whose next request left
    just as the server closed it got "Server disconnected". The benchmark's
    replica keeps idle connections longer than any pause in a run; here one
    connection serves two requests 6 s apart (a wait, not a timing assertion)."""
    import http.client
    import time
    from urllib.parse import urlsplit

    pytest.importorskip("gradio")
    server = _load_benchmark_module("server")
    assert server.KEEP_ALIVE > 6
    replica = server.Replica(concurrency=1).start()
    try:
        connection = http.client.HTTPConnection(urlsplit(replica.url).netloc, timeout=30)
        try:
            connection.request("GET", "/config")
            assert connection.getresponse().read() and connection.sock is not None
            first = connection.sock.getsockname()
            time.sleep(6)  # past uvicorn's default of 5 s
            connection.request("GET", "/config")
            response = connection.getresponse()
            assert response.status == 200 and response.read()
            assert connection.sock.getsockname() == first  # the same connection, reused
        finally:
            connection.close()
    finally:
        replica.stop()


@pytest.mark.timeout(300)
def test_curl_memory_reports_every_variant() -> None:
    """``benchmarks/curl_memory.py`` runs end to end: one row per variant,
    each a number in every column (not a timing, nor a size bound)."""
    pytest.importorskip("curl_cffi")
    out = subprocess.run(
        [sys.executable, str(RUN.parent / "curl_memory.py"), "-n", "50"],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    rows = _table(out.stdout, "KiB per transfer")
    curl_memory = _load_benchmark_module("curl_memory")
    assert [row["variant"] for row in rows] == list(curl_memory.VARIANTS)
    for row in rows:
        assert all(NUMBER.match(row[column]) for column in ("RSS", "C heap", "Python")), row
