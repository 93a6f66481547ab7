"""Start-up: fresh interpreters with and without the plugin, and the start-up hook's own cost.

Measured: wall time of whole processes (``python -c pass``, ``import g4f``
with the hook on and off, ``g4f-flux --help``); import costs inside fresh
processes (perf_counter and ``-X importtime``); the hook's work when g4f is
imported (``autoload()``); and the hook in processes that never import g4f,
three ways: its ``.pth`` line run by hand after site, the plugin's ``.pth``
timed exactly within ``site.main()`` in ``python -S`` children, and
``-X importtime`` of its module.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import NO_AUTOLOAD, Plan, rotated
from procs import Interpreters, bin_path
from report import Target, md_table
from stats import Dist, fmt, fmt_ratio, ratio

LIMIT_MS = 15.0  # import-time costs of the plugin when g4f is imported
HOOK_LIMIT_MS = 0.5  # the start-up hook per interpreter start, in a process that never imports g4f (issue 12)


def hook_lines() -> tuple[str | None, list[str], list[str]]:
    """(name of the start-up hook's .pth, its import lines, the editable finder's lines)."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    hook_file, hook, editable = None, [], []
    for pth in sorted(purelib.glob("*.pth")):
        text = pth.read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.startswith(("import ", "import\t"))]
        if pth.name.startswith("__editable__") and "g4f_flux_plugin" in pth.name:
            editable += lines
        elif "g4f_flux_plugin" in text:
            hook_file = pth.name
            hook += lines
    return hook_file, hook, editable


# Run with the hook turned off by the environment, so site has done all its
# usual work (the site-packages directory is already listed, the editable
# finder if any is loaded) but not the hook; then the hook's .pth lines run
# the way site runs them (exec of the line), timed: this first run imports
# the hook's module and installs it.
_HOOK_PROBE = r"""
import json, os, sys, time
os.environ.pop(ENV, None)
before = set(sys.modules)
meta_path = list(sys.meta_path)
t0 = time.perf_counter_ns()
for line in HOOK:
    exec(line)
cold = time.perf_counter_ns() - t0
imported = sorted(set(sys.modules) - before)
installed = [type(f).__module__ + "." + type(f).__name__ for f in sys.meta_path if f not in meta_path]
warm = None
install = None
for name in imported:
    install = getattr(sys.modules[name], "install", None) or install
if install is not None:
    n = 20000
    t0 = time.perf_counter_ns()
    for _ in range(n):
        install()
    warm = (time.perf_counter_ns() - t0) / n
print(json.dumps({"cold_ns": cold, "warm_ns": warm, "imported": imported, "installed": installed,
                  "g4f": "g4f" in sys.modules}))
"""

# Run under ``python -S``: site has not run, so this child runs site.main()
# itself, as a normal start-up would, with site.addpackage wrapped to time
# each .pth file it processes (reading the file and executing its lines).
# That is exactly the plugin's .pth within a real start-up, nothing more.
_SITE_PROBE = r"""
import json, site, sys, time
times = {}
addpackage = site.addpackage
def timed(sitedir, name, known_paths):
    t0 = time.perf_counter_ns()
    try:
        return addpackage(sitedir, name, known_paths)
    finally:
        # Summed: site may see one directory under two names (lib64 -> lib in a venv).
        times[name] = times.get(name, 0) + time.perf_counter_ns() - t0
site.addpackage = timed
t0 = time.perf_counter_ns()
site.main()
total = time.perf_counter_ns() - t0
print(json.dumps({"pth_ns": times, "site_ns": total,
                  "watcher": any(type(f).__name__ == "_ImportWatcher" for f in sys.meta_path)}))
"""

_AUTOLOAD_PROBE = r"""
import json, sys, time
import g4f
before = set(sys.modules)
t0 = time.perf_counter_ns()
from g4f_flux_plugin._registry import autoload
registered = autoload()
elapsed = time.perf_counter_ns() - t0
print(json.dumps({"ns": elapsed, "registered": [c.__name__ for c in registered],
                  "provider_module_loaded": "g4f_flux_plugin.providers" in sys.modules,
                  "imported": len(set(sys.modules) - before)}))
"""

