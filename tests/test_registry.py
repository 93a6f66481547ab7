"""Registration through entry points and the start-up hook.

Each test runs its code in a fresh interpreter (see g4f_subprocess.py): the
hook runs at interpreter start and g4f's registry is process state.  The
package must be installed (``pip install -e .`` or ``pip install .``), since
the hook is a .pth file in site-packages.
"""

from __future__ import annotations

import textwrap

import pytest
from g4f_subprocess import FAKE_PROVIDER, PROVIDER, make_distribution, one_provider_plugin

PLUGIN_MODULE = "g4f_flux_plugin.providers"
SHADOW_IMPORTED = "a shadowing plugin must not be imported"


# --- the start-up hook ------------------------------------------------------


def test_hook_waits_at_startup_without_importing_anything(proc):
    state = proc.json("""
        import json, sys
        print(json.dumps({
            "watchers": [getattr(f, "name", None) for f in sys.meta_path if type(f).__name__ == "_ImportWatcher"].count("g4f"),
            "imported": sorted(m for m in sys.modules if m.startswith(("g4f", "logging"))),
        }))
    """)
    assert state == {"watchers": 1, "imported": []}


def test_g4f_import_registers_the_provider_without_user_code(proc):
    state = proc.json(f"""
        import json, sys
        from g4f.Provider import {PROVIDER} as provider
        import g4f
        print(json.dumps({{
            "module": provider.__module__,
            "watchers": [getattr(f, "name", None) for f in sys.meta_path if type(f).__name__ == "_ImportWatcher"].count("g4f"),
            # the watching loader is gone once g4f's __init__ has run
            "loader": type(g4f.__loader__).__name__,
            "spec_loader": g4f.__spec__.loader is g4f.__loader__,
        }}))
    """)
    assert state == {
        "module": PLUGIN_MODULE,
        "watchers": 0,
        "loader": "SourceFileLoader",
        "spec_loader": True,
    }


def test_provider_utils_convert_resolves_the_name(proc):
    state = proc.json(f"""
        import json
        from g4f.Provider import ProviderUtils
        provider = ProviderUtils.convert["{PROVIDER}"]
        print(json.dumps({{
            "module": provider.__module__,
            "contains": "{PROVIDER}" in ProviderUtils.convert,
            "keys": "{PROVIDER}" in ProviderUtils.convert.keys(),
            "lowercase": ProviderUtils.convert["{PROVIDER.lower()}"] is provider,
        }}))
    """)
    assert state == {"module": PLUGIN_MODULE, "contains": True, "keys": True, "lowercase": True}


def test_provider_is_in_providers_list(proc):
    state = proc.json(f"""
        import json
        import g4f.Provider
        names = [p.__name__ for p in g4f.Provider.__providers__]
        in_all = "{PROVIDER}" in dir(g4f.Provider)
        print(json.dumps({{"listed": names.count("{PROVIDER}"), "in_all": in_all}}))
    """)
    assert state == {"listed": 1, "in_all": True}


def test_client_resolves_the_provider_string(proc):
    # What Images.generate(provider="...") and the API's provider field go through.
    state = proc.json(f"""
        import asyncio, json
        from g4f.client import Client
        from g4f.client.service import convert_to_provider
        handler = asyncio.run(Client().images.get_provider_handler(None, "{PROVIDER}", None))
        print(json.dumps([convert_to_provider("{PROVIDER}").__module__, handler.__module__]))
    """)
    assert state == [PLUGIN_MODULE, PLUGIN_MODULE]


def test_plugin_imported_before_g4f_registers_on_first_lookup(proc):
    # The plugin module imports g4f, so the hook runs while that module is
    # half-imported: the entry point is deferred, then resolved on lookup.
    state = proc.json(f"""
        import json
        from g4f_flux_plugin import {PROVIDER} as mine
        from g4f_flux_plugin._registry import default_registry
        from g4f.Provider import ProviderLoader
        deferred = default_registry.pending()
        wrapped = ProviderLoader.__dict__["_load"].__func__.__module__
        from g4f.Provider import {PROVIDER} as registered
        print(json.dumps({{
            "deferred": deferred,
            "wrapped": wrapped,
            "same": mine is registered,
            "pending": default_registry.pending(),
            "registered": list(default_registry.registered()),
            "load": ProviderLoader.__dict__["_load"].__func__.__module__,
        }}))
    """)
    assert state == {
        "deferred": [PROVIDER],
        "wrapped": "g4f_flux_plugin._registry",
        "same": True,
        "pending": [],
        "registered": [PROVIDER],
        "load": "g4f.Provider",
    }


