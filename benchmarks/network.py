"""Network: round trips and connections per generation over a link with a round-trip time.

Every contender talks to the replica through its own :class:`relay.TcpRelay`
(``--rtt-ms``, 60 ms by default) and, interleaved with it, through a relay
with no delay, which stands for loopback. Per contender it reports, over
sequential generations in one event loop, the median time until the image's
URL is known, the round trips that costs beyond the job itself, and the TCP
connections the relay accepted. Then whole command lines, each a fresh
process: ``g4f-flux`` against the floor as a script (``floor.py``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from common import HERE, PROMPT, SIZE, STEPS, Plan, Seeds, available, log, rotated
from contenders import Contender, FloorContender, GradioClientContender, ProviderContender
from procs import Interpreters, bin_path
from relay import RelayThread, TcpRelay  # tests/relay.py (see server.py)
from report import Target, md_table
from server import Replica
from stats import Dist, fmt, fmt_ratio, ratio
from tls import ThrowawayCA

DEFAULT_RTT_MS = 60.0
LINKS = ("link", "loopback")
TLS_LINK = "TLS link"  # the same delay, with TLS terminated behind it
FLOOR_SCRIPT = "floor script"


def _contenders(url: str, ca_path: str | None = None) -> list[Contender]:
    """The network section's contenders, all pointed at ``url``; over TLS
    (``ca_path``: the throwaway CA, see ``tls.py``) also curl_cffi."""
    found: list[Contender] = [
        FloorContender(url, "call", name="floor (aiohttp keep-alive, call)"),
        ProviderContender(url, None, None, False, name="provider as g4f calls it (no transport)"),
        # make_transport("aiohttp") is AiohttpTransport(), as a caller would make it.
        ProviderContender(url, "aiohttp", None, True, name="provider, one long-lived AiohttpTransport"),
    ]
    if ca_path is not None and available("curl_cffi"):
        # curl_cffi reads its own CA bundle, not SSL_CERT_FILE: it is given the CA.
        found.append(
            ProviderContender(
                url,
                "curl_cffi",
                None,
                True,
                verify=ca_path,
                name="provider, one long-lived CurlCffiTransport",
            )
        )
    if available("gradio_client"):
        found.append(GradioClientContender(url, download=False, name="gradio_client Client().predict"))
    return found


@dataclass
class NetResult:
    """One contender over one link."""

    name: str
    link: str
    protocol: str
    ms: Dist = field(default_factory=lambda: Dist([]))  # time to the image's URL
    first_ms: float | None = None
    connections: list[int] = field(default_factory=list)  # per generation, in order
    setup_connections: int = 0
    seeds: list[int] = field(default_factory=list)
    job_ms: Dist = field(default_factory=lambda: Dist([]))  # what the replica spent per job
    errors: int = 0


@dataclass
class ColdResult:
    """Whole fresh processes per command and link."""

    ms: dict[tuple[str, str], Dist]
    connections: dict[tuple[str, str], Dist]
    commands: dict[str, str]
    errors: dict[str, int]


@dataclass
class NetworkResult:
    """Everything the network section measured."""

    rtt_ms: float
    generations: list[NetResult]
    cold: ColdResult | None


def _replica_jobs(replica: Replica, path: str = "/_replica/jobs", method: str = "GET") -> list[dict]:
    request = urllib.request.Request(
        replica.url + path, method=method, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


async def _generations(
    replica: Replica, relays: RelayThread, plan: Plan, rtt: float, seeds: Seeds, ca: ThrowawayCA | None
) -> list[NetResult]:
    links = {"link": rtt, "loopback": 0.0}
    if ca is not None:
        links[TLS_LINK] = rtt
    runs: list[tuple[Contender, TcpRelay, NetResult]] = []
    for link, delay in links.items():
        ca_path = ca.ca_path if link == TLS_LINK else None
        for index in range(len(_contenders(replica.url, ca_path))):
            if link == TLS_LINK:
                # The delaying relay carries the TLS bytes, handshake included,
                # to a relay that terminates TLS in front of the replica.
                relay = relays.relay(relays.relay(replica.url, 0.0, ca.server_context).url, delay)
                url = "https://" + relay.url.split("://", 1)[1]
            else:
                relay = relays.relay(replica.url, delay)
                url = relay.url
            contender = _contenders(url, ca_path)[index]  # one relay each: its connections are its own
            await contender.setup()
            runs.append(
                (
                    contender,
                    relay,
                    NetResult(contender.name, link, contender.protocol, setup_connections=relay.connections),
                )
            )
    try:
        for rep in range(plan.net_reps):
            for contender, relay, result in rotated(runs, rep):
                seed = seeds()
                gc.collect()
                before = relay.connections
                start = time.perf_counter()
                try:
                    if contender.blocking:
                        contender.image_url_sync(seed)  # the relay has its own thread
                    else:
                        await contender.image_url(seed)
                except Exception as error:  # counted and reported, never hidden
                    result.errors += 1
                    log(f"network: {result.name} ({result.link}) failed: {type(error).__name__}: {error}")
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                result.ms.values.append(elapsed)
                if result.first_ms is None:
                    result.first_ms = elapsed
                result.connections.append(relay.connections - before)
                result.seeds.append(seed)
    finally:
        for contender, _, _ in runs:
            await contender.aclose()
    return [result for _, _, result in runs]


def _attach_job_times(results: list[NetResult], jobs: list[dict]) -> None:
    by_seed = {job.get("seed"): job for job in jobs if job.get("ended_at") and job.get("started_at")}
    for result in results:
        for seed in result.seeds:
            job = by_seed.get(seed)
            if job is not None:
                result.job_ms.values.append((job["ended_at"] - job["started_at"]) * 1000)


def _cold_commands(url: str, output: str) -> dict[str, tuple[str, list[str]]]:
    """The cold command lines against ``url``, writing ``output``: name -> (label, argv)."""
    size = ["--width", str(SIZE), "--height", str(SIZE), "--steps", str(STEPS)]
    found: dict[str, tuple[str, list[str]]] = {}
    cli = bin_path("g4f-flux")
    if cli:
        argv = [cli, PROMPT, "--api-base", url, "-o", output, *size, "-q"]
        found["g4f-flux"] = (f'`g4f-flux "..." --api-base URL -o FILE {" ".join(size)} -q`', argv)
        found["g4f-flux --no-metadata"] = (
            "the same with `--no-metadata` (no Pillow)",
            [*argv, "--no-metadata"],
        )
    found[FLOOR_SCRIPT] = (
        "`python benchmarks/floor.py URL -o FILE` (aiohttp, /config, call, download)",
        [
            sys.executable,
            str(HERE / "floor.py"),
            url,
            PROMPT,
            "-o",
            output,
            "--size",
            str(SIZE),
            "--steps",
            str(STEPS),
        ],
    )
    return found


def _cold(relays: RelayThread, replica: Replica, plan: Plan, rtt: float) -> ColdResult:
    link_relays = {"link": relays.relay(replica.url, rtt), "loopback": relays.relay(replica.url, 0.0)}
    names = list(_cold_commands("URL", "FILE"))
    ms = {(name, link): Dist([]) for name in names for link in LINKS}
    connections = {(name, link): Dist([]) for name in names for link in LINKS}
    errors = dict.fromkeys(names, 0)
    cases = [(name, link) for name in names for link in LINKS]
    with Interpreters() as procs, tempfile.TemporaryDirectory(prefix="g4f-flux-bench-cold-") as tmp:
        output = str(Path(tmp) / "image.webp")

        def run(name: str, link: str) -> float | None:
            try:
                return procs.wall_ms(_cold_commands(link_relays[link].url, output)[name][1])
            except subprocess.SubprocessError as error:  # counted and reported, never hidden
                errors[name] += 1
                tail = (getattr(error, "stderr", None) or "").strip().splitlines()[-3:]
                log(f"network: cold {name} ({link}) failed: {error}: {' | '.join(tail)}")
                return None

        for name in names:  # warm: byte-code written, OS caches filled
            run(name, "loopback")
        for round_ in range(plan.cold_runs):
            for name, link in rotated(cases, round_):
                before = link_relays[link].connections
                elapsed = run(name, link)
                if elapsed is not None:
                    ms[(name, link)].values.append(elapsed)
                    connections[(name, link)].values.append(link_relays[link].connections - before)
    labels = {name: label for name, (label, _) in _cold_commands("URL", "FILE").items()}
    return ColdResult(ms, connections, labels, errors)


def measure(
    replica: Replica, plan: Plan, rtt_ms: float, seeds: Seeds, ca: ThrowawayCA | None = None
) -> NetworkResult:
    """Sequential generations per contender on every link (the TLS one with
    ``ca``, see ``tls.py``), then the cold command lines."""
    rtt = rtt_ms / 1000
    _replica_jobs(replica, "/_replica/reset", "POST")  # only this section's jobs from here on
    with RelayThread() as relays:
        log(
            f"network: {plan.net_reps} generations per contender, RTT {rtt_ms:g} ms"
            f"{', over TLS too' if ca else ''} and loopback"
        )
        generations = asyncio.run(_generations(replica, relays, plan, rtt, seeds, ca))
        _attach_job_times(generations, _replica_jobs(replica))
        log(f"network: cold command lines, {plan.cold_runs} runs each")
        cold = _cold(relays, replica, plan, rtt)
    return NetworkResult(rtt_ms, generations, cold)


def round_trips(
    result: NetResult, loopback: NetResult | None, rtt_ms: float
) -> tuple[float | None, float | None]:
    """(round trips beyond the replica's job time, round trips the link adds over loopback)."""
    beyond_job = ratio(result.ms.median - result.job_ms.median, rtt_ms) if result.job_ms.values else None
    over_loopback = ratio(result.ms.median - loopback.ms.median, rtt_ms) if loopback else None
    return beyond_job, over_loopback


RTT_LIMIT = 0.25  # extra round trips per generation over the floor (issue 12)
CONNECTIONS_LIMIT = 0.1  # new connections per generation after the first
COLD_LIMIT = 1.25  # a cold g4f-flux vs the floor script over the link
G4F_PATH = "provider as g4f calls it (no transport)"
FLOOR = "floor (aiohttp keep-alive, call)"


def targets(net: NetworkResult) -> list[Target]:
    """The default path over the link vs the floor, and the cold command line vs the floor script."""
    by = {(r.name, r.link): r for r in net.generations}
    found: list[Target] = []
    for link in ("link", TLS_LINK):
        ours, floor = by.get((G4F_PATH, link)), by.get((FLOOR, link))
        if not (ours and floor):
            continue
        where = f"{net.rtt_ms:g} ms RTT" + (" over TLS" if link == TLS_LINK else "")
        mine, _ = round_trips(ours, by.get((G4F_PATH, "loopback")), net.rtt_ms)
        theirs, _ = round_trips(floor, by.get((FLOOR, "loopback")), net.rtt_ms)
        extra = None if mine is None or theirs is None else mine - theirs
        found.append(
            Target(
                f"network, {where}: {G4F_PATH}, round trips per generation beyond the floor's",
                f"<= {RTT_LIMIT} RTT",
                f"{fmt(extra, 2)} RTT more ({fmt(mine, 2)} vs {fmt(theirs, 2)} beyond the job)",
                None,
                None if extra is None else extra <= RTT_LIMIT,
            )
        )
        later = ours.connections[1:]
        per = statistics.mean(later) if later else None
        found.append(
            Target(
                f"network, {where}: {G4F_PATH}, new connections per generation after the first",
                f"< {CONNECTIONS_LIMIT}",
                f"{fmt(per, 2)} ({sum(ours.connections)} in {len(ours.connections)} generations)",
                None,
                None if per is None else per < CONNECTIONS_LIMIT,
            )
        )
    cold = net.cold
    if cold is not None and ("g4f-flux", "link") in cold.ms and (FLOOR_SCRIPT, "link") in cold.ms:
        for link in LINKS:
            value = ratio(cold.ms[("g4f-flux", link)].median, cold.ms[(FLOOR_SCRIPT, link)].median)
            where = f"{net.rtt_ms:g} ms link" if link == "link" else "loopback"
            found.append(
                Target(
                    f"cold `g4f-flux ... -o FILE` vs the floor script, {where}",
                    f"<= {COLD_LIMIT}x",
                    f"{fmt(cold.ms[('g4f-flux', link)].median)} vs "
                    f"{fmt(cold.ms[(FLOOR_SCRIPT, link)].median)} ms",
                    value,
                    None if value is None else value <= COLD_LIMIT,
                )
            )
    return found


def render(net: NetworkResult, plan: Plan) -> str:
    """The network section."""
    rtt = net.rtt_ms
    out = [f"## Network: round trips and connections over a {rtt:g} ms link\n"]
    out.append(
        f"Each contender talks to the replica through a relay on 127.0.0.1 that delays every chunk by "
        f"{rtt / 2:g} ms in each direction (a request and its response cost one RTT of {rtt:g} ms) and holds a "
        "new connection's first bytes back by one more RTT (a TCP handshake); it counts the connections "
        f"it accepts. {plan.net_reps} sequential generations per contender in one event loop, up to the "
        "image's URL (no download), interleaved with the same contender through a relay with no delay "
        '("loopback"). Job ms: what the replica spent in the job (its own record). Round trips beyond '
        "the job: (median over the link − job ms) / RTT, which still counts both sides' CPU time; round "
        "trips the link adds: (median over the link − median on loopback) / RTT; fractions of a round trip are "
        "the replica's own work overlapping a request in flight (the job starts on the submit, while the "
        "stream's request is on its way). Connections: during "
        "set-up (the floor's and gradio_client's discovery), in the first generation, and per generation "
        'after the first. The provider "as g4f calls it" gets no `transport=`; the long-lived one gets '
        "one `AiohttpTransport()` for all its generations.\n"
    )
    out.append(_generations_table(net, "link"))
    out.append("")
    if any(r.link == TLS_LINK for r in net.generations):
        out.append(
            f"Over TLS: the same {rtt:g} ms link, carrying TLS to a relay that terminates it in front of "
            "the replica with a certificate for 127.0.0.1 from a CA made for this run, so a new "
            "connection also pays its TLS handshake over the link (one more RTT with TLS 1.3) and its "
            "CPU. aiohttp and gradio_client's httpx trust that CA through `SSL_CERT_FILE` (the "
            "provider as g4f calls it is unchanged); curl_cffi reads its own CA bundle, so its "
            "transport gets the CA's path (`verify=`). Round trips the link adds: over plain "
            "loopback.\n"
        )
        out.append(_generations_table(net, TLS_LINK))
        out.append("")
    else:
        out.append("TLS is not measured in this run (it needs trustme for its throwaway CA).\n")
    if net.cold is not None:
        out.append(_render_cold(net.cold, plan, rtt))
    return "\n".join(out) + "\n"


def _generations_table(net: NetworkResult, link: str) -> str:
    """Per contender over ``link``, compared with its own loopback run."""
    by = {(r.name, r.link): r for r in net.generations}
    rows = []
    for r in net.generations:
        if r.link != link:
            continue
        loopback = by.get((r.name, "loopback"))
        beyond_job, over_loopback = round_trips(r, loopback, net.rtt_ms)
        later = r.connections[1:]
        rows.append(
            [
                r.name,
                r.protocol,
                fmt(r.ms.median, 1),
                fmt(r.first_ms, 1),
                fmt(loopback.ms.median if loopback else None, 1),
                fmt(r.job_ms.median, 1),
                fmt(beyond_job, 2),
                fmt(over_loopback, 2),
                str(r.setup_connections),
                str(r.connections[0]) if r.connections else "n/a",
                fmt(statistics.mean(later), 2) if later else "n/a",
                str(sum(r.connections)),
                str(len(r.ms)),
                str(r.errors + (loopback.errors if loopback else 0)),
            ]
        )
    return md_table(
        [
            "contender",
            "protocol",
            "median ms to the URL",
            "first ms",
            "loopback median ms",
            "job ms (replica)",
            "round trips beyond the job",
            "round trips the link adds",
            "connections in set-up",
            "connections, first generation",
            "connections per generation after the first",
            "connections, all generations",
            "n",
            "errors",
        ],
        rows,
    )


def _render_cold(cold: ColdResult, plan: Plan, rtt: float) -> str:
    intro = (
        f"Cold command line: each run is a whole fresh process (interpreter start, imports, `/config`, "
        f"the job, the download, the file written), {plan.cold_runs} runs per command and link, "
        f"interleaved, over the {rtt:g} ms link and on loopback (the relay with no delay). Round trips "
        "the link adds: (median over the link − median on loopback) / RTT. Connections: what the relay "
        "accepted per run.\n"
    )
    rows = []
    for name, label in cold.commands.items():
        row = [label]
        for link in LINKS:
            d = cold.ms[(name, link)]
            row += [
                f"{fmt(d.median)} ({fmt(d.p10)}–{fmt(d.p90)})",
                fmt_ratio(ratio(d.median, cold.ms[(FLOOR_SCRIPT, link)].median)),
            ]
        added = ratio(cold.ms[(name, "link")].median - cold.ms[(name, "loopback")].median, rtt)
        row += [fmt(added, 2), fmt(cold.connections[(name, "link")].median, 0), str(cold.errors[name])]
        rows.append(row)
    header = [
        "command",
        f"{rtt:g} ms link: median ms (p10–p90)",
        "vs floor",
        "loopback: median ms (p10–p90)",
        "vs floor",
        "round trips the link adds",
        "connections per run",
        "errors",
    ]
    return f"{intro}\n{md_table(header, rows)}\n"