_IMPORT_PROBE = r"""
import json, sys, time
t0 = time.perf_counter_ns()
import g4f
t1 = time.perf_counter_ns()
import g4f_flux_plugin
t2 = time.perf_counter_ns()
import g4f_flux_plugin.providers
t3 = time.perf_counter_ns()
print(json.dumps({"g4f_ns": t1 - t0, "package_ns": t2 - t1, "providers_ns": t3 - t2}))
"""


def importtime_us(stderr: str, wanted: Callable[[str], bool]) -> list[int]:
    """Cumulative ``-X importtime`` µs of the outermost imports whose name is ``wanted``.

    importtime prints each module after its children, indented by depth; a
    stack rebuilds the tree so that nested matches are not counted twice.
    """
    stack: list[tuple[int, str, int, list]] = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if not match:
            continue
        depth, name, cumulative = len(match.group(3)), match.group(4), int(match.group(2))
        children = []
        while stack and stack[-1][0] > depth:
            children.append(stack.pop())
        stack.append((depth, name, cumulative, children))
    found = []
    pending = list(stack)
    while pending:
        _depth, name, cumulative, children = pending.pop()
        if wanted(name):
            found.append(cumulative)
        else:
            pending.extend(children)
    return found


def plugin_importtime_us(stderr: str, prefix: str = "g4f_flux_plugin") -> int:
    """Sum of the cumulative import time of the outermost modules of package ``prefix``."""
    return sum(importtime_us(stderr, lambda name: name == prefix or name.startswith(prefix + ".")))


@dataclass
class StartupResult:
    """Everything the start-up section measured."""

    walls: dict[str, Dist]
    notes: list[str]
    hook_file: str | None
    hook_cold_us: Dist | None = None
    hook_warm_ns: float | None = None
    hook_imports: list[str] = field(default_factory=list)
    hook_installed: list[str] = field(default_factory=list)
    hook_importtime_us: Dist | None = None
    distutils_hack_us: Dist | None = None
    hook_imports_g4f: bool | None = None
    # The plugin's .pth within site.main() (python -S children), hook on / off,
    # every other .pth file (for scale) and site.main() as a whole.
    site_hook_ms: Dist | None = None
    site_hook_off_ms: Dist | None = None
    site_other_pth_ms: dict[str, Dist] = field(default_factory=dict)
    site_main_ms: Dist | None = None
    site_watcher: bool | None = None
    autoload_ms: Dist | None = None
    autoload_info: dict = field(default_factory=dict)
    import_ms: dict[str, Dist] = field(default_factory=dict)
    importtime_us: dict[str, Dist] = field(default_factory=dict)
    cli: str | None = None


def measure(plan: Plan) -> StartupResult:
    """Every start-up measurement, in fresh interpreters."""
    with Interpreters() as procs:
        result = _walls(procs, plan)
        _imports(procs, plan, result)
        _, hook, _editable = hook_lines()
        if hook:
            _hook(procs, plan, result, hook)
            _hook_in_site(procs, plan, result)
    return result


def _walls(procs: Interpreters, plan: Plan) -> StartupResult:
    py = sys.executable
    cli = bin_path("g4f-flux")
    variants: list[tuple[str, list[str], bool]] = [
        ("python -c pass (hook off)", [py, "-c", "pass"], False),
        ("python -c pass (hook on)", [py, "-c", "pass"], True),
        ("python -c 'import g4f' (hook off)", [py, "-c", "import g4f"], False),
        ("python -c 'import g4f' (hook on)", [py, "-c", "import g4f"], True),
        (
            "python -c 'import g4f, g4f_flux_plugin.providers' (hook off)",
            [py, "-c", "import g4f, g4f_flux_plugin.providers"],
            False,
        ),
    ]
    if cli:
        variants.append(("g4f-flux --help", [cli, "--help"], True))
    result = StartupResult(walls={}, notes=[], hook_file=hook_lines()[0], cli=cli and "g4f-flux")
    for label, argv, hook in list(variants):  # warm the OS caches and write the byte-code once
        try:
            procs.wall_ms(argv, hook)
        except subprocess.CalledProcessError as error:  # reported, and the rest still measured
            result.notes.append(
                f"`{label}` failed (exit status {error.returncode}): "
                f"{(error.stderr or '').strip().splitlines()[-1:]}"
            )
            variants.remove((label, argv, hook))
            if label == "g4f-flux --help":
                result.cli = None
    walls = result.walls = {label: Dist([]) for label, _, _ in variants}
    procs.wall_ms([py, "-c", "import g4f, g4f_flux_plugin.providers, g4f_flux_plugin._registry"], True)
    for run in range(plan.startup_runs):
        for label, argv, hook in rotated(variants, run):
            walls[label].values.append(procs.wall_ms(argv, hook))
    return result


