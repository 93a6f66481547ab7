"""The ``g4f-flux`` command: generate images with FLUX.1-schnell from a shell.

``g4f-flux "A beautiful landscape" -o landscape.webp`` runs one job on the
Space, downloads the image, embeds the prompt and settings in it and prints
the path written. ``--prompt-file`` runs a batch that can be interrupted and
started again. See ``g4f-flux --help``.

Only the standard library is imported at the top: g4f, aiohttp and Pillow
are imported when an image is actually made, so ``--help`` and usage errors
answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__

__all__ = ["main", "build_parser", "plan_jobs", "slugify", "Job"]

PROG = "g4f-flux"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_QUOTA = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

# The Space's seed slider (numpy's int32 maximum); _params.MAX_SEED, restated
# here so parsing arguments does not import anything.
MAX_SEED = 2147483647
DEFAULT_TIMEOUT = 300.0
IMAGE_SUFFIXES = (".webp", ".png", ".jpg", ".jpeg")
FORMAT_SUFFIX = {"webp": ".webp", "png": ".png", "jpeg": ".jpg"}
SUFFIX_FORMAT = {".webp": "webp", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}

DESCRIPTION = "Generate images with FLUX.1-schnell on its Hugging Face Space."

EPILOG = """\
file names:
  -o FILE           one image: FILE; several seeds: FILE's name + "-seed<N>"
                    (landscape.webp -> landscape-seed42.webp)
  otherwise         <slug of the prompt>-seed<N>.webp in --out-dir; in a batch
                    <slug>-<6 hex of the prompt's SHA-256>-seed<N>.webp, so two
                    prompts never share a name. Seeds are chosen here, before the
                    job, so every name is known in advance.
  The Space's WebP is kept byte for byte unless -o or --format asks for
  another format (PNG or JPEG: converted with Pillow).

resuming a batch (--prompt-file):
  Files are written whole or not at all (a temporary file, then a rename), so
  a file that exists is a finished image. With --seed, an image whose file
  exists is skipped. With random seeds (--seeds N, or none: N = 1), a prompt
  with N files named <slug>-<hash>-seed<digits>.<ext> is done, and only the
  missing number is generated. Delete a file to make it again. A prompt that
  appears twice in the file counts once. A batch stops at its first failure
  (the other running jobs are cancelled): run the same command again to resume.

metadata (unless --no-metadata):
  prompt, seed, width, height, steps, model and Space, as EXIF in WebP and
  JPEG (ImageDescription = the prompt; UserComment = the whole record as
  JSON) and as iTXt chunks in PNG (Description, and the JSON in "g4f-flux").

environment:
  HF_TOKEN              Hugging Face token (ZeroGPU bills the account: a
                        larger quota than anonymous calls); sent only to the
                        Space's own origin
  G4F_FLUX_SCHNELL_URL  the Space's root URL when --api-base is not given
  G4F_FLUX_TRANSPORT    aiohttp (default) or curl_cffi
  G4F_FLUX_DEBUG        set: print the traceback of a failure too

exit status:
  0 success, 1 generation error, 2 usage error, 3 quota exceeded or rate
  limited (the message says how long to wait), 4 timeout, 130 interrupted
  (Ctrl-C cancels the running jobs on the Space)
"""


class UsageError(Exception):
    """A combination of arguments that cannot work (exit status 2)."""


# -- argument types (argparse turns their ValueError into a usage error) -----
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(text)
    return value


_positive_int.__name__ = "positive integer"  # argparse names the type in its message
_seed.__name__ = f"seed (0..{MAX_SEED})"
_positive_float.__name__ = "positive number"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also the reference for ``--help``)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", nargs="?", help="what to draw (or use --prompt-file)")
    what = parser.add_argument_group("what to make")
    what.add_argument("--prompt-file", metavar="FILE",
                      help="a batch: one prompt a line (blank lines and # comments skipped; - reads stdin)")
    what.add_argument("--width", type=_positive_int, metavar="PX",
                      help="image width (default 1024; the Space takes 256..2048, multiples of 8)")
    what.add_argument("--height", type=_positive_int, metavar="PX", help="image height (default 1024)")
    what.add_argument("--steps", type=_positive_int, metavar="N", help="inference steps (1..50, default 4)")
    seeds = what.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=_seed, action="append", metavar="N",
                       help="a seed; repeat for several images per prompt")
    seeds.add_argument("--seeds", type=_positive_int, metavar="N",
                       help="N images per prompt with random seeds (chosen here, so they appear in file names)")

    out = parser.add_argument_group("output")
    out.add_argument("-o", "--output", metavar="FILE",
                     help="file to write (one prompt only); its extension picks the format")
    out.add_argument("--out-dir", metavar="DIR", default=None,
                     help="directory for the images (default: the current one)")
    out.add_argument("--format", choices=("webp", "png", "jpeg"),
                     help="file format (default: the Space's own, WebP, unchanged)")
    out.add_argument("--no-metadata", action="store_true",
                     help="do not embed the prompt and settings in the image")
    out.add_argument("--sidecar", action="store_true",
                     help="also write <image name>.json with the settings")
    out.add_argument("--json", action="store_true",
                     help="print one JSON object a line per image (path, prompt, seed, width, height, "
                          "steps, model, space, url)")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="print results and errors only (no progress, no notes)")

    space = parser.add_argument_group("the Space")
    space.add_argument("--api-base", metavar="URL",
                       help="the Space's root URL (default: $G4F_FLUX_SCHNELL_URL, else the public Space)")
    space.add_argument("--token", metavar="TOKEN",
                       help="Hugging Face token (default: $HF_TOKEN; prefer the variable: "
                            "arguments are visible to other users of the machine)")
    space.add_argument("--transport", choices=("aiohttp", "curl_cffi"),
                       help="HTTP library (default: $G4F_FLUX_TRANSPORT, else aiohttp)")
    space.add_argument("--protocol", choices=("auto", "queue", "call"), default="auto",
                       help="Gradio protocol: queue (progress, position) or call; auto prefers queue")
    space.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"limit for one image, queue and download included (default {DEFAULT_TIMEOUT:g})")
    space.add_argument("--concurrency", type=_positive_int, default=1, metavar="N",
                       help="images generated at the same time (default 1: each one spends GPU quota)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# -- planning: which files to make, decided before any network access --------
class Job:
    """One image to make: its prompt, the seed sent, and the file planned.

    ``suffix_fixed`` is false when the extension is only a guess (the Space's
    usual WebP) and follows whatever format the Space really sends.
    """

    __slots__ = ("prompt", "seed", "path", "suffix_fixed", "label")

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
                raise UsageError(f"-o {output}: unknown image extension {suffix!r} "
                                 f"(use {', '.join(IMAGE_SUFFIXES)})")
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
            raise UsageError(f"cannot read --prompt-file {args.prompt_file}: {error.strerror or error}") from None
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


# -- the terminal ------------------------------------------------------------
class Reporter:
    """Writes results to stdout and progress, notes and errors to stderr.

    Progress is one line rewritten in place with ``\\r``, and only when stderr
    is a terminal and ``--quiet`` is off: piped output gets results only.
    """

    def __init__(self, *, quiet: bool, as_json: bool, total: int) -> None:
        self.live = not quiet and _isatty(sys.stderr)
        self.quiet = quiet
        self.as_json = as_json
        self.total = total
        self.finished = 0
        self._shown = 0  # width of the progress line on screen
        self._warned: set[str] = set()

    def progress(self, job: Job, status: str) -> None:
        """Show ``status`` for ``job`` on the progress line."""
        if not self.live:
            return
        prefix = f"[{self.finished + 1}/{self.total}] " if self.total > 1 else ""
        text = f"{prefix}{job.label}: {status}"
        import shutil

        width = shutil.get_terminal_size((80, 24)).columns - 1
        if len(text) > width:  # a wrapped line cannot be rewritten with \r
            text = text[:max(0, width - 1)] + "…"
        pad = max(0, self._shown - len(text))
        sys.stderr.write("\r" + text + " " * pad)
        sys.stderr.flush()
        self._shown = len(text)

    def clear(self) -> None:
        """Erase the progress line (before printing anything else)."""
        if self._shown:
            sys.stderr.write("\r" + " " * self._shown + "\r")
            sys.stderr.flush()
            self._shown = 0

    def result(self, record: dict) -> None:
        """Print one written image: its path and seed, or a JSON line."""
        import json

        self.finished += 1
        self.clear()
        if self.as_json:
            line = json.dumps(record, ensure_ascii=False)
        else:
            line = f"{record['path']} (seed {record['seed']})"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """Information for a person at a terminal only."""
        if self.live:
            self.clear()
            sys.stderr.write(f"{PROG}: {text}\n")

    def warn(self, text: str) -> None:
        """Something went half-wrong; the run goes on."""
        if not self.quiet:
            self.clear()
            sys.stderr.write(f"{PROG}: warning: {text}\n")

    def warn_once(self, key: str, text: str) -> None:
        """:meth:`warn`, once per ``key`` in a run (a batch repeats the same cause)."""
        if key not in self._warned:
            self._warned.add(key)
            self.warn(text)

    def error(self, text: str) -> None:
        """The one line that explains a failure."""
        self.clear()
        sys.stderr.write(f"{PROG}: error: {text}\n")
        sys.stderr.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def describe(event) -> str:
    """A short status for a :class:`~g4f_flux_plugin._events.ProgressEvent`."""
    if event.kind == "queued":
        if event.rank is not None:
            where = f"queue position {event.rank + 1}" + (f" of {event.queue_size}" if event.queue_size else "")
        else:
            where = "queued"
        # Gradio estimates 0 s for an empty queue: say nothing rather than that.
        return where + (f", about {event.eta:.0f} s" if event.eta and event.eta >= 1 else "")
    if event.kind == "log" and event.message and "waiting for a gpu" in event.message.lower():
        return "waiting for a GPU"
    if event.kind == "started":
        return "running"
    if event.kind == "step":
        return f"step {event.index} of {event.length}"
    if event.kind == "submitted":
        return "submitted"
    return event.describe()


# -- running -----------------------------------------------------------------
class Settings:
    """What every job of one run shares."""

    def __init__(self, args: argparse.Namespace, fmt: str | None) -> None:
        self.width = args.width
        self.height = args.height
        self.steps = args.steps
        self.api_base = args.api_base
        self.explicit_token = args.token
        from ._config import PUBLIC_SPACE_URL
        from ._http import choose_token

        # An explicit --token over plain http to another machine was refused
        # in main(); a $HF_TOKEN is simply not sent there.
        root = (args.api_base or os.environ.get("G4F_FLUX_SCHNELL_URL") or PUBLIC_SPACE_URL).strip()
        try:
            self.token = choose_token(root, args.token, os.environ.get("HF_TOKEN"))
        except ValueError:
            raise
        except Exception:  # not an http(s) URL: the provider refuses it in plain words
            self.token = None
        self.transport = args.transport
        self.protocol = args.protocol
        self.timeout = args.timeout
        self.concurrency = args.concurrency
        self.format = fmt
        self.metadata = not args.no_metadata
        self.sidecar = args.sidecar


def _public_url(url: str) -> str:
    """``url`` without user:password, fit to be written into files."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def make_image(job: Job, settings: Settings, reporter: Reporter) -> dict:
    """Generate, download, convert if asked, embed metadata, write; return the record."""
    import asyncio
    from contextlib import aclosing

    # Imported here, not at the top: --help and usage errors must not pay for
    # the HTTP libraries. The client alone: a generation loads nothing of g4f.
    from ._client import FluxClient
    from ._config import MODEL_NAME
    from ._errors import SpaceTimeoutError
    from ._events import GeneratedImage

    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.timeout
    # One client (and transport) per image, for the job and its download:
    # keep-alive within the job, and nothing shared between concurrent jobs.
    flux = FluxClient(settings.api_base, token=settings.explicit_token, transport=settings.transport,
                      protocol=settings.protocol, timeout=settings.timeout)
    root = flux.root
    try:
        reporter.progress(job, "connecting")
        image = None
        # Closing the generation early (Ctrl-C, another job failed) cancels
        # the job on the Space instead of leaving it to burn GPU quota.
        async with aclosing(flux.generate(job.prompt, width=settings.width, height=settings.height,
                                          steps=settings.steps, seed=job.seed,
                                          randomize_seed=False)) as generation:
            async for item in generation:
                if isinstance(item, GeneratedImage):
                    image = item
                    break
                reporter.progress(job, describe(item))
        url = image.url
        reporter.progress(job, "downloading")
        try:
            data, kind = await asyncio.wait_for(flux.download(url), max(0.001, deadline - loop.time()))
        except asyncio.TimeoutError as error:
            raise SpaceTimeoutError(f"no image from {root} within {settings.timeout:g} s") from error
    finally:
        await flux.aclose()

    request = image.request
    options = {"width": request.width, "height": request.height, "num_inference_steps": request.steps,
               "seed": image.seed}
    for name, asked in (("width", settings.width), ("height", settings.height),
                        ("num_inference_steps", settings.steps)):
        if asked is not None and options.get(name) not in (None, asked):
            reporter.warn_once(name, f"{name.replace('num_inference_', '')} {asked} is outside what "
                                     f"the Space accepts: {options[name]} was used")
    record = {
        "path": job.path, "prompt": job.prompt, "seed": options.get("seed", job.seed),
        "width": None, "height": None, "steps": options.get("num_inference_steps"),
        "model": MODEL_NAME, "space": _public_url(root), "url": url,
    }
    # Converting and writing are blocking work: off the event loop, so other
    # jobs' streams are read meanwhile.
    return await asyncio.to_thread(_finish, job, settings, data, kind, record, reporter)


