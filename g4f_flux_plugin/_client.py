"""The client's entry point: :class:`FluxClient`, usable from any asyncio program.

It owns what several generations share (the transport, so connections are
kept alive between jobs; the token, chosen once; the Space's discovered
config) and runs each generation under one deadline. It knows nothing of
g4f: the g4f provider and the command line are built on it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from functools import partial
from typing import Any

from ._batch import run_jobs
from ._config import PUBLIC_SPACE_URL, ConfigCache
from ._download import download_image
from ._errors import SpaceProtocolError, SpaceTimeoutError
from ._events import GeneratedImage, ProgressEvent
from ._gradio import PROTOCOLS, SpaceClient
from ._http import HttpClient, choose_token, origin_of
from ._memory import SpaceMemory
from ._params import SPACE_LIMITS, normalise
from ._retry import RetryPolicy
from ._token import saved_token
from ._transports import Timeouts, Transport, make_transport, transport_name
from ._transports.pool import TransportPools

__all__ = ["DEFAULT_TIMEOUT", "FluxClient", "space_root"]

URL_ENV = "G4F_FLUX_SCHNELL_URL"
TOKEN_ENV = "HF_TOKEN"
#: Seconds for a whole generation: ZeroGPU queues take minutes when busy.
DEFAULT_TIMEOUT = 300.0


def space_root(api_base: str | None = None, default: str = PUBLIC_SPACE_URL) -> str:
    """The Space root to use: ``api_base``, else ``$G4F_FLUX_SCHNELL_URL``, else ``default``."""
    root = (api_base or os.environ.get(URL_ENV) or default).strip().rstrip("/")
    try:
        origin_of(root)
    except SpaceProtocolError:
        raise ValueError(f"api_base must be an http(s) URL, not {root!r}") from None
    return root


class FluxClient:
    """A client of one FLUX.1-schnell Space (the public one by default)::

        async with FluxClient() as flux:
            async for item in flux.generate("a lighthouse at dusk", seed=42):
                if isinstance(item, GeneratedImage):
                    print(item.url, item.seed)

    ``api_base`` is the Space's root (else ``$G4F_FLUX_SCHNELL_URL``, else the
    public Space). ``token`` is a Hugging Face token: when ``None``,
    ``$HF_TOKEN`` is used, except over plain ``http`` to a host that is not
    loopback, where an explicit token is a ``ValueError`` and ``$HF_TOKEN`` is
    left out. ``transport`` is ``"aiohttp"`` (default, or
    ``$G4F_FLUX_TRANSPORT``), ``"curl_cffi"``, or a :class:`Transport`, which
    stays the caller's to close. With ``None`` (what g4f passes), the
    transport is shared by every client of the running event loop that names
    none (kind from ``$G4F_FLUX_TRANSPORT``, else aiohttp; one per proxy), so
    connections are reused between generations; it is closed when the loop
    shuts down (see :mod:`._transports.pool`). A name (``"aiohttp"``) gives
    this client a transport of its own, closed by :meth:`aclose`.
    ``protocol`` is ``"auto"``, ``"queue"`` or ``"call"``; ``timeout`` the
    default deadline of one generation, queue included. ``retry_policy`` and ``config_cache`` replace the class's for
    this client (the g4f provider passes its own); so does ``space_memory``,
    what is remembered of Spaces (a ZeroGPU quota, until its wait passes:
    ``SpaceMemory(remember_quotas=False)`` turns that off).
    """

    #: Retries of each generation. A class attribute: set it on a subclass,
    #: or on the class in a test.
    retry_policy: RetryPolicy = RetryPolicy()
    #: Configs discovered per Space root, shared by every client of the class.
    config_cache: ConfigCache = ConfigCache()
    #: What is remembered of Spaces (quotas per root and token), shared likewise.
    space_memory: SpaceMemory = SpaceMemory()
    #: The per-loop transports of clients that name none.
    shared_transports: TransportPools = TransportPools()

    def __init__(
        self,
        api_base: str | None = None,
        *,
        token: str | None = None,
        transport: str | Transport | None = None,
        proxy: str | None = None,
        protocol: str = "auto",
        timeout: float = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        config_cache: ConfigCache | None = None,
        space_memory: SpaceMemory | None = None,
    ) -> None:
        if retry_policy is not None:
            self.retry_policy = retry_policy
        if config_cache is not None:
            self.config_cache = config_cache
        if space_memory is not None:
            self.space_memory = space_memory
        self.root = space_root(api_base)
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        self.protocol = protocol
        self.timeout = _budget(timeout)
        self._token = choose_token(self.root, token, saved_token())
        self.has_token = self._token is not None
        self._proxy = proxy
        self._owns_transport = False
        self.transport: Transport | None = None  # the shared one is the running loop's: see _http()
        if transport is not None:
            self.transport, self._owns_transport = make_transport(transport, proxy=proxy, timeouts=Timeouts())
        else:
            transport_name(None)  # an unknown $G4F_FLUX_TRANSPORT fails here, before any request

    async def _http(self) -> HttpClient:
        transport = self.transport
        if transport is None:
            transport = await self.shared_transports.get(None, proxy=self._proxy)
        return HttpClient(transport, self.root, self._token)

    def __repr__(self) -> str:  # the token never appears in a repr
        return f"<FluxClient {self.root} token={'set' if self.has_token else 'none'}>"

    async def __aenter__(self) -> FluxClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport if the client made it (a shared one stays open)."""
        if self._owns_transport and self.transport is not None:
            await self.transport.aclose()

    # -- generating ----------------------------------------------------------
    async def generate(
        self,
        prompt: str,
        *,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        randomize_seed: bool | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[ProgressEvent | GeneratedImage]:
        """Generate one image: yield :class:`ProgressEvent` items, then one
        :class:`GeneratedImage` (its ``seed`` is the one the Space used).

        Sizes are rounded down to a multiple of 8 and kept in the Space's
        ranges; bad input raises ``ValueError`` before any request. Failures
        raise the client's errors (:class:`~._errors.FluxClientError`).
        Closing the generator early cancels the job on the Space.
        """
        build = partial(
            normalise,
            prompt,
            width=width,
            height=height,
            steps=steps,
            seed=seed,
            randomize_seed=randomize_seed,
        )
        build(limits=SPACE_LIMITS)  # bad input fails here, before any request
        # aclosing: a caller who stops early reaches the job's cancel now, not
        # when the abandoned stream is garbage-collected.
        async with aclosing(self.run([lambda limits: build(limits=limits)], timeout=timeout)) as stream:
            async for _, item in stream:
                if isinstance(item, BaseException):
                    raise item
                yield item

    async def image(self, prompt: str, **options: Any) -> GeneratedImage:
        """Generate one image and return it (``options`` as :meth:`generate`'s)."""
        async with aclosing(self.generate(prompt, **options)) as generation:
            async for item in generation:
                if isinstance(item, GeneratedImage):
                    return item
        raise SpaceProtocolError("the generation ended without an image")  # pragma: no cover

    async def run(
        self, requests: Sequence[Any], *, timeout: float | None = None
    ) -> AsyncIterator[tuple[int, Any]]:
        """Run one job per request at once, under one deadline; yield ``(index, item)``.

        A request is a function of the Space's :class:`~._params.Limits` that
        returns the :class:`~._params.ImageRequest` (called once the Space's
        ``/config`` is known, so sizes fit its real ranges). ``item`` is a
        :class:`ProgressEvent`, or the job's end: its :class:`GeneratedImage`
        or the exception it failed with (yielded, not raised, so one failure
        does not stop the others). Jobs still running at the deadline end
        with a :class:`~._errors.SpaceTimeoutError`. Each job runs in its own
        Gradio session, so cancelling one never touches another; closing the
        stream early cancels every job still running.
        """
        budget = self.timeout if timeout is None else _budget(timeout)
        deadline = asyncio.get_running_loop().time() + budget
        client = SpaceClient(
            await self._http(),
            protocol=self.protocol,
            retry=self.retry_policy,
            deadline=deadline,
            config_cache=self.config_cache,
            space_memory=self.space_memory,
        )
        ended: set[int] = set()
        stream = run_jobs(client, requests)
        try:
            while len(ended) < len(requests):
                try:
                    async with asyncio.timeout_at(deadline):
                        index, item = await anext(stream)
                except TimeoutError as error:
                    late = [index for index in range(len(requests)) if index not in ended]
                    await stream.aclose()  # cancels them on the Space first
                    for index in late:
                        timed_out = SpaceTimeoutError(f"no image from {self.root} within {budget:g} s")
                        timed_out.__cause__ = error
                        ended.add(index)
                        yield index, timed_out
                    return
                if not isinstance(item, ProgressEvent):
                    ended.add(index)
                yield index, item
        finally:
            await stream.aclose()

    async def download(self, url: str) -> tuple[bytes, str]:
        """Fetch a generated image: ``(bytes, format)``, the token sent only to
        the Space's origin. Files live in the Space's cache: fetch them soon."""
        return await download_image(await self._http(), url)


def _budget(timeout: Any) -> float:
    try:
        budget = float(timeout)
    except (TypeError, ValueError):
        budget = float("nan")
    if not budget > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return budget
