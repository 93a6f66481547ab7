"""A local replica of the Hugging Face Space ``black-forest-labs/FLUX.1-schnell``.

It is built with the real ``gradio`` package, so every route, queue message and
error shape is Gradio's own; only the model is fake. The same file runs under
Gradio 6 (routes under ``/gradio_api``) and Gradio 4 (unprefixed routes), which
is how the plugin is tested against both generations of the Space.

Run it as a script::

    python tests/replica.py --port 7860 [--host 127.0.0.1] [--sleep 0.2]
        [--show-error] [--concurrency-limit 1] [--max-size N]
        [--mode normal|quota|exception|info] [--layout public|dev|reordered]
        [--zerogpu SCHEDULER_URL]

It prints ``REPLICA READY http://HOST:PORT`` once it accepts connections and
exits cleanly on SIGTERM or SIGINT.

The fake ``infer`` returns a solid image of the requested size whose colour
encodes the seed it used (see :func:`seed_colour`), and the seed. A prompt can
override the server-wide ``--mode`` for one job with a marker:

``[[quota]]``      raise the ``gr.Error`` ZeroGPU raises when the quota is spent
``[[exception]]``  raise a plain ``RuntimeError`` (hidden unless ``--show-error``)
``[[info]]``       emit ZeroGPU-like ``gr.Info``/``gr.Warning`` toasts, then succeed
``[[sleep=X]]``    sleep X seconds per step instead of ``--sleep``
``[[quota_seed=N]]``, ``[[exception_seed=N]]``  that mode for the job whose seed is N
                   only (several images of one prompt, one of them failing)

``--zerogpu SCHEDULER_URL`` runs ``infer`` under Hugging Face's real ZeroGPU
client, asking the scheduler at that URL for a GPU (tests/replica_zerogpu.py).

Control routes outside Gradio, for tests to check the server side:

``GET /_replica/jobs``    every infer call: prompt, seed used, randomize_seed
                          as received, width, height, steps, inputs (what the
                          public layout lacks, e.g. guidance_scale), state (running|completed|cancelled|failed),
                          started_at, ended_at, error, and the headers the
                          function saw (gr.Request)
``GET /_replica/requests`` every request the app received (method, path,
                          headers), control routes left out
``POST /_replica/reset``  forget the recorded jobs and requests
``GET /_replica/health``  gradio version, api prefix and the server's flags
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import random
import re
import signal
import sys
import tempfile
import time
from typing import Any

# Only the standard library at module level: the tests import the constants and
# seed_colour() from here without paying for (or being configured by) Gradio.
# Gradio, FastAPI, uvicorn, Pillow and tqdm are imported where they are used.

MAX_SEED = 2147483647  # numpy int32 max, as in the Space
MAX_IMAGE_SIZE = 2048

QUOTA_TITLE = "ZeroGPU quota exceeded"
QUOTA_MESSAGE = (
    "You have exceeded your free ZeroGPU quota (60s requested vs. 13s left). Try again in 0:05:12."
)
EXCEPTION_MESSAGE = "CUDA out of memory (simulated)"
INFO_TITLE = "ZeroGPU queue"
INFO_MESSAGE = "Waiting for a GPU to become available"
WARNING_MESSAGE = "GPU task is exceeding its requested duration and might be aborted"

MODES = ("normal", "quota", "exception", "info")
_SLEEP_MARKER = re.compile(r"\[\[sleep=([0-9]*\.?[0-9]+)\]\]")
_SEED_MARKER = re.compile(r"\[\[(quota|exception)_seed=([0-9]+)\]\]")

#: Examples shown under the prompt, as on the Space.
EXAMPLES = [
    "a tiny astronaut hatching from an egg on the moon",
    "a cat holding a sign that says hello world",
    "an anime illustration of a wiener schnitzel",
]


def seed_colour(seed: int) -> tuple[int, int, int]:
    """The solid RGB colour of the image made for ``seed`` (its low three bytes)."""
    return (seed & 255, (seed >> 8) & 255, (seed >> 16) & 255)


def _accepts(func: Any, name: str) -> bool:
    """Whether ``func`` takes a keyword ``name``.

    Gradio 5 added ``title=`` to ``gr.Error``/``gr.Info``/``gr.Warning``; Gradio 4
    rejects it, and the replica must run on both.
    """
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _titled(func: Any, message: str, title: str) -> Any:
    """Call ``func(message, title=title)``, dropping ``title`` where unsupported."""
    if _accepts(func, "title"):
        return func(message, title=title)
    return func(message)


class JobLog:
    """In-memory record of every ``infer`` call, served at ``/_replica/jobs``."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def start(self, **fields: Any) -> dict[str, Any]:
        """Record a job as running and return its (mutable) entry."""
        job = {**fields, "state": "running", "started_at": time.time(), "ended_at": None, "error": None}
        self.jobs.append(job)
        return job

    @staticmethod
    def end(job: dict[str, Any], state: str, error: str | None = None) -> None:
        """Mark ``job`` finished with ``state``."""
        job.update(state=state, ended_at=time.time(), error=error)


