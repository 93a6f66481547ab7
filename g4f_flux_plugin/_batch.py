"""Several jobs at once, as one stream of what each of them reports.

Each image is its own job on the Space, in its own Gradio session (so
cancelling one never touches another: Gradio cancels by session), and the
jobs run concurrently on one :class:`~._gradio.SpaceClient`, so they share
its transport. What they yield is merged, in the order it arrives, into one
stream of ``(index, item)`` pairs. Closing the stream early cancels every job
still running on the Space, and waits until each has ended, so no task
outlives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any, Protocol

from ._errors import SpaceProtocolError
from ._events import GeneratedImage, ProgressEvent

__all__ = ["run_jobs"]


class Generator(Protocol):
    """What runs one generation: a :class:`~._gradio.SpaceClient`, or a
    :class:`~._failover.SpaceList` of them."""

    def generate(self, request: Any) -> AsyncGenerator[Any, None]:
        """Progress, then the image, of one request."""
        ...


async def run_jobs(client: Generator, requests: Sequence[Any]) -> AsyncGenerator[tuple[int, Any], None]:
    """Run one generation per request concurrently; yield ``(index, item)``.

    A request is what :meth:`SpaceClient.generate` takes: a function of the
    Space's limits that returns the :class:`~._params.ImageRequest`.

    ``index`` is the request's position in ``requests``. ``item`` is a
    :class:`ProgressEvent`, or the job's end: its :class:`GeneratedImage`,
    or the exception it failed with (an exception is yielded, not raised, so
    one failed job does not stop the others; the caller decides). Each job
    ends exactly once. The stream ends when every job has ended.
    """
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    async def pump(index: int, request: Any) -> None:
        try:
            # aclosing: a job stopped early reaches its cancel on the Space now.
            async with aclosing(client.generate(request)) as job:
                async for item in job:
                    queue.put_nowait((index, item))
                    if isinstance(item, GeneratedImage):
                        return
            queue.put_nowait((index, SpaceProtocolError("the generation ended without an image")))
        except asyncio.CancelledError:
            raise  # stopped by the finally below: nobody is reading any more
        except BaseException as error:  # handed to the reader, which raises or reports it
            queue.put_nowait((index, error))

    tasks = [asyncio.create_task(pump(index, request)) for index, request in enumerate(requests)]
    running = len(tasks)
    try:
        while running:
            index, item = await queue.get()
            if not isinstance(item, ProgressEvent):
                running -= 1
            yield index, item
    finally:
        # However the reader stops (return, aclose, its task cancelled, its
        # deadline), every job still running is cancelled and awaited: each
        # task's aclosing posts the job's cancel before the task ends.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
