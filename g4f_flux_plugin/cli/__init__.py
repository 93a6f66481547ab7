"""The ``g4f-flux`` command: generate images with FLUX.1-schnell from a shell.

``g4f-flux "A beautiful landscape" -o landscape.webp`` runs one job on the
Space, downloads the image, embeds the prompt and settings in it and prints
the path written. ``--prompt-file`` runs a batch that can be interrupted and
started again. See ``g4f-flux --help``.

The package follows the command's steps:

- :mod:`.arguments`: the parser, its argument types and ``--help``'s text;
- :mod:`.planning`: prompts, seeds and file names, decided before any request
  (and what a resumed batch skips);
- :mod:`.reporter`: results on stdout, progress and errors on stderr;
- :mod:`.writing`: conversion, metadata and whole-or-nothing files;
- :mod:`.running`: one client per image, concurrency, exit statuses, :func:`main`.

Every module imports only the standard library at the top: the HTTP client,
aiohttp and Pillow are imported when an image is actually made, so ``--help``
and usage errors answer at once, and a generation loads nothing of g4f.
"""

from __future__ import annotations

from .arguments import UsageError, build_parser
from .planning import Job, plan_jobs, read_prompt_file, slugify
from .reporter import Reporter, describe
from .running import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_QUOTA,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    Settings,
    explain,
    main,
    make_image,
    run,
)
from .writing import write_atomic

# main and the planning names first: what callers use. The rest are the
# command's other parts, importable from here as when it was one module.
__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_QUOTA",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Job",
    "Reporter",
    "Settings",
    "UsageError",
    "build_parser",
    "describe",
    "explain",
    "main",
    "make_image",
    "plan_jobs",
    "read_prompt_file",
    "run",
    "slugify",
    "write_atomic",
]