def _importtime(procs: Interpreters, code: str, hook: bool) -> str:
    return procs.run([sys.executable, "-X", "importtime", "-c", code], hook).stderr


def _imports(procs: Interpreters, plan: Plan, result: StartupResult) -> None:
    # Import costs measured inside fresh processes (hook off: the plugin is imported explicitly).
    py = sys.executable
    result.import_ms = {k: Dist([]) for k in ("g4f", "package", "providers")}
    result.importtime_us = {k: Dist([]) for k in ("providers after g4f", "hook on import g4f", "g4f")}
    result.autoload_ms = Dist([])
    for _ in range(plan.probe_runs):
        probe = procs.json([py, "-c", _IMPORT_PROBE], hook=False)
        result.import_ms["g4f"].values.append(probe["g4f_ns"] / 1e6)
        result.import_ms["package"].values.append(probe["package_ns"] / 1e6)
        result.import_ms["providers"].values.append(probe["providers_ns"] / 1e6)
        stderr = _importtime(procs, "import g4f; import g4f_flux_plugin.providers", hook=False)
        result.importtime_us["providers after g4f"].values.append(plugin_importtime_us(stderr))
        result.importtime_us["g4f"].values.append(plugin_importtime_us(stderr, "g4f"))
        stderr = _importtime(procs, "import g4f", hook=True)
        result.importtime_us["hook on import g4f"].values.append(plugin_importtime_us(stderr))
        if result.autoload_ms is not None:
            try:
                probe = procs.json([py, "-c", _AUTOLOAD_PROBE], hook=False)
                result.autoload_ms.values.append(probe["ns"] / 1e6)
                result.autoload_info = probe
            except (subprocess.CalledProcessError, ValueError) as error:
                result.notes.append(f"autoload probe failed: {error}")
                result.autoload_ms = None


def _hook(procs: Interpreters, plan: Plan, result: StartupResult, hook: list[str]) -> None:
    code = _HOOK_PROBE.replace("ENV", repr(NO_AUTOLOAD)).replace("HOOK", repr(hook))
    result.hook_cold_us = Dist([])
    warm = []
    for _ in range(plan.hook_runs):
        probe = procs.json([sys.executable, "-c", code], hook=False)
        result.hook_cold_us.values.append(probe["cold_ns"] / 1000)
        if probe["warm_ns"] is not None:
            warm.append(probe["warm_ns"])
        result.hook_imports = probe["imported"]
        result.hook_installed = probe["installed"]
        result.hook_imports_g4f = probe["g4f"]
    result.hook_warm_ns = statistics.median(warm) if warm else None
    # The same module's import as -X importtime sees it during a normal
    # start-up, beside setuptools' own .pth hook for scale.
    result.hook_importtime_us = Dist([])
    result.distutils_hack_us = Dist([])
    for _ in range(plan.hook_runs):
        stderr = _importtime(procs, "pass", hook=True)
        result.hook_importtime_us.values.append(
            sum(importtime_us(stderr, lambda name: name in result.hook_imports))
        )
        result.distutils_hack_us.values.append(
            sum(importtime_us(stderr, lambda name: name == "_distutils_hack"))
        )


def _hook_in_site(procs: Interpreters, plan: Plan, result: StartupResult) -> None:
    result.site_hook_ms, result.site_hook_off_ms, result.site_main_ms = Dist([]), Dist([]), Dist([])
    argv = [sys.executable, "-S", "-c", _SITE_PROBE]
    for run in range(plan.hook_runs):
        for hook in rotated([True, False], run):
            probe = procs.json(argv, hook=hook)
            ms = probe["pth_ns"].get(result.hook_file, float("nan")) / 1e6
            (result.site_hook_ms if hook else result.site_hook_off_ms).values.append(ms)
            if hook:
                result.site_main_ms.values.append(probe["site_ns"] / 1e6)
                result.site_watcher = probe["watcher"]
                for name, ns in probe["pth_ns"].items():
                    if name != result.hook_file:
                        result.site_other_pth_ms.setdefault(name, Dist([])).values.append(ns / 1e6)


