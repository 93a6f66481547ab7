"""Running the command: one client per image, the jobs ``--concurrency`` at a
time, and the exit status and one-line message of a failure.

Only the standard library at the top: the HTTP client, the HTTP libraries
and Pillow are imported inside the functions that make an image, so
``--help`` and usage errors import none of them. A generation uses
:class:`~g4f_flux_plugin._client.FluxClient` directly and loads nothing of g4f.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from .arguments import PROG, UsageError, build_parser
from .planning import Job, plan_jobs
from .reporter import Reporter, ReporterHandler, describe
from .writing import finish_image

if TYPE_CHECKING:
    import argparse

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_QUOTA",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Settings",
    "explain",
    "main",
    "make_image",
    "public_url",
    "run",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_QUOTA = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


# -- running -----------------------------------------------------------------
class Settings:
    """What every job of one run shares."""

    def __init__(self, args: argparse.Namespace, fmt: str | None, token: str | None) -> None:
        self.width = args.width
        self.height = args.height
        self.steps = args.steps
        #: The Space(s) (--space, else --api-base; None: the client's default).
        self.space = ",".join(args.space) if args.space else args.api_base
        self.explicit_token = args.token
        #: The token the run sends (for the quota hint); see _token_for().
        self.token = token
        self.transport = args.transport
        self.protocol = args.protocol
        self.timeout = args.timeout
        self.concurrency = args.concurrency
        self.format = fmt
        self.metadata = not args.no_metadata
        self.sidecar = args.sidecar


def public_url(url: str) -> str:
    """``url`` without user:password, fit to be written into files.

    Only the userinfo goes: the host is kept as written, so an IPv6 literal
    keeps its brackets (``http://[::1]:7860``, not ``http://::1:7860``).
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]  # RFC 3986 3.2: userinfo "@" host [":" port]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def make_image(job: Job, settings: Settings, reporter: Reporter) -> dict[str, object]:
    """Generate, download, convert if asked, embed metadata, write; return the record."""
    import asyncio
    from contextlib import aclosing

    # Imported here, not at the top: --help and usage errors must not pay for
    # the HTTP libraries. The client alone: a generation loads nothing of g4f.
    from .._client import FluxClient
    from .._config import MODEL_NAME
    from .._errors import SpaceProtocolError, SpaceTimeoutError
    from .._events import GeneratedImage

    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.timeout
    # One client (and transport) per image, for the job and its download:
    # keep-alive within the job, and nothing shared between concurrent jobs.
    flux = FluxClient(
        space=settings.space,
        token=settings.explicit_token,
        transport=settings.transport,
        protocol=settings.protocol,
        timeout=settings.timeout,
    )
    names = " or ".join(ref.label for ref in flux.spaces)
    try:
        reporter.progress(job, "connecting")
        image: GeneratedImage | None = None
        # Closing the generation early (Ctrl-C, another job failed) cancels
        # the job on the Space instead of leaving it to burn GPU quota.
        async with aclosing(
            flux.generate(
                job.prompt,
                width=settings.width,
                height=settings.height,
                steps=settings.steps,
                seed=job.seed,
                randomize_seed=False,
            )
        ) as generation:
            async for item in generation:
                if isinstance(item, GeneratedImage):
                    image = item
                    break
                reporter.progress(job, describe(item))
        if image is None:  # the client's contract, checked: a typed error, not an AttributeError
            raise SpaceProtocolError(f"the generation on {names} ended without an image")
        url = image.url
        reporter.progress(job, "downloading")
        try:
            data, kind = await asyncio.wait_for(flux.download(url), max(0.001, deadline - loop.time()))
        except TimeoutError as error:
            raise SpaceTimeoutError(f"no image from {names} within {settings.timeout:g} s") from error
    finally:
        await flux.aclose()

    # The request as sent (after clamping); unknown (None) if the image lacks it.
    request = image.request
    options = {
        "width": request.width if request else None,
        "height": request.height if request else None,
        "num_inference_steps": request.steps if request else None,
        "seed": image.seed,
    }
    for name, asked in (
        ("width", settings.width),
        ("height", settings.height),
        ("num_inference_steps", settings.steps),
    ):
        if asked is not None and options.get(name) not in (None, asked):
            reporter.warn_once(
                name,
                f"{name.replace('num_inference_', '')} {asked} is outside what "
                f"the Space accepts: {options[name]} was used",
            )
    record: dict[str, object] = {
        "path": job.path,
        "prompt": job.prompt,
        "seed": options.get("seed", job.seed),
        "width": None,
        "height": None,
        "steps": options.get("num_inference_steps"),
        "model": MODEL_NAME,
        "space": public_url(image.space or flux.root),  # its id, else its root URL
        "url": url,
    }
    # Converting and writing are blocking work: off the event loop, so other
    # jobs' streams are read meanwhile.
    return await asyncio.to_thread(finish_image, job, settings, data, kind, record, reporter)


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

    from .._errors import FluxClientError, SpaceRateLimitError, SpaceTimeoutError
    from .._metadata import MetadataError

    if isinstance(error, SpaceRateLimitError):
        message = str(error)
        delay = getattr(error, "retry_after", None)
        if delay is not None:
            # The Space's "Try again in 0:05:12." becomes "try again in 5 min 12 s".
            message = re.sub(
                r"\s*(?:or\s+)?(?:try again|retry) in (?:\d+ days?,\s*)?[0-9:.]*[0-9]\.?",
                "",
                message,
                flags=re.IGNORECASE,
            ).rstrip(" .")
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
    failures = [
        (job, error)
        for job, task in zip(jobs, tasks, strict=True)
        if task.done() and not task.cancelled() and (error := task.exception()) is not None
    ]
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
        traceback.print_exception(error)
    reporter.error(message)
    return code


def _check_api_base(url: str | None) -> None:
    from urllib.parse import urlsplit

    if url is None:
        return
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--api-base must be an http(s) URL, not {url!r}")


def _check_spaces(args: argparse.Namespace) -> None:
    """``--space`` values are ids or URLs; ``--api-base`` is its older name."""
    if not args.space:
        return
    if args.api_base is not None:
        raise UsageError("--space and --api-base name the same thing: give one of them")
    from .._spaces import parse_space

    for value in ",".join(args.space).split(","):
        if value.strip():
            try:
                parse_space(value, "--space")
            except ValueError as error:
                raise UsageError(str(error)) from None


def _apply_aspect_ratio(args: argparse.Namespace) -> None:
    """``--aspect-ratio`` as the provider reads ``aspect_ratio``: its size,
    unless --width or --height is given; an unknown name is a usage error."""
    if args.aspect_ratio is None:
        return
    # The provider's table (g4f's sizes), without importing g4f.
    from .._params import choose_size

    try:
        width, height = choose_size(args.width, args.height, None, args.aspect_ratio)
    except ValueError as error:
        raise UsageError(f"--{error}".replace("--aspect_ratio", "--aspect-ratio", 1)) from None
    args.width, args.height = width, height


def _token_for(args: argparse.Namespace) -> str | None:
    """The token the run sends, chosen as the client chooses it: ``--token``
    with a plain-http Space on another machine is a usage error before any
    request, a saved token (``$HF_TOKEN``, ``hf auth login``'s file) is simply
    not sent there."""
    from .._http import choose_token
    from .._spaces import space_refs
    from .._token import saved_token

    try:
        spaces = space_refs(",".join(args.space) if args.space else None, args.api_base)
    except ValueError:  # not an id nor an http(s) URL: the client refuses it in plain words
        return None
    saved = None if args.token else saved_token()
    try:
        sent = [choose_token(ref.root, args.token, saved) for ref in spaces if ref.root]
    except ValueError as error:
        raise UsageError(str(error)) from None
    if any(ref.root is None for ref in spaces):
        sent.append(args.token or saved)
    return next((token for token in sent if token), None)


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit status (see ``g4f-flux --help``)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on a usage error
    try:
        _check_api_base(args.api_base)
        _check_spaces(args)
        _apply_aspect_ratio(args)
        token = _token_for(args)
        jobs, skipped, fmt = plan_jobs(args)
    except UsageError as error:
        parser.error(str(error))
    settings = Settings(args, fmt, token)
    reporter = Reporter(quiet=args.quiet, as_json=args.json, total=len(jobs))
    if fmt and fmt != "webp" and not _have_pillow():
        reporter.error(
            f"writing {fmt.upper()} needs Pillow: pip install 'g4f-flux-plugin[cli]' "
            "(or keep the Space's WebP)"
        )
        return EXIT_ERROR
    if skipped:
        reporter.note(f"{skipped} image(s) already made, skipped (delete a file to make it again)")
    if not jobs:
        reporter.note("nothing to do")
        return EXIT_OK

    import asyncio
    import logging

    # The client's warnings (a token the Space did not accept) reach stderr
    # even under --quiet: see ReporterHandler.
    client_log = logging.getLogger("g4f_flux_plugin")
    handler = ReporterHandler(reporter)
    client_log.addHandler(handler)
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
    finally:
        client_log.removeHandler(handler)


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
