"""The client's entry point: :class:`FluxClient`, usable from any asyncio program.

It owns what several generations share (the transport, so connections are
kept alive between jobs; the token, chosen once; the Space's discovered
config) and runs each generation under one deadline. It knows nothing of
g4f: the g4f provider and the command line are built on it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any

from ._batch import run_jobs
from ._config import PUBLIC_SPACE_URL, ConfigCache
from ._download import download_image
from ._errors import SpaceProtocolError, SpaceStatusError, SpaceTimeoutError
from ._events import GeneratedImage, ProgressEvent
from ._failover import SpaceList
from ._gradio import PROTOCOLS, SpaceClient
from ._http import HttpClient, choose_token, origin_of
from ._memory import SpaceMemory
from ._params import SPACE_LIMITS, normalise
from ._retry import RetryPolicy
from ._spaces import URL_ENV, SpaceHosts, SpaceRef, SpaceSpec, hub_endpoint, space_refs
from ._token import saved_token
from ._transports import Timeouts, Transport, make_transport, transport_name
from ._transports.pool import TransportPools

if TYPE_CHECKING:
    from ._hub import HubClient
    from ._states import StatesHook

__all__ = ["DEFAULT_TIMEOUT", "FluxClient", "space_root"]

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
    """A client of FLUX.1-schnell Spaces (the public one by default)::

        async with FluxClient() as flux:
            async for item in flux.generate("a lighthouse at dusk", seed=42):
                if isinstance(item, GeneratedImage):
                    print(item.url, item.seed, item.space)

    ``space`` names the Space: an id (``"owner/name"``, resolved to its host
    through the Hub once per process), a root URL, or a list of them (a
    sequence, or one comma-separated string), tried in order for each
    generation (see :mod:`._failover`). ``api_base`` is its alias
    (``space`` wins when both are given). Else
    ``$G4F_FLUX_SCHNELL_URL`` (the same forms), else the public Space, which
    costs no Hub request. ``token`` is a Hugging Face token: when ``None``,
    the one huggingface_hub would use (``$HF_TOKEN``, else the file
    ``hf auth login`` saved; see :mod:`._token`), except over plain ``http``
    to a host that is not loopback, where an explicit token is a
    ``ValueError`` and a saved one is left out. ``transport`` is
    ``"aiohttp"`` (default, or ``$G4F_FLUX_TRANSPORT``), ``"curl_cffi"``, or
    a :class:`Transport`, which stays the caller's to close. With ``None``
    (what g4f passes), the transport is shared by every client of the running
    event loop that names none (kind from ``$G4F_FLUX_TRANSPORT``, else
    aiohttp; one per proxy), so connections are reused between generations;
    it is closed when the loop shuts down (see :mod:`._transports.pool`). A
    name (``"aiohttp"``) gives this client a transport of its own, closed by
    :meth:`aclose`. The Hub is asked over the same transport.
    ``protocol`` is ``"auto"``, ``"queue"`` or ``"call"``; ``timeout`` the
    default deadline of one generation, queue included (and a sleeping Space's
    wake-up, which can take minutes). ``retry_policy`` and ``config_cache`` replace the class's for
    this client (the g4f provider passes its own); so does ``space_memory``,
    what is remembered of Spaces (a ZeroGPU quota, until its wait passes:
    ``SpaceMemory(remember_quotas=False)`` turns that off; an unavailable
    Space, for a minute).
    """

    #: Retries of each generation. A class attribute: set it on a subclass,
    #: or on the class in a test.
    retry_policy: RetryPolicy = RetryPolicy(wake=True)
    #: Configs discovered per Space root, shared by every client of the class.
    config_cache: ConfigCache = ConfigCache()
    #: What is remembered of Spaces (quotas per root and token), shared likewise.
    space_memory: SpaceMemory = SpaceMemory()
    #: Where each Space id runs, asked of the Hub once per process.
    space_hosts: SpaceHosts = SpaceHosts()
    #: Seconds between two looks at a Space that is waking up or starting
    #: (``None``: :data:`._states.POLL_INTERVAL`, 5 s).
    poll_interval: float | None = None
    #: The per-loop transports of clients that name none.
    shared_transports: TransportPools = TransportPools()

    def __init__(
        self,
        api_base: str | None = None,
        *,
        space: SpaceSpec | None = None,
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
        #: The Spaces to try, in order.
        self.spaces = space_refs(space, api_base)
        first = self.spaces[0]
        #: The first Space's root URL (its id while the Hub has not been asked).
        self.root = first.root or first.label
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        self.protocol = protocol
        self.timeout = _budget(timeout)
        self._explicit_token = token or None
        self._saved_token = None if token else saved_token()
        # An explicit token to a plain-http Space off loopback fails here.
        sent = [self._token_for(ref.root) for ref in self.spaces if ref.root]
        by_id = any(ref.root is None for ref in self.spaces)
        self.has_token = any(sent) or (by_id and bool(token or self._saved_token))
        self._proxy = proxy
        self._owns_transport = False
        self.transport: Transport | None = None  # the shared one is the running loop's: see _transport()
        if transport is not None:
            self.transport, self._owns_transport = make_transport(transport, proxy=proxy, timeouts=Timeouts())
        else:
            transport_name(None)  # an unknown $G4F_FLUX_TRANSPORT fails here, before any request

    def _token_for(self, root: str, *, resolved: bool = False) -> str | None:
        # A root the Hub gave was not chosen by the user: a token that would
        # cross a network in clear text is left out there, never an error.
        if resolved:
            return choose_token(root, None, self._explicit_token or self._saved_token)
        return choose_token(root, self._explicit_token, self._saved_token)

    async def _transport(self) -> Transport:
        if self.transport is not None:
            return self.transport
        return await self.shared_transports.get(None, proxy=self._proxy)

    async def _http(self, root: str) -> HttpClient:
        given = any(ref.root == root for ref in self.spaces)
        return HttpClient(await self._transport(), root, self._token_for(root, resolved=not given))

    async def _connect(self, deadline: float, ref: SpaceRef) -> SpaceClient:
        """The client of one Space (see :class:`SpaceList`): an id is resolved
        through the Hub (once per process), and its state is asked of the Hub
        when it does not answer as a Gradio app."""
        transport = await self._transport()
        root = ref.root
        if root is None and ref.id is not None:
            endpoint = hub_endpoint()
            root = self.space_hosts.get(endpoint, ref.id)
            if root is None:
                root = await self._hub(transport).space_root(ref.id)
                self.space_hosts.put(endpoint, ref.id, root)
        if root is None:  # pragma: no cover - a SpaceRef has an id or a root
            raise ValueError(f"no address for {ref!r}")
        http = HttpClient(transport, root, self._token_for(root, resolved=ref.root is None))
        return SpaceClient(
            http,
            protocol=self.protocol,
            retry=self.retry_policy,
            deadline=deadline,
            config_cache=self.config_cache,
            space_memory=self.space_memory,
            states=self._states_for(ref, transport),
        )

    def _states_for(self, ref: SpaceRef, transport: Transport) -> _DeferredStates | None:
        if ref.id is not None:  # the Hub says what the Space is doing
            return _DeferredStates(self, transport, ref.id)
        if self.retry_policy.wake and len(self.spaces) == 1:
            # By URL alone, its front is all there is: a gateway error may be
            # a Space waking up, retried until the deadline. (In a list, the
            # next Space is tried instead.)
            return _DeferredStates(self, transport, None)
        return None

    def _hub(self, transport: Transport) -> HubClient:
        from ._hub import HubClient  # only for a Space named by id that needs it

        return HubClient(transport, self._explicit_token or self._saved_token)

    def __repr__(self) -> str:  # the token never appears in a repr
        names = ", ".join(ref.label for ref in self.spaces)
        return f"<FluxClient {names} token={'set' if self.has_token else 'none'}>"

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
    ) -> AsyncGenerator[ProgressEvent | GeneratedImage, None]:
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
    ) -> AsyncGenerator[tuple[int, Any], None]:
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
        spaces = SpaceList(
            self.spaces,
            partial(self._connect, deadline),
            memory=self.space_memory,
            token=self._explicit_token or self._saved_token,
        )
        ended: set[int] = set()
        stream = run_jobs(spaces, requests)
        try:
            while len(ended) < len(requests):
                try:
                    async with asyncio.timeout_at(deadline):
                        index, item = await anext(stream)
                except TimeoutError as error:
                    late = [index for index in range(len(requests)) if index not in ended]
                    await stream.aclose()  # cancels them on the Space first
                    for index in late:
                        names = " or ".join(ref.label for ref in self.spaces)
                        timed_out = SpaceTimeoutError(f"no image from {names} within {budget:g} s")
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
        the origin of the Space that made it (one of this client's). Files
        live in the Space's cache: fetch them soon."""
        root = self._root_of(url)
        if root is None:  # not one of our Spaces: fetched without a token
            return await download_image(HttpClient(await self._transport(), url), url)
        return await download_image(await self._http(root), url)

    def _root_of(self, url: str) -> str | None:
        """The root of this client's Space that serves ``url``, if any."""
        origin = origin_of(url)  # a non-HTTP URL is refused here
        roots = [ref.root for ref in self.spaces if ref.root]
        roots += [root for ref in self.spaces if ref.id and (root := self._resolved(ref.id))]
        for root in roots:
            if origin_of(root) == origin:
                return root
        return None

    def _resolved(self, space_id: str) -> str | None:
        try:
            return self.space_hosts.get(hub_endpoint(), space_id)
        except SpaceProtocolError:  # a bad $HF_ENDPOINT: nothing was resolved through it
            return None


