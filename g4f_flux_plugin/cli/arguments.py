"""The command's arguments: the parser, its argument types and ``--help``'s text.

Standard library only: ``--help`` and usage errors answer before anything
else is imported.
"""

from __future__ import annotations

import argparse

from .. import __version__

__all__ = ["DEFAULT_TIMEOUT", "MAX_SEED", "PROG", "UsageError", "build_parser"]

PROG = "g4f-flux"

# The Space's seed slider (numpy's int32 maximum); _params.MAX_SEED, restated
# here so parsing arguments does not import anything.
MAX_SEED = 2147483647
DEFAULT_TIMEOUT = 300.0

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

the Space (--space):
  An id (owner/name: its address is asked of the Hub once), a root URL, or
  several, comma-separated or repeated, tried in order for each image: the
  next one is tried when a Space is out of quota, paused, failed, missing or
  unreachable. A sleeping Space is woken and waited for ("waking up"): a
  ZeroGPU Space can take minutes, so keep --timeout long enough.

environment:
  HF_TOKEN              Hugging Face token (ZeroGPU bills the account: a
                        larger quota than anonymous calls); sent only to the
                        Space's own origin and to the Hub's API. Unset: the
                        token `hf auth login` saved (HF_TOKEN_PATH, else
                        HF_HOME/token, else ~/.cache/huggingface/token)
  G4F_FLUX_SCHNELL_URL  the Space(s) when --space is not given (ids or URLs,
                        comma-separated)
  HF_ENDPOINT           the Hub (default https://huggingface.co)
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
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", nargs="?", help="what to draw (or use --prompt-file)")
    what = parser.add_argument_group("what to make")
    what.add_argument(
        "--prompt-file",
        metavar="FILE",
        help="a batch: one prompt a line (blank lines and # comments skipped; - reads stdin)",
    )
    what.add_argument(
        "--width",
        type=_positive_int,
        metavar="PX",
        help="image width (default 1024; the Space takes 256..2048, multiples of 8)",
    )
    what.add_argument("--height", type=_positive_int, metavar="PX", help="image height (default 1024)")
    what.add_argument(
        "--steps",
        type=_positive_int,
        metavar="N",
        help="inference steps (default the Space's: 4 on FLUX.1-schnell)",
    )
    what.add_argument(
        "--aspect-ratio",
        metavar="W:H",
        help="the image's shape, as g4f names it (16:9 is 1024x576, 3:2, 4:5, ...); "
        "--width/--height take precedence",
    )
    seeds = what.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed",
        type=_seed,
        action="append",
        metavar="N",
        help="a seed; repeat for several images per prompt",
    )
    seeds.add_argument(
        "--seeds",
        type=_positive_int,
        metavar="N",
        help="N images per prompt with random seeds (chosen here, so they appear in file names)",
    )

    out = parser.add_argument_group("output")
    out.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="file to write (one prompt only); its extension picks the format",
    )
    out.add_argument(
        "--out-dir", metavar="DIR", default=None, help="directory for the images (default: the current one)"
    )
    out.add_argument(
        "--format",
        choices=("webp", "png", "jpeg"),
        help="file format (default: the Space's own, WebP, unchanged)",
    )
    out.add_argument(
        "--no-metadata", action="store_true", help="do not embed the prompt and settings in the image"
    )
    out.add_argument("--sidecar", action="store_true", help="also write <image name>.json with the settings")
    out.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object a line per image (path, prompt, seed, width, height, "
        "steps, model, space, url)",
    )
    out.add_argument(
        "-q", "--quiet", action="store_true", help="print results and errors only (no progress, no notes)"
    )

    space = parser.add_argument_group("the Space")
    space.add_argument(
        "--space",
        action="append",
        metavar="ID|URL",
        help="the Space: an id (owner/name), a root URL, or several (comma-separated or "
        "repeated), tried in order (default: $G4F_FLUX_SCHNELL_URL, else the public Space "
        "black-forest-labs/FLUX.1-schnell)",
    )
    space.add_argument("--api-base", metavar="URL", help="the Space's root URL (--space's older name)")
    space.add_argument(
        "--token",
        metavar="TOKEN",
        help="Hugging Face token (default: $HF_TOKEN, else the one `hf auth login` saved; "
        "prefer those: arguments are visible to other users of the machine)",
    )
    space.add_argument(
        "--transport",
        choices=("aiohttp", "curl_cffi"),
        help="HTTP library (default: $G4F_FLUX_TRANSPORT, else aiohttp)",
    )
    space.add_argument(
        "--protocol",
        choices=("auto", "queue", "call"),
        default="auto",
        help="Gradio protocol: queue (progress, position) or call; auto prefers queue",
    )
    space.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"limit for one image, queue and download included (default {DEFAULT_TIMEOUT:g})",
    )
    space.add_argument(
        "--concurrency",
        type=_positive_int,
        default=1,
        metavar="N",
        help="images generated at the same time (default 1: each one spends GPU quota)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser
