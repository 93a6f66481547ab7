"""The Hugging Face token saved where Hugging Face's own tools keep it.

The order is huggingface_hub's ``get_token()`` (checked against its 2.x
source, ``utils/_auth.py`` and ``constants.py``), minus what needs a network
or a notebook (an OIDC exchange, Colab's secrets):

1. ``$HF_TOKEN`` (then the legacy ``$HUGGING_FACE_HUB_TOKEN``);
2. the file at ``$HF_TOKEN_PATH``, else ``$HF_HOME/token``, else
   ``$XDG_CACHE_HOME/huggingface/token``, else ``~/.cache/huggingface/token``
   (what ``hf auth login`` writes).

A token explicitly given (``api_key=``, ``--token``) comes before all of
these; that choice is the caller's. Values are cleaned as huggingface_hub
cleans them (line breaks dropped, blanks stripped; empty means none), so an
empty ``$HF_TOKEN`` falls through to the file, as it does there. The token is
read when a client is made, never cached here, and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["saved_token", "token_path"]

#: The variables huggingface_hub reads, in its order.
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def _clean(token: str | None) -> str | None:
    if token is None:
        return None
    return token.replace("\r", "").replace("\n", "").strip() or None


def _expand(path: str) -> str:
    # huggingface_hub applies expandvars(expanduser(...)) to both paths.
    return os.path.expandvars(os.path.expanduser(path))


def token_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``hf auth login`` keeps the token, as huggingface_hub computes it."""
    env = os.environ if environ is None else environ
    explicit = env.get("HF_TOKEN_PATH")
    if explicit is not None:
        return Path(_expand(explicit))
    home = env.get("HF_HOME")
    if home is None:
        cache = env.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
        home = os.path.join(cache, "huggingface")
    return Path(_expand(home)) / "token"


def saved_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The token of the environment or of the saved file, else ``None``.

    ``environ`` defaults to ``os.environ``. An unreadable file (missing, a
    directory, no permission) means no token, as a missing one does.
    """
    env = os.environ if environ is None else environ
    for name in TOKEN_VARIABLES:
        token = _clean(env.get(name))
        if token:
            return token
    try:
        return _clean(token_path(env).read_text())
    except (OSError, UnicodeDecodeError):
        return None