class _DeferredStates:
    """What a Space's failures mean, made when it fails: a Space that answers
    (the public one, mostly) costs no import of the Hub client. With an id,
    the Hub's view of it (:class:`SpaceStates`); without, its front alone
    (:class:`FrontStates`)."""

    def __init__(self, flux: FluxClient, transport: Transport, space_id: str | None) -> None:
        self._flux = flux
        self._transport = transport
        self._space_id = space_id
        self._states: StatesHook | None = None

    def _made(self) -> StatesHook:
        if self._states is None:
            from ._states import POLL_INTERVAL, FrontStates, SpaceStates

            if self._space_id is None:
                self._states = FrontStates(self._flux.retry_policy)
            else:
                poll = self._flux.poll_interval
                self._states = SpaceStates(
                    self._flux._hub(self._transport),
                    self._space_id,
                    poll_interval=POLL_INTERVAL if poll is None else poll,
                )
        return self._states

    def handles(self, error: BaseException) -> bool:
        if self._space_id is None and not isinstance(error, SpaceStatusError):
            return False  # the common case of a Space by URL, decided without an import
        return self._made().handles(error)

    def recover(self, error: BaseException, deadline: float | None) -> AsyncGenerator[ProgressEvent, None]:
        return self._made().recover(error, deadline)


def _budget(timeout: Any) -> float:
    try:
        budget = float(timeout)
    except (TypeError, ValueError):
        budget = float("nan")
    if not budget > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return budget
