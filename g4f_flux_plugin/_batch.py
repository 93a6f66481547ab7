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


class _Mailbox:
    """What the jobs post and the one reader takes, in order, unbounded.

    ``asyncio.Queue`` would do, but it makes four deques (its items, getters,
    putters, and an Event's waiters), about 3 KiB, and every generation has
    one for as long as its job waits in the Space's queue: a thousand waiting
    generations held 3 MB in them. One reader needs a list and a future.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[tuple[int, Any]] = []
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: tuple[int, Any]) -> None:
        """Post ``item``; wakes the reader if it waits."""
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> tuple[int, Any]:
        """The oldest item, waiting for one if there is none."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:  # cancelled too: nothing posted is lost, it stays in _items
                self._waiter = None
        return self._items.pop(0)


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
    mailbox = _Mailbox()

    async def pump(index: int, request: Any) -> None:
        try:
            # aclosing: a job stopped early reaches its cancel on the Space now.
            async with aclosing(client.generate(request)) as job:
                async for item in job:
                    mailbox.put((index, item))
                    if isinstance(item, GeneratedImage):
                        return
            mailbox.put((index, SpaceProtocolError("the generation ended without an image")))
        except asyncio.CancelledError:
            raise  # stopped by the finally below: nobody is reading any more
        except BaseException as error:  # handed to the reader, which raises or reports it
            mailbox.put((index, error))

    tasks = [asyncio.create_task(pump(index, request)) for index, request in enumerate(requests)]
    running = len(tasks)
    try:
        while running:
            index, item = await mailbox.get()
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
