"""The saved token is found where huggingface_hub finds it.

Each case builds a temporary home with token files and an environment, then
asks both :func:`saved_token` and ``huggingface_hub.get_token()`` (in a fresh
interpreter: huggingface_hub reads its paths from the environment at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from g4f_flux_plugin import FluxClient, MockTransport
from g4f_flux_plugin._token import saved_token, token_path

pytest.importorskip("huggingface_hub")

HUB_PROBE = "import huggingface_hub, json; print(json.dumps(huggingface_hub.get_token()))"
#: Variables that would change either answer: each case sets its own.
CLEARED = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "XDG_CACHE_HOME",
    "HF_OIDC_RESOURCE",
    "HUGGINGFACE_CO_STAGING",
)


def hub_token(env: dict[str, str]) -> str | None:
    answer = subprocess.run(
        [sys.executable, "-c", HUB_PROBE], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def environment(home: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env["HOME"] = str(home)
    env.update(values)
    return env


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# Each case: the files to write (relative to the temporary home), the
# environment ({home} stands for it), and the token expected.
CASES = {
    "nothing": ({}, {}, None),
    "the default file": ({".cache/huggingface/token": "hf_default\n"}, {}, "hf_default"),
    "HF_TOKEN before the file": ({".cache/huggingface/token": "hf_file"}, {"HF_TOKEN": "hf_env"}, "hf_env"),
    "an empty HF_TOKEN falls through": ({".cache/huggingface/token": "hf_file"}, {"HF_TOKEN": ""}, "hf_file"),
    "the legacy variable": ({}, {"HUGGING_FACE_HUB_TOKEN": " hf_legacy "}, "hf_legacy"),
    "HF_TOKEN before the legacy one": ({}, {"HF_TOKEN": "hf_a", "HUGGING_FACE_HUB_TOKEN": "hf_b"}, "hf_a"),
    "HF_TOKEN_PATH before HF_HOME": (
        {"a/tok": "hf_path", "hub/token": "hf_home"},
        {"HF_TOKEN_PATH": "{home}/a/tok", "HF_HOME": "{home}/hub"},
        "hf_path",
    ),
    "HF_TOKEN_PATH to a missing file": (
        {"hub/token": "hf_home"},
        {"HF_TOKEN_PATH": "{home}/missing", "HF_HOME": "{home}/hub"},
        None,
    ),
    "HF_HOME": ({"hub/token": "hf_home\r\n"}, {"HF_HOME": "{home}/hub"}, "hf_home"),
    "HF_HOME with a tilde": ({"hub/token": "hf_tilde"}, {"HF_HOME": "~/hub"}, "hf_tilde"),
    "XDG_CACHE_HOME": ({"xdg/huggingface/token": "hf_xdg"}, {"XDG_CACHE_HOME": "{home}/xdg"}, "hf_xdg"),
    "an empty file": ({".cache/huggingface/token": "\n"}, {}, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_saved_token_is_the_one_huggingface_hub_finds(tmp_path, monkeypatch, case):
    monkeypatch.setenv("HOME", str(tmp_path))  # Path.home() and "~" here too
    files, variables, expected = CASES[case]
    for relative, text in files.items():
        write(tmp_path / relative, text)
    env = environment(tmp_path, **{k: v.replace("{home}", str(tmp_path)) for k, v in variables.items()})
    hub = hub_token(env)
    assert hub == expected  # the case describes huggingface_hub truly
    assert saved_token(env) == hub


def test_token_path_follows_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert token_path({}) == tmp_path / ".cache" / "huggingface" / "token"
    assert token_path({"HF_HOME": "/x"}) == Path("/x/token")
    assert token_path({"HF_TOKEN_PATH": "/y/t", "HF_HOME": "/x"}) == Path("/y/t")


def test_an_unreadable_token_file_is_no_token(tmp_path):
    (tmp_path / "token").mkdir()  # a directory where the file should be
    assert saved_token({"HF_HOME": str(tmp_path)}) is None


async def test_the_client_sends_the_saved_token_when_none_is_given(tmp_path, monkeypatch):
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    write(tmp_path / "token", "hf_SavedByLogin0123\n")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    sent: list[str | None] = []

    def space(request):
        from g4f_flux_plugin import MockResponse

        sent.append(request.headers.get("x-hf-authorization"))
        return MockResponse(503, content=b"down")

    flux = FluxClient("https://space.example", transport=MockTransport(space))
    assert flux.has_token and "hf_Saved" not in repr(flux)
    with pytest.raises(Exception):  # noqa: B017, PT011 - only the header matters here
        await flux.image("a fox", timeout=0.5)
    assert sent and set(sent) == {"Bearer hf_SavedByLogin0123"}
    # An explicit token wins over the saved one.
    flux = FluxClient("https://space.example", token="hf_Explicit", transport=MockTransport(space))
    sent.clear()
    with pytest.raises(Exception):  # noqa: B017, PT011
        await flux.image("a fox", timeout=0.5)
    assert set(sent) == {"Bearer hf_Explicit"}