def build_demo(
    *, sleep: float, mode: str, jobs: JobLog, layout: str = "public", zerogpu: str | None = None
) -> Any:
    """Build the ``gr.Blocks`` app with the Space's layout, components and event order
    (``layout``: another Space's inputs, see :mod:`replica_layouts`; ``zerogpu``: the
    scheduler's URL, to run ``infer`` under the real ZeroGPU client)."""
    import gradio as gr
    import replica_layouts
    from PIL import Image
    from tqdm import tqdm

    # The job itself; the layout's infer (whose parameter names /info reports)
    # hands it the values by name, and what the public layout lacks as `extra`.
    async def run_job(
        prompt, seed, randomize_seed, width, height, num_inference_steps, request=None, extra=None
    ):
        prompt = prompt or ""
        received_randomize = randomize_seed
        if randomize_seed:
            seed = random.randint(0, MAX_SEED)
        # Sliders hand over floats (and Gradio accepts 3.7 for a step-1 slider).
        seed, width, height = int(seed), int(width), int(height)
        steps = int(num_inference_steps)
        # The headers the Space's own code can read (gr.Request): what a
        # Space owner would see of the caller, token included if it leaked.
        # Pairs, not a dict: a header sent twice must show twice.
        headers = [list(pair) for pair in request.headers.items()] if request is not None else []
        job = jobs.start(
            prompt=prompt,
            seed=seed,
            randomize_seed=received_randomize,
            width=width,
            height=height,
            steps=steps,
            inputs=dict(extra or {}),
            headers=headers,
        )

        job_mode = mode
        for candidate in MODES[1:]:
            if f"[[{candidate}]]" in prompt:
                job_mode = candidate
        for candidate, marked in _SEED_MARKER.findall(prompt):
            if int(marked) == seed:
                job_mode = candidate
        marker = _SLEEP_MARKER.search(prompt)
        step_sleep = float(marker.group(1)) if marker else sleep

        try:
            if job_mode == "quota":
                # ZeroGPU refuses before the function runs: no progress at all.
                raise _titled(gr.Error, QUOTA_MESSAGE, QUOTA_TITLE)
            if job_mode == "info":
                _titled(gr.Info, INFO_MESSAGE, INFO_TITLE)
                _titled(gr.Warning, WARNING_MESSAGE, "Warning")
            # tqdm, like the diffusers pipeline: track_tqdm turns it into progress
            # messages. asyncio.sleep (not time.sleep) so /cancel really stops the job.
            for _ in tqdm(range(steps)):
                await asyncio.sleep(step_sleep)
            if job_mode == "exception":
                raise RuntimeError(EXCEPTION_MESSAGE)
            image = Image.new("RGB", (width, height), seed_colour(seed))
        except asyncio.CancelledError:
            jobs.end(job, "cancelled")
            raise
        except BaseException as exc:
            # gr.Error's str() is the repr of its message; keep the plain text.
            jobs.end(job, "failed", getattr(exc, "message", None) or str(exc))
            raise
        jobs.end(job, "completed")
        return image, seed

    infer = replica_layouts.build_infer(gr, layout, run_job)
    if zerogpu:
        from replica_zerogpu import wrap

        infer = wrap(infer, zerogpu)

    with gr.Blocks(title="FLUX.1 [schnell]") as demo:
        with gr.Column(elem_id="col-container"):
            gr.Markdown("# FLUX.1 [schnell] (local replica)")
            with gr.Row():
                prompt = gr.Text(
                    label="Prompt",
                    show_label=False,
                    max_lines=1,
                    placeholder="Enter your prompt",
                    container=False,
                )
                run_button = gr.Button("Run", scale=0)
            result = gr.Image(label="Result", show_label=False, format="webp")
            with gr.Accordion("Advanced Settings", open=False):
                settings = replica_layouts.build_inputs(gr, layout)
            seed = settings["seed"]
            # The Space's cached examples register two dependencies (load the
            # example's input, then its cached output) before infer, which is
            # why infer is fn_index 2 there. "lazy" so nothing runs at start-up;
            # Gradio 5 moved "lazy" from cache_examples to cache_mode.
            if _accepts(gr.Examples, "cache_mode"):
                cache = {"cache_examples": True, "cache_mode": "lazy"}
            else:
                cache = {"cache_examples": "lazy"}
            gr.Examples(examples=EXAMPLES, fn=infer, inputs=[prompt], outputs=[result, seed], **cache)
        gr.on(
            triggers=[run_button.click, prompt.submit],
            fn=infer,
            inputs=[prompt, *(settings[name] for name in replica_layouts.input_order(infer)[1:])],
            outputs=[result, seed],
            api_name="infer",
        )
    return demo


