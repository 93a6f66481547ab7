"""Planning: which files a run makes, decided before any network access.

Pure apart from reading the prompt file and listing the output directory (to
resume a batch): every job's prompt, seed and file name is known before the
first request, which is what makes a batch resumable.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from .arguments import MAX_SEED, UsageError

if TYPE_CHECKING:
    import argparse

__all__ = ["FORMAT_SUFFIX", "IMAGE_SUFFIXES", "Job", "plan_jobs", "read_prompt_file", "slugify"]

IMAGE_SUFFIXES = (".webp", ".png", ".jpg", ".jpeg")
#: The extension written for each format.
FORMAT_SUFFIX = {"webp": ".webp", "png": ".png", "jpeg": ".jpg"}
SUFFIX_FORMAT = {".webp": "webp", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


class Job:
    """One image to make: its prompt, the seed sent, and the file planned.

    ``suffix_fixed`` is false when the extension is only a guess (the Space's
    usual WebP) and follows whatever format the Space really sends.
    """

    __slots__ = ("label", "path", "prompt", "seed", "suffix_fixed")

    def __init__(self, prompt: str, seed: int, path: str, suffix_fixed: bool, label: str) -> None:
        self.prompt = prompt
        self.seed = seed
        self.path = path
        self.suffix_fixed = suffix_fixed
        self.label = label

    def __repr__(self) -> str:
        return f"Job({self.prompt!r}, seed={self.seed}, path={self.path!r})"


def slugify(text: str, limit: int = 60) -> str:
    """A file-name-safe, lower-case ASCII form of ``text`` (``"image"`` if nothing is left)."""
    import re
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] if "-" in slug[:limit] else slug[:limit]
    return slug or "image"


def _prompt_hash(prompt: str) -> str:
    import hashlib

    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:6]


def read_prompt_file(path: str) -> list[str]:
    """Prompts of a batch file: stripped, blank lines and ``#`` comments left out,
    duplicates kept once (in their first position)."""
    if path == "-":
        text = sys.stdin.read()
    else:
        with open(path, encoding="utf-8-sig") as handle:  # -sig: drop a BOM from Windows editors
            text = handle.read()
    lines = (line.strip() for line in text.splitlines())
    # dict.fromkeys: the first occurrence of each prompt, in order.
    return list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


def _random_seeds(count: int, taken: set[int]) -> list[int]:
    import random

    chooser = random.SystemRandom()
    seeds: list[int] = []
    while len(seeds) < count:
        seed = chooser.randint(0, MAX_SEED)
        if seed not in taken:
            taken.add(seed)
            seeds.append(seed)
    return seeds


def _existing_seeds(directory: str, base: str, suffixes: tuple[str, ...]) -> set[int]:
    """Seeds of the finished images ``<base>-seed<N><suffix>`` in ``directory``."""
    import re

    pattern = re.compile(re.escape(base) + r"-seed(\d+)(" + "|".join(map(re.escape, suffixes)) + r")\Z")
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return set()
    return {int(match.group(1)) for name in names if (match := pattern.match(name))}


def plan_jobs(args: argparse.Namespace) -> tuple[list[Job], int, str | None]:
    """Turn the arguments into jobs; return ``(jobs, skipped, format)``.

    ``format`` is the one asked for (``-o``'s extension or ``--format``), or
    ``None`` to keep the Space's. Raises :class:`UsageError`.
    """
    batch = args.prompt_file is not None
    if batch and args.prompt is not None:
        raise UsageError("give a prompt or --prompt-file, not both")
    if not batch and (args.prompt is None or not args.prompt.strip()):
        raise UsageError("a prompt is needed (or --prompt-file FILE)")
    if batch and args.output:
        raise UsageError("-o names one file: use --out-dir for a batch")

    fmt = args.format
    output = args.output
    if output:
        suffix = os.path.splitext(output)[1].lower()
        if suffix:
            if suffix not in SUFFIX_FORMAT:
                raise UsageError(
                    f"-o {output}: unknown image extension {suffix!r} (use {', '.join(IMAGE_SUFFIXES)})"
                )
            if fmt and SUFFIX_FORMAT[suffix] != fmt:
                raise UsageError(f"-o {output} and --format {fmt} disagree")
            fmt = SUFFIX_FORMAT[suffix]
        if args.out_dir and not os.path.isabs(output):
            output = os.path.join(args.out_dir, output)
    out_dir = args.out_dir or "."
    # A guessed suffix follows the Space's real format; an asked one is kept.
    suffix = FORMAT_SUFFIX[fmt] if fmt else ".webp"
    matching = (suffix, ".jpeg") if fmt == "jpeg" else (suffix,) if fmt else IMAGE_SUFFIXES

    if batch:
        try:
            prompts = read_prompt_file(args.prompt_file)
        except OSError as error:
            raise UsageError(
                f"cannot read --prompt-file {args.prompt_file}: {error.strerror or error}"
            ) from None
        except UnicodeDecodeError:
            raise UsageError(f"--prompt-file {args.prompt_file} is not UTF-8 text") from None
        if not prompts:
            raise UsageError(f"no prompts in {args.prompt_file} (blank lines and # comments are skipped)")
    else:
        prompts = [args.prompt.strip()]

    fixed = list(dict.fromkeys(args.seed)) if args.seed else None
    wanted = len(fixed) if fixed else (args.seeds or 1)
    total_prompts = len(prompts)
    jobs: list[Job] = []
    skipped = 0
    for prompt in prompts:
        if batch:
            base = f"{slugify(prompt)}-{_prompt_hash(prompt)}"
            done = _existing_seeds(out_dir, base, matching)
            if fixed:
                seeds = [seed for seed in fixed if seed not in done]
            else:
                seeds = _random_seeds(max(0, wanted - len(done)), set(done))
            skipped += wanted - len(seeds) if fixed else min(wanted, len(done))
        else:
            base = slugify(prompt)
            seeds = fixed or _random_seeds(wanted, set())
        short = prompt if len(prompt) <= 40 else prompt[:39] + "…"
        for seed in seeds:
            if output and wanted == 1:
                path, fixed_suffix = output, bool(os.path.splitext(output)[1])
                if not fixed_suffix:
                    path += suffix
            elif output:
                stem, ext = os.path.splitext(output)
                path, fixed_suffix = f"{stem}-seed{seed}{ext or suffix}", bool(ext)
            else:
                name = f"{base}-seed{seed}{suffix}"
                path = os.path.join(args.out_dir, name) if args.out_dir else name
                fixed_suffix = fmt is not None
            label = f"{short!r} seed {seed}" if total_prompts > 1 else f"seed {seed}"
            jobs.append(Job(prompt, seed, path, fixed_suffix, label))
    return jobs, skipped, fmt
