"""The replica's ZeroGPU mode: its ``infer`` under Hugging Face's real ZeroGPU client.

On the Space, ``@spaces.GPU`` wraps ``infer`` (``spaces/zero/wrappers.py``): it
calls ``spaces.zero.client.schedule(...)`` for a GPU before the job, runs the
job in a forked GPU worker, and calls ``release(...)`` after, with
``fail=True`` when the job failed. This module does the same around the
replica's ``infer`` with the real ``spaces`` package (0.51.3), without the
worker process and without torch:

- ``SPACES_ZERO_GPU`` stays unset, so ``spaces`` never imports torch nor patches
  Gradio;
- ``SPACES_ZERO_DEVICE_API_URL`` points at the scheduler emulator
  (``tests/zerogpu_scheduler.py``);
- ``ZEROGPU_PROC_SELF_CGROUP_PATH`` points at a file with a cgroup v1
  ``:devices:`` line, which the client sends as ``cgroupPath``.

So every ZeroGPU message (quota, GPU queue, client and worker errors, the
toasts) is raised by the package's own code from the emulator's answers. What
the worker would add is played here in the wrapper's words: a plain exception
of the job becomes "ZeroGPU worker error" with its class name, a ``gr.Error``
passes through, and the prompt marker ``[[worker_abort]]`` plays a worker that
died ("GPU task aborted"), and ``[[duration_warning]]`` a job that runs past
its requested duration (the package's own ``duration_warning()`` toast, which
the wrapper sends from a timer).

The package's client is synchronous (httpx), so it runs in a thread, with the
request's context copied: its toasts find Gradio's job through context
variables, as they do on the Space.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

#: The prompt marker of a GPU worker that dies mid-job.
WORKER_ABORT_MARKER = "[[worker_abort]]"
#: The prompt marker of a job that outlives its requested GPU duration.
DURATION_WARNING_MARKER = "[[duration_warning]]"
#: The cgroup the client reports (any v1 ``devices`` path does).
CGROUP_LINE = "12:devices:/kubepods/replica-zerogpu\n"


def configure(scheduler_url: str) -> None:
    """Point ``spaces`` at ``scheduler_url``; call before anything imports ``spaces``
    (it reads its settings once, at import)."""
    # Gradio tries `import spaces` while it imports itself, and `spaces` refuses
    # a half-imported gradio (ImportError, caught by Gradio), so it is not
    # loaded yet here even though gradio is.
    if "spaces" in sys.modules:
        raise RuntimeError("configure() must run before `spaces` is imported")
    os.environ.pop("SPACES_ZERO_GPU", None)  # torch is never imported
    os.environ["SPACES_ZERO_DEVICE_API_URL"] = scheduler_url
    cgroup = Path(tempfile.mkdtemp(prefix="replica-zerogpu-")) / "cgroup"
    cgroup.write_text(CGROUP_LINE)
    os.environ["ZEROGPU_PROC_SELF_CGROUP_PATH"] = str(cgroup)


def wrap(infer: Callable[..., Awaitable[Any]], scheduler_url: str) -> Callable[..., Awaitable[Any]]:
    """``infer`` run the way ``@spaces.GPU`` runs it on the Space.

    Gradio reads the wrapped function's signature (``functools.wraps`` sets
    ``__wrapped__``), so it still passes ``gr.Request`` and ``gr.Progress``.
    """
    configure(scheduler_url)
    from spaces.zero import client
    from spaces.zero.gradio import error

    signature = inspect.signature(infer)
    # One task id per wrapped function, as the package's wrapper uses id(task).
    task_id = id(infer)

    @functools.wraps(infer)
    async def zerogpu_infer(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind_partial(*args, **kwargs)
        request = bound.arguments.get("request")
        prompt = str(bound.arguments.get("prompt") or "")
        # asyncio.to_thread copies the context: the client's toasts need it.
        grant = await asyncio.to_thread(client.schedule, task_id=task_id, request=request)

        async def release(*, fail: bool = False, allow_404: bool = False) -> None:
            await asyncio.to_thread(client.release, grant.allowToken, fail=fail, allow_404=allow_404)

        if WORKER_ABORT_MARKER in prompt:
            await release(fail=True, allow_404=True)
            raise error("ZeroGPU worker error", "GPU task aborted")
        try:
            if DURATION_WARNING_MARKER in prompt:
                await asyncio.to_thread(client.duration_warning)
            result = await infer(*args, **kwargs)
        except asyncio.CancelledError:
            await asyncio.shield(release(fail=True))
            raise
        except Exception as exc:
            await release(fail=True)
            if _is_gradio_error(exc):
                raise
            raise error("ZeroGPU worker error", type(exc).__name__) from exc
        await release()
        return result

    return zerogpu_infer


def _is_gradio_error(exc: BaseException) -> bool:
    import gradio as gr

    return isinstance(exc, gr.Error)