@pytest.mark.parametrize("first", ["g4f_flux_plugin._errors", "g4f_flux_plugin._transports"])
def test_a_plugin_submodule_imported_before_g4f_still_registers(proc, first):
    # The hook fires while that submodule is half-imported: importing the
    # entry point then would be circular, so it must be deferred, not skipped.
    state = proc.json(f"""
        import json
        import {first}
        from g4f.Provider import ProviderUtils
        print(json.dumps({{"registered": "{PROVIDER}" in ProviderUtils.convert}}))
    """)
    assert state == {"registered": True}


# Two modules with one loader object: the twin's import finishes first, in
# the middle of the watched module's.  The watcher must call back only once
# the watched module itself has run to the end.
_SHARED_LOADERS = {
    "zipimport": """
        import zipfile
        archive = os.path.join(os.getcwd(), "twins.zip")
        with zipfile.ZipFile(archive, "w") as zf:
            for name, source in SOURCES.items():
                zf.writestr(name + ".py", source)
        sys.path.insert(0, archive)
    """,
    "one-loader-object": """
        import importlib.util

        class SharedLoader:
            def create_module(self, spec):
                return None

            def exec_module(self, module):
                exec(SOURCES[module.__name__], module.__dict__)

        class Finder:
            loader = SharedLoader()

            def find_spec(self, name, path=None, target=None):
                if name in SOURCES:
                    return importlib.util.spec_from_loader(name, self.loader)

        sys.meta_path.append(Finder())
    """,
}


@pytest.mark.parametrize("setup", list(_SHARED_LOADERS), ids=list(_SHARED_LOADERS))
def test_watcher_calls_back_after_the_watched_module_not_a_twin_sharing_its_loader(proc, setup):
    code = [
        textwrap.dedent(part)
        for part in (
            """
        import json, os, sys
        SOURCES = {"twin_a": "import twin_b\\nDONE = True\\n", "twin_b": "DONE = True\\n"}
    """,
            _SHARED_LOADERS[setup],
            """
        from g4f_flux_plugin._hook import watch_import
        calls = []
        watch_import("twin_a", lambda: calls.append(getattr(sys.modules["twin_a"], "DONE", False)))
        import twin_a, twin_b
        print(json.dumps({
            "calls": calls,
            "shared": twin_a.__loader__ is twin_b.__loader__,
            "spec_loader": twin_a.__spec__.loader is twin_a.__loader__,
            "watching": [type(f).__name__ for f in sys.meta_path].count("_ImportWatcher"),
        }))
    """,
        )
    ]
    state = proc.json("".join(code), env={"G4F_FLUX_NO_AUTOLOAD": "1"})
    assert state == {"calls": [True], "shared": True, "spec_loader": True, "watching": 0}


def test_install_after_g4f_was_imported_registers_at_once(proc):
    state = proc.json(
        f"""
        import json, os
        import g4f.Provider
        before = "{PROVIDER}" in g4f.Provider.ProviderLoader.names
        del os.environ["G4F_FLUX_NO_AUTOLOAD"]
        import _g4f_flux_plugin_autoload
        installed = _g4f_flux_plugin_autoload.install()
        from g4f.Provider import {PROVIDER}
        print(json.dumps([before, installed]))
    """,
        env={"G4F_FLUX_NO_AUTOLOAD": "1"},
    )
    assert state == [False, True]


# --- switching it off -------------------------------------------------------


def test_no_autoload_switch_turns_the_hook_off(proc):
    state = proc.json(
        f"""
        import json, sys
        import g4f.Provider
        try:
            from g4f.Provider import {PROVIDER}
            found = True
        except ImportError:
            found = False
        print(json.dumps({{
            "found": found,
            "hook_module_imported": "_g4f_flux_plugin_autoload" in sys.modules,
            "listed": "{PROVIDER}" in g4f.Provider.ProviderLoader.names,
        }}))
    """,
        env={"G4F_FLUX_NO_AUTOLOAD": "1"},
    )
    assert state == {"found": False, "hook_module_imported": False, "listed": False}