def _finish(job: Job, settings: Settings, data: bytes, kind: str, record: dict, reporter: Reporter) -> dict:
    """Convert, embed, and write one image (and its sidecar); complete ``record``."""
    import json

    from . import _metadata

    target = settings.format or kind
    if target != kind:
        data = _metadata.convert(data, target)
    path = job.path
    if not job.suffix_fixed and os.path.splitext(path)[1].lower() not in _suffixes_of(target):
        path = os.path.splitext(path)[0] + FORMAT_SUFFIX[target]
    record["width"], record["height"] = _metadata.dimensions(data)
    record["path"] = path
    fields = {key: record[key] for key in ("prompt", "seed", "width", "height", "steps", "model", "space")}
    if settings.metadata:
        try:
            data = _metadata.embed(data, fields, f"g4f-flux-plugin {__version__}")
        except _metadata.MetadataError as error:
            reporter.warn(f"{path}: metadata not embedded: {error}")
    if settings.sidecar:
        sidecar = {**fields, "url": record["url"], "generator": f"g4f-flux-plugin {__version__}"}
        text = json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n"
        write_atomic(os.path.splitext(path)[0] + ".json", text.encode("utf-8"))
    # The image last: its existence is what marks the job done for a resumed batch.
    write_atomic(path, data)
    return record


