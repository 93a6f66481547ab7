"""tests/run.py's own logic: finding the other Pythons, and the gates that stop a run.

No network and no venv is made: a fake ``pyenv`` on PATH, fake interpreters
(empty files; only their paths matter), and gates that are modules run by
this interpreter's ``-m``.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
import run


def _executable(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def bare_path(tmp_path, monkeypatch) -> Path:
    """PATH is one empty directory of the test's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_pyenvs_newest_interpreter_of_the_version_is_found(tmp_path, bare_path):
    root = tmp_path / "pyenv-root"
    for version in ("3.12.1", "3.12.10", "3.13.0", "3.12.3"):
        _executable(root / "versions" / version / "bin" / "python")
    # `pyenv versions --bare` lists them (and a non-CPython); `pyenv root` says where.
    _executable(
        bare_path / "pyenv",
        "#!/bin/sh\n"
        f'if [ "$1" = root ]; then echo {root}; else printf "3.12.1\\n3.12.10\\npypy3.12-7.3\\n3.13.0\\n3.12.3\\n"; fi\n',
    )
    assert run.find_python("3.12") == str(root / "versions" / "3.12.10" / "bin" / "python")
    assert run.find_python("3.13") == str(root / "versions" / "3.13.0" / "bin" / "python")
    assert run.find_python("3.14") is None


def test_without_pyenv_the_interpreter_on_path_is_used(bare_path):
    python = _executable(bare_path / "python3.13")
    assert run.find_python("3.13") == str(python)
    assert run.find_python("3.12") is None


def test_a_failing_gate_stops_with_its_status_and_says_which(monkeypatch, capfd):
    monkeypatch.setattr(run, "_python", lambda env_dir: Path(sys.executable))
    monkeypatch.setattr(
        run, "GATES", (("json.tool", "--help"), ("a_module_that_is_not_there",), ("json.tool", "--help"))
    )
    assert run.gates() != 0
    out = capfd.readouterr().out
    assert "gate failed: a_module_that_is_not_there" in out
    assert out.count("+ ") == 2  # the third gate never ran


def test_gates_that_pass_let_the_run_go_on(monkeypatch, capfd):
    monkeypatch.setattr(run, "_python", lambda env_dir: Path(sys.executable))
    monkeypatch.setattr(run, "GATES", (("json.tool", "--help"),))
    assert run.gates() == 0
    assert "gate failed" not in capfd.readouterr().out