def targets(start: StartupResult) -> list[Target]:
    """Import-time costs when g4f is imported, and the hook where g4f never is."""
    found = []
    if start.autoload_ms is not None and start.autoload_ms.values:
        ms = start.autoload_ms.median
        found.append(
            Target(
                "import g4f: the start-up hook's work when g4f is imported (autoload(), in-process)",
                f"< {LIMIT_MS:g} ms",
                f"{fmt(ms, 2)} ms",
                ms / LIMIT_MS,
                ms < LIMIT_MS,
            )
        )
    else:
        found.append(
            Target(
                "import g4f: the start-up hook's work (g4f_flux_plugin._registry.autoload)",
                f"< {LIMIT_MS:g} ms",
                "not yet available",
                None,
                None,
            )
        )
    ms = start.importtime_us["providers after g4f"].median / 1000
    found.append(
        Target(
            "import g4f_flux_plugin.providers after import g4f (-X importtime cumulative)",
            f"< {LIMIT_MS:g} ms",
            f"{fmt(ms, 2)} ms",
            ms / LIMIT_MS,
            ms < LIMIT_MS,
        )
    )
    if start.hook_cold_us is not None:
        ms = start.hook_cold_us.median / 1000
        found.append(
            Target(
                "start-up hook in a process that never imports g4f (first run of its .pth line: "
                "import + install)",
                f"< {HOOK_LIMIT_MS:g} ms",
                f"{fmt(ms, 3)} ms",
                ms / HOOK_LIMIT_MS,
                ms < HOOK_LIMIT_MS,
            )
        )
    else:
        found.append(
            Target(
                "start-up hook in a process that never imports g4f",
                f"< {HOOK_LIMIT_MS:g} ms",
                "not yet available",
                None,
                None,
            )
        )
    if start.site_hook_ms is not None and start.site_hook_ms.values:
        ms = start.site_hook_ms.median
        found.append(
            Target(
                "start-up hook per interpreter start: the plugin's .pth within site.main() "
                "(python -S children)",
                f"< {HOOK_LIMIT_MS:g} ms",
                f"{fmt(ms, 3)} ms",
                ratio(ms, HOOK_LIMIT_MS),
                ms < HOOK_LIMIT_MS,
            )
        )
    return found


def render(start: StartupResult, plan: Plan) -> str:
    """The start-up section."""
    out = ["## Start-up\n"]
    out.append(
        f"Fresh interpreters, {plan.startup_runs} runs each, interleaved; wall time of the whole "
        f'process. "hook off" sets `{NO_AUTOLOAD}=1`.\n'
    )
    base = start.walls["python -c 'import g4f' (hook off)"].median
    rows = [
        [f"`{label}`", fmt(d.median), fmt(d.p10), fmt(d.p90), fmt_ratio(ratio(d.median, base))]
        for label, d in start.walls.items()
    ]
    if not start.cli:
        rows.append(["`g4f-flux --help`", "not yet available", "", "", ""])
    out.append(md_table(["command", "median ms", "p10", "p90", "vs import g4f (hook off)"], rows))
    out.append("")
    out.append(
        f"Measured inside fresh interpreters (median of {plan.probe_runs}; the hook probe "
        f"{plan.hook_runs}):\n"
    )
    rows = [
        ["`import g4f` (perf_counter)", f"{fmt(start.import_ms['g4f'].median)} ms"],
        ["then `import g4f_flux_plugin` (perf_counter)", f"{fmt(start.import_ms['package'].median, 3)} ms"],
        [
            "then `import g4f_flux_plugin.providers` (perf_counter)",
            f"{fmt(start.import_ms['providers'].median, 2)} ms",
        ],
        [
            "plugin modules' cumulative `-X importtime`, `import g4f; import g4f_flux_plugin.providers`",
            f"{fmt(start.importtime_us['providers after g4f'].median / 1000, 2)} ms",
        ],
        [
            "g4f's cumulative `-X importtime` (same runs)",
            f"{fmt(start.importtime_us['g4f'].median / 1000)} ms",
        ],
        [
            "plugin modules' cumulative `-X importtime`, `import g4f` with the hook on",
            f"{fmt(start.importtime_us['hook on import g4f'].median / 1000, 2)} ms",
        ],
    ]
    if start.autoload_ms is not None and start.autoload_ms.values:
        info = start.autoload_info
        rows.append(
            [
                "the hook's work on `import g4f`: `g4f_flux_plugin._registry.autoload()` after "
                "`import g4f` (perf_counter, imports included)",
                f"{fmt(start.autoload_ms.median, 2)} ms (p10 {fmt(start.autoload_ms.p10, 2)}, "
                f"p90 {fmt(start.autoload_ms.p90, 2)}); registered "
                f"{', '.join(info.get('registered', [])) or 'nothing'}; "
                f"provider module imported: {'yes' if info.get('provider_module_loaded') else 'no'}",
            ]
        )
    else:
        rows.append(
            ["the hook's work on `import g4f` (`g4f_flux_plugin._registry.autoload`)", "not yet available"]
        )
    rows += _hook_rows(start)
    out.append(md_table(["measurement", "value"], rows))
    for note in start.notes:
        out.append(f"\n- {note}")
    return "\n".join(out) + "\n"