def build_app(args: argparse.Namespace) -> Any:
    """The FastAPI app: control routes first, then the Gradio app mounted at the root."""
    import gradio as gr
    import gradio.route_utils
    from fastapi import FastAPI

    jobs = JobLog()
    demo = build_demo(sleep=args.sleep, mode=args.mode, jobs=jobs, layout=args.layout, zerogpu=args.zerogpu)
    demo.queue(default_concurrency_limit=args.concurrency_limit, max_size=args.max_size)

    app = FastAPI()
    requests_seen: list[dict[str, Any]] = []

    # Registered before the mount, so the catch-all "/" mount does not shadow them.
    @app.get("/_replica/jobs")
    def list_jobs() -> list[dict[str, Any]]:
        return jobs.jobs

    @app.get("/_replica/requests")
    def list_requests() -> list[dict[str, Any]]:
        return requests_seen

    @app.post("/_replica/reset")
    def reset() -> dict[str, bool]:
        jobs.jobs.clear()
        requests_seen.clear()
        return {"success": True}

    @app.get("/_replica/health")
    def health() -> dict[str, Any]:
        return {
            "gradio": gr.__version__,
            "api_prefix": getattr(gr.route_utils, "API_PREFIX", ""),  # none on Gradio 4
            "pid": os.getpid(),
            "flags": vars(args),
        }

    # show_error defaults to True in mount_gradio_app but False in launch(), which
    # is what the Space uses: always pass it explicitly. Gradio 4 builds /config
    # before applying the argument, so also set it on the Blocks beforehand.
    demo.show_error = args.show_error
    mounted = gr.mount_gradio_app(app, demo, path="/", show_error=args.show_error)
    return _RequestRecorder(mounted, requests_seen)


class _RequestRecorder:
    """ASGI wrapper recording every HTTP request's method, path and headers:
    what any route of the Space (not only infer) could read of the caller.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which wraps
    ``receive`` and would change how Gradio notices a client disconnecting.
    """

    def __init__(self, app: Any, seen: list[dict[str, Any]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_replica/"):
            headers = [
                [name.decode("latin-1"), value.decode("latin-1")] for name, value in scope.get("headers", [])
            ]
            self.seen.append({"method": scope["method"], "path": scope["path"], "headers": headers})
        await self.app(scope, receive, send)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per inference step")
    parser.add_argument(
        "--show-error",
        action="store_true",
        help="show plain exceptions' text to clients (launch(show_error=True))",
    )
    parser.add_argument(
        "--concurrency-limit",
        type=int,
        default=1,
        help="queue default_concurrency_limit (Gradio's default is 1)",
    )
    parser.add_argument("--max-size", type=int, default=None, help="queue max_size")
    parser.add_argument(
        "--keep-alive",
        type=int,
        default=5,
        help="seconds an idle keep-alive connection stays open (uvicorn's default: 5)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="normal",
        help="what every job does unless its prompt has a [[mode]] marker",
    )
    parser.add_argument(
        "--layout",
        choices=("public", "dev", "reordered"),
        default="public",
        help="infer's inputs: the public Space's, FLUX.1-dev's, or the public ones reordered",
    )
    parser.add_argument(
        "--zerogpu",
        metavar="SCHEDULER_URL",
        default=None,
        help="run infer under the real `spaces` ZeroGPU client, asking this scheduler",
    )
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="after --: a command to run once the replica is ready; the replica "
        "stops when it ends and exits with its status",
    )
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    return args


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGTERM/SIGINT; announce readiness on stdout."""
    import uvicorn

    config = uvicorn.Config(
        build_app(args),
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_keep_alive=args.keep_alive,
        # Open SSE streams would otherwise hold a graceful shutdown forever.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)

    # uvicorn swaps in its own handlers while serving, then restores these and
    # re-raises the signal it caught; handlers that only ask the server to stop
    # turn that re-raise into a no-op, so the process exits with status 0.
    def stop(*_: Any) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():  # e.g. the port is taken: let its exception surface
            await task
            raise SystemExit(f"replica: server stopped before it started on port {args.port}")
        await asyncio.sleep(0.02)
    print(f"REPLICA READY http://{args.host}:{args.port}", flush=True)
    if args.command:
        # One-shot mode (the README's first command): run the client, then stop.
        process = await asyncio.create_subprocess_exec(*args.command)
        status = await process.wait()
        server.should_exit = True
        await task
        raise SystemExit(status)
    await task


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python tests/replica.py``."""
    args = parse_args(argv)
    # Gradio phones home at import and start-up (analytics, version check); the
    # test machines are offline, so those calls would only add delays and noise.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # Lazily cached examples are written on first click only, but keep them out
    # of the working directory (maybe the repository) in any case.
    os.environ.setdefault(
        "GRADIO_EXAMPLES_CACHE", os.path.join(tempfile.gettempdir(), "g4f-flux-replica-examples")
    )
    asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