def _suffixes_of(kind: str) -> tuple[str, ...]:
    return (".jpg", ".jpeg") if kind == "jpeg" else (FORMAT_SUFFIX[kind],)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file, then rename)."""
    import secrets

    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.part")
    # os.open with 0o666 lets the umask decide the mode, as for any new file.
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as error:
        raise OSError(error.errno, error.strerror, path) from error  # name the file asked for
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise OSError(error.errno, error.strerror, path) from error
        raise


def _wait_text(seconds: float) -> str:
    """``312`` -> ``"5 min 12 s"``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def explain(error: BaseException, settings: Settings | None = None) -> tuple[int, str]:
    """The exit status and the one-line message for ``error``."""
    import asyncio
    import re

    from ._errors import FluxClientError, SpaceRateLimitError, SpaceTimeoutError

    from ._metadata import MetadataError

    if isinstance(error, SpaceRateLimitError):
        message = str(error)
        delay = getattr(error, "retry_after", None)
        if delay is not None:
            # The Space's "Try again in 0:05:12." becomes "try again in 5 min 12 s".
            message = re.sub(r"\s*(?:or\s+)?(?:try again|retry) in (?:\d+ days?,\s*)?[0-9:.]*[0-9]\.?",
                             "", message, flags=re.IGNORECASE).rstrip(" .")
            message += f"; try again in {_wait_text(delay)}"
        if settings is not None and not settings.token:
            message += " (with a Hugging Face token, --token or HF_TOKEN, the quota is larger)"
        return EXIT_QUOTA, message
    if isinstance(error, (SpaceTimeoutError, asyncio.TimeoutError)):
        return EXIT_TIMEOUT, str(error) or "timed out"
    if isinstance(error, FluxClientError):
        return EXIT_ERROR, str(error) or type(error).__name__
    if isinstance(error, MetadataError):
        return EXIT_ERROR, f"the image cannot be read: {error}"
    if isinstance(error, ValueError):  # a setting the provider refused
        return EXIT_USAGE, str(error)
    if isinstance(error, ImportError):
        return EXIT_ERROR, str(error)
    if isinstance(error, OSError) and error.filename:
        return EXIT_ERROR, f"cannot write {error.filename}: {error.strerror or error}"
    return EXIT_ERROR, f"{type(error).__name__}: {error}"


async def run(jobs: list[Job], settings: Settings, reporter: Reporter) -> int:
    """Make every image, ``settings.concurrency`` at a time; stop at the first failure.

    On a failure (or Ctrl-C) the jobs still running are cancelled, which
    cancels them on the Space; what was written stays, for a resumed batch.
    """
    import asyncio

    semaphore = asyncio.Semaphore(settings.concurrency)

    async def one(job: Job) -> None:
        async with semaphore:
            record = await make_image(job, settings, reporter)
        reporter.result(record)

    tasks = [asyncio.ensure_future(one(job)) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    failures = [(job, task.exception()) for job, task in zip(jobs, tasks)
                if task.done() and not task.cancelled() and task.exception()]
    if not failures:
        return EXIT_OK
    job, error = failures[0]
    if isinstance(error, BrokenPipeError):
        # The reader of our output went away (| head): nothing left to tell.
        _silence_stdout()
        return EXIT_ERROR
    code, message = explain(error, settings)
    if reporter.total > 1:
        message = f"{job.label}: {message}"  # which image failed
    if os.environ.get("G4F_FLUX_DEBUG"):
        import traceback

        reporter.clear()
        traceback.print_exception(type(error), error, error.__traceback__)
    reporter.error(message)
    return code


def _check_api_base(url: str | None) -> None:
    from urllib.parse import urlsplit

    if url is None:
        return
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--api-base must be an http(s) URL, not {url!r}")


def _check_token(args: argparse.Namespace) -> None:
    """Refuse ``--token`` with a plain-http Space on another machine, before any request."""
    root = args.api_base or os.environ.get("G4F_FLUX_SCHNELL_URL")
    if not (args.token and root):
        return
    from ._http import choose_token

    try:
        choose_token(root.strip(), args.token, None)
    except ValueError as error:
        raise UsageError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit status (see ``g4f-flux --help``)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on a usage error
    try:
        _check_api_base(args.api_base)
        _check_token(args)
        jobs, skipped, fmt = plan_jobs(args)
    except UsageError as error:
        parser.error(str(error))
    settings = Settings(args, fmt)
    reporter = Reporter(quiet=args.quiet, as_json=args.json, total=len(jobs))
    if fmt and fmt != "webp" and not _have_pillow():
        reporter.error(f"writing {fmt.upper()} needs Pillow: pip install 'g4f-flux-plugin[cli]' "
                       "(or keep the Space's WebP)")
        return EXIT_ERROR
    if skipped:
        reporter.note(f"{skipped} image(s) already made, skipped (delete a file to make it again)")
    if not jobs:
        reporter.note("nothing to do")
        return EXIT_OK

    import asyncio

    try:
        return asyncio.run(run(jobs, settings, reporter))
    except KeyboardInterrupt:
        # asyncio.run cancelled the main task, and with it every job (closing
        # their generators cancelled them on the Space), before re-raising.
        reporter.clear()
        sys.stderr.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (| head): nothing left to tell.
        _silence_stdout()
        return EXIT_ERROR


def _have_pillow() -> bool:
    import importlib.util

    return importlib.util.find_spec("PIL") is not None


def _silence_stdout() -> None:
    # Python flushes stdout at exit; on a closed pipe that prints a traceback.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