def _hook_rows(start: StartupResult) -> list[list[str]]:
    if start.hook_cold_us is None:
        return [["start-up hook (.pth in site-packages)", "not yet available"]]
    rows = [
        [
            f"start-up hook (`{start.hook_file}`): first run of its line, timed in a process "
            "where site ran with the hook off (perf_counter_ns; module import and install included)",
            f"{fmt(start.hook_cold_us.median, 1)} µs (p10 {fmt(start.hook_cold_us.p10, 1)}, "
            f"p90 {fmt(start.hook_cold_us.p90, 1)}), {len(start.hook_cold_us)} processes",
        ]
    ]
    if start.site_hook_ms is not None:
        others = "; ".join(
            f"`{name}` {fmt(d.median, 3)} ms" for name, d in sorted(start.site_other_pth_ms.items())
        )
        rows.append(
            [
                f"`{start.hook_file}` within `site.main()`, timed around `site.addpackage` in "
                "`python -S` children that run `site.main()` themselves (per interpreter start)",
                f"{fmt(start.site_hook_ms.median, 3)} ms (p10 {fmt(start.site_hook_ms.p10, 3)}, "
                f"p90 {fmt(start.site_hook_ms.p90, 3)}) with the hook on; "
                f"{fmt(start.site_hook_off_ms.median, 3)} ms with `{NO_AUTOLOAD}=1`; "
                f"{len(start.site_hook_ms)} processes each; its watcher installed: "
                f"{'yes' if start.site_watcher else 'no'}",
            ]
        )
        rows.append(
            [
                "`site.main()` as a whole in the same children (hook on), and the other .pth files",
                f"{fmt(start.site_main_ms.median, 2)} ms; {others or 'no other .pth files'}",
            ]
        )
    if start.hook_warm_ns is not None:
        rows.append(
            [
                f"`{start.hook_imports[0] if start.hook_imports else 'the hook'}.install()` called again "
                "(per call)",
                f"{fmt(start.hook_warm_ns, 0)} ns",
            ]
        )
    rows.append(
        [
            "modules the hook imports in a process without g4f",
            ", ".join(f"`{m}`" for m in start.hook_imports) or "none",
        ]
    )
    rows.append(
        ["what it adds to `sys.meta_path`", ", ".join(f"`{m}`" for m in start.hook_installed) or "nothing"]
    )
    if start.hook_importtime_us is not None:
        rows.append(
            [
                "`-X importtime` of those modules during a normal `python -c pass` (hook on)",
                f"{fmt(start.hook_importtime_us.median, 0)} µs; setuptools' `_distutils_hack` .pth "
                f"hook, for scale: {fmt(start.distutils_hack_us.median, 0)} µs",
            ]
        )
    rows.append(["does the hook import g4f?", "yes" if start.hook_imports_g4f else "no"])
    return rows