@pytest.mark.parametrize("value", ["0", ""])
def test_no_autoload_zero_or_empty_leaves_the_hook_on(proc, value):
    state = proc.json(
        f"""
        import json, sys
        watching = [f.name for f in sys.meta_path if type(f).__name__ == "_ImportWatcher"]
        import g4f.Provider
        print(json.dumps({{
            "watching": watching,
            "listed": "{PROVIDER}" in g4f.Provider.ProviderLoader.names,
        }}))
    """,
        env={"G4F_FLUX_NO_AUTOLOAD": value},
    )
    assert state == {"watching": ["g4f"], "listed": True}


def test_blocked_entry_point_is_not_registered(proc):
    result = proc.run(
        f"""
        import g4f.Provider
        assert "{PROVIDER}" not in g4f.Provider.ProviderLoader.names
    """,
        env={"G4F_FLUX_BLOCKED_PROVIDERS": f"Other, {PROVIDER}"},
    )
    assert result.stderr == ""


# --- the loader ---------------------------------------------------------------


def test_loader_returns_what_it_registered_once(proc):
    state = proc.json(
        """
        import json
        from g4f_flux_plugin._registry import load_entry_point_providers
        first = [p.__name__ for p in load_entry_point_providers()]
        second = [p.__name__ for p in load_entry_point_providers()]
        print(json.dumps([first, second]))
    """,
        env={"G4F_FLUX_NO_AUTOLOAD": "1"},
    )
    assert state == [[PROVIDER], []]


@pytest.mark.parametrize(
    "source, error",
    [
        ("raise ImportError('the SDK is missing')", "ImportError: the SDK is missing"),
        ("raise RuntimeError('crashed at import')", "RuntimeError: crashed at import"),
        ("x = 1", "AttributeError"),
    ],
    ids=["import-error", "runtime-error", "missing-attribute"],
)
def test_broken_entry_point_is_reported_and_skipped(proc, tmp_path, source, error):
    plugins = one_provider_plugin(tmp_path / "plugins", "brokenplug", "BrokenProvider", source)
    stderr = _skipped(proc, plugins, "BrokenProvider")
    assert "'BrokenProvider'" in stderr
    assert "brokenplug 0.1" in stderr
    assert error in stderr


def _skipped(proc, plugins, name: str) -> str:
    """What g4f's start said on stderr; ``name`` (a plugin on ``plugins``) is not registered."""
    result = proc.run(
        f"""
        from g4f.Provider import ProviderUtils, {PROVIDER}
        assert ProviderUtils.convert.get({name!r}) is None
    """,
        pythonpath=[plugins],
    )
    return result.stderr


def test_entry_point_that_is_not_a_provider_is_reported_and_skipped(proc, tmp_path):
    plugins = one_provider_plugin(
        tmp_path / "plugins", "notprov", "NotAProvider", "class NotAProvider:\n    pass\n"
    )
    stderr = _skipped(proc, plugins, "NotAProvider")
    assert "'NotAProvider'" in stderr
    assert "is not a g4f provider class" in stderr


def test_duplicate_name_keeps_the_first_and_reports_the_second(proc, tmp_path):
    first = one_provider_plugin(tmp_path / "a", "dupa", "DupProvider")
    second = one_provider_plugin(
        tmp_path / "b", "dupb", "DupProvider", "raise AssertionError('imported a duplicate')"
    )
    result = proc.run(
        """
        from g4f.Provider import DupProvider
        print(DupProvider.__module__)
    """,
        pythonpath=[first, second],
    )
    assert result.stdout.strip() == "dupa"
    assert "'DupProvider'" in result.stderr and "dupb 0.1" in result.stderr
    assert "already taken" in result.stderr and "imported a duplicate" not in result.stderr


@pytest.mark.parametrize(
    "name", ["PollinationsImage", "pollinations_image", "ProviderUtils", "PollinationsAI"]
)
def test_entry_point_named_like_a_g4f_builtin_does_not_shadow_it(proc, tmp_path, name):
    plugins = make_distribution(
        tmp_path / "plugins",
        "shadowplug",
        {name: "shadowplug:Impostor"},
        {"shadowplug.py": f"raise AssertionError({SHADOW_IMPORTED!r})"},
    )
    result = proc.run(
        f"""
        import g4f.Provider
        from g4f.Provider import ProviderUtils, PollinationsImage, {PROVIDER}
        assert PollinationsImage.__module__ == "g4f.Provider.PollinationsImage", PollinationsImage
        assert getattr(g4f.Provider, "{name}").__module__.startswith("g4f."), "{name}"
        assert g4f.Provider.ProviderLoader.names.count("{name}") <= 1
    """,
        pythonpath=[plugins],
    )
    assert "would shadow g4f's built-in provider" in result.stderr
    assert SHADOW_IMPORTED not in result.stderr


def test_plugin_that_imports_g4f_client_at_its_top_loads(proc, tmp_path):
    # The hook waits for the whole g4f package: while g4f.Provider is being
    # imported, g4f.models and g4f.client cannot be imported yet.
    source = "import g4f.client\nfrom g4f.models import ModelUtils\n"
    source += FAKE_PROVIDER.format(name="ClientUser")
    plugins = make_distribution(
        tmp_path / "plugins", "clientuser", {"ClientUser": "clientuser:ClientUser"}, {"clientuser.py": source}
    )
    result = proc.run(
        """
        from g4f.Provider import ClientUser
        print(ClientUser.__module__)
    """,
        pythonpath=[plugins],
    )
    assert (result.stdout, result.stderr) == ("clientuser\n", "")


def test_register_checks_its_argument(proc):
    state = proc.json(
        """
        import json
        from g4f_flux_plugin._registry import register
        from g4f.providers.base_provider import AsyncGeneratorProvider

        class MyProvider(AsyncGeneratorProvider):
            working = True

        outcomes = {}
        for label, call in [
            ("not-a-class", lambda: register(object())),
            ("not-a-provider", lambda: register(dict)),
            ("builtin-name", lambda: register(MyProvider, "PollinationsImage")),
            ("first", lambda: register(MyProvider)),
            ("again", lambda: register(MyProvider)),
        ]:
            try:
                outcomes[label] = call()
            except (TypeError, ValueError) as e:
                outcomes[label] = type(e).__name__
        from g4f.Provider import MyProvider as found, ProviderUtils
        outcomes["found"] = found is ProviderUtils.convert["MyProvider"] is MyProvider
        print(json.dumps(outcomes))
    """,
        env={"G4F_FLUX_NO_AUTOLOAD": "1"},
    )
    assert state == {
        "not-a-class": "TypeError",
        "not-a-provider": "TypeError",
        "builtin-name": "ValueError",
        "first": True,
        "again": False,
        "found": True,
    }


# --- start-up must never break -----------------------------------------------


def test_startup_survives_a_g4f_that_cannot_be_imported(proc, tmp_path):
    broken = tmp_path / "broken"
    (broken / "g4f").mkdir(parents=True)
    (broken / "g4f" / "__init__.py").write_text("raise RuntimeError('this g4f is broken')\n")
    started = proc.run("print('started')", pythonpath=[broken])
    assert (started.stdout, started.stderr) == ("started\n", "")
    imported = proc.run("import g4f", pythonpath=[broken], check=False)
    assert imported.returncode == 1
    assert "RuntimeError: this g4f is broken" in imported.stderr  # g4f's own error, unchanged
    assert "Error processing line" not in imported.stderr


def test_startup_survives_a_g4f_whose_registry_changed(proc, tmp_path):
    changed = tmp_path / "changed"
    (changed / "g4f" / "Provider").mkdir(parents=True)
    (changed / "g4f" / "__init__.py").write_text("from . import Provider\n")
    (changed / "g4f" / "Provider" / "__init__.py").write_text("class SomethingElse:\n    pass\n")
    quiet = proc.run("import g4f; print('imported')", pythonpath=[changed])
    assert (quiet.stdout, quiet.stderr) == ("imported\n", "")
    debug = proc.run(
        """
        import logging
        logging.basicConfig(level=logging.DEBUG)
        import g4f
    """,
        pythonpath=[changed],
    )
    assert "automatic registration of g4f provider plugins failed" in debug.stderr
