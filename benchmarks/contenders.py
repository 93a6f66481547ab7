"""The clients compared: the provider, the floor (``floor.py``) and gradio_client.

Each contender makes one generation at a time through the same small
interface; the sections decide how many, how often and at what concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
from typing import Any

from common import DOWNLOAD_LIMIT, PROMPT, SIZE, STEPS, Seeds, available, log, transports


class Contender:
    """One way of generating an image.

    ``one(seed)`` makes a generation and downloads the image (returns its
    size in bytes); ``image_url(seed)`` stops when the image's URL is known.
    ``blocking`` contenders (gradio_client) implement the ``*_sync`` forms.
    """

    name = ""
    group = ""
    protocol = ""
    blocking = False

    async def setup(self) -> None:
        """Everything done once, before any timing (imports, sessions, discovery)."""

    async def one(self, seed: int) -> int:
        """One generation, image download included; the image's size in bytes."""
        raise NotImplementedError

    def one_sync(self, seed: int) -> int:
        """:meth:`one` for blocking contenders."""
        raise NotImplementedError

    async def image_url(self, seed: int) -> str:
        """One generation, up to the image's URL (no download)."""
        raise NotImplementedError

    def image_url_sync(self, seed: int) -> str:
        """:meth:`image_url` for blocking contenders."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what :meth:`setup` made."""


def protocol_of(name: str) -> str:
    """The Gradio protocol in a contender's name ("provider aiohttp/call long-lived" -> "call");
    gradio_client speaks the queue protocol."""
    for protocol in ("call", "queue"):
        if f"/{protocol}" in name or name.endswith(f" {protocol}"):
            return protocol
    return "queue"


class ProviderContender(Contender):
    """The provider: a fresh transport per generation, one long-lived instance, or
    (``transport=None``) exactly as g4f calls it, with no transport argument."""

    group = "provider"

    def __init__(
        self,
        url: str,
        transport: str | None,
        protocol: str | None,
        long_lived: bool,
        name: str | None = None,
        verify: str | None = None,
    ) -> None:
        self.url = url
        self.verify = verify  # a CA bundle for the long-lived transport (the TLS link's curl_cffi)
        self.transport_name = transport
        self.protocol = protocol or "auto"
        self._protocol_arg = protocol
        self.long_lived = long_lived
        self.name = name or f"provider {transport}/{protocol}" + (" long-lived" if long_lived else "")
        self._shared = None

    async def setup(self) -> None:
        # The provider first: the package's natural entry (it imports g4f).
        from g4f_flux_plugin._transports import make_transport
        from g4f_flux_plugin.providers import BlackForestLabs_Flux1Schnell

        self._provider = BlackForestLabs_Flux1Schnell
        self._make = make_transport
        if self.long_lived and self.verify is not None:
            from g4f_flux_plugin import AiohttpTransport, CurlCffiTransport

            kind = AiohttpTransport if self.transport_name == "aiohttp" else CurlCffiTransport
            self._shared = kind(verify=self.verify)
        elif self.long_lived:
            self._shared, _ = make_transport(self.transport_name)
        if self.transport_name is None:
            # The default path: no transport anywhere, so the generation and
            # the download both use the event loop's shared connections.
            from g4f_flux_plugin import FluxClient

            self._downloader = FluxClient(self.url)

    async def one(self, seed: int) -> int:
        if self._shared is not None:
            return await self._generate_and_download(self._shared, seed)
        if self.transport_name is None:
            data, _ = await self._downloader.download(await self._generate(None, seed))
            return len(data)
        # What the provider does by default with transport="aiohttp" (make a
        # transport, use it for the generation, close it), stretched to also
        # download the image over the same session, as a caller would.
        transport, _ = self._make(self.transport_name)
        try:
            return await self._generate_and_download(transport, seed)
        finally:
            await transport.aclose()

    async def image_url(self, seed: int) -> str:
        # A name (or nothing) lets the provider make and close its own transport.
        return await self._generate(self._shared or self.transport_name, seed)

    async def _generate_and_download(self, transport, seed: int) -> int:
        url = await self._generate(transport, seed)
        response = await transport.request("GET", url, headers={})
        async with response:
            return len(await response.read(DOWNLOAD_LIMIT))

    async def _generate(self, transport, seed: int) -> str:
        options: dict[str, Any] = dict(prompt=PROMPT, width=SIZE, height=SIZE, num_inference_steps=STEPS)
        if transport is not None:
            options["transport"] = transport
        if self._protocol_arg is not None:
            options["protocol"] = self._protocol_arg
        last = None
        async for item in self._provider.create_async_generator(
            "flux-schnell", None, seed=seed, api_base=self.url, **options
        ):
            last = item
        return last.images[0]

    async def aclose(self) -> None:
        if self._shared is not None:
            shared, self._shared = self._shared, None
            await shared.aclose()


class FloorContender(Contender):
    """``benchmarks/floor.py``: the fewest exchanges, one keep-alive session."""

    group = "floor"

    def __init__(self, url: str, protocol: str, name: str | None = None, *, over: str = "aiohttp") -> None:
        self.url = url
        self.protocol = protocol
        self.over = over
        self.name = name or (f"floor {protocol}" if over == "aiohttp" else f"floor {protocol} {over}")
        self._client = None

    async def setup(self) -> None:
        from floor import CurlFloorClient, FloorClient

        client = CurlFloorClient(self.url) if self.over == "curl_cffi" else FloorClient(self.url)
        self._client = await client.discover()

    async def one(self, seed: int) -> int:
        return len(await self._client.download(await self.image_url(seed)))

    async def image_url(self, seed: int) -> str:
        return await self._client.image_url(self.protocol, [PROMPT, seed, False, SIZE, SIZE, STEPS])

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class GradioClientContender(Contender):
    """``gradio_client.Client(url)`` built once; ``predict``/``submit().result()``.

    gradio_client downloads the output file itself (``download_files``, a
    temporary directory here), over a new connection, before it returns;
    with ``download=False`` it returns the file's URL instead.
    """

    group = "gradio_client"
    protocol = "queue"
    blocking = True

    def __init__(self, url: str, download: bool = True, name: str = "gradio_client") -> None:
        self.url = url
        self.download = download
        self.name = name
        self._client = None
        self._tmp: str | None = None

    async def setup(self) -> None:
        if self.download:
            self._tmp = tempfile.mkdtemp(prefix="g4f-flux-bench-gc-")

        def build():
            from gradio_client import Client

            return Client(self.url, verbose=False, download_files=self._tmp or False, analytics_enabled=False)

        self._client = await asyncio.to_thread(build)

    def _submit(self, seed: int):
        return self._client.submit(PROMPT, seed, False, SIZE, SIZE, STEPS, api_name="/infer").result()

    def submit(self, seed: int) -> Any:
        """Hand one job to the Client's thread pool; a ``concurrent.futures.Future``
        of its image URL (or path, when downloading)."""
        return self._client.submit(PROMPT, seed, False, SIZE, SIZE, STEPS, api_name="/infer")

    def one_sync(self, seed: int) -> int:
        path, _seed = self._submit(seed)
        return os.path.getsize(path)

    async def one(self, seed: int) -> int:
        return await asyncio.to_thread(self.one_sync, seed)

    def image_url_sync(self, seed: int) -> str:
        output, _seed = self._submit(seed)
        return output["url"] if isinstance(output, dict) else output.url

    async def image_url(self, seed: int) -> str:
        return await asyncio.to_thread(self.image_url_sync, seed)

    async def aclose(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()  # gradio_client >= 1.x
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def latency_contenders(url: str) -> list[Contender]:
    """Every configuration of the provider, both floors and gradio_client."""
    contenders: list[Contender] = []
    for long_lived in (False, True):
        for transport in transports():
            for protocol in ("call", "queue"):
                contenders.append(ProviderContender(url, transport, protocol, long_lived))
    for protocol in ("call", "queue"):  # as g4f calls it: no transport passed
        contenders.append(ProviderContender(url, None, protocol, False, name=f"provider default/{protocol}"))
    contenders += [FloorContender(url, "call"), FloorContender(url, "queue")]
    if available("gradio_client"):
        contenders.append(GradioClientContender(url))
    return contenders


def throughput_contenders(url: str) -> list[Contender]:
    """The latency contenders minus the long-lived curl_cffi ones (to keep the run short), ordered
    so that each floor runs right next to the aiohttp provider variants it is compared with
    (batches are long, and the machine's load drifts between them)."""
    order = [
        "provider default/queue",
        "provider aiohttp/queue",
        "floor queue",
        "provider aiohttp/queue long-lived",
        "provider curl_cffi/queue",
        "gradio_client",
        "provider curl_cffi/call",
        "provider aiohttp/call long-lived",
        "floor call",
        "provider aiohttp/call",
        "provider default/call",
    ]
    by_name = {c.name: c for c in latency_contenders(url)}
    return [by_name[name] for name in order if name in by_name]


def contender_by_name(url: str, name: str) -> Contender:
    """The latency contender called ``name``."""
    for contender in latency_contenders(url):
        if contender.name == name:
            return contender
    raise SystemExit(f"unknown contender {name!r}")


async def run_batch(contender: Contender, total: int, at_once: int, seeds: Seeds) -> int:
    """Run ``total`` generations, ``at_once`` at a time; return the number of failures.

    Async contenders run ``at_once`` workers (the same as an
    ``asyncio.Semaphore``); blocking ones run ``at_once`` threads, not the
    default thread pool, which would cap them at a few workers.
    """
    remaining = [total]
    failures = [0]

    def claim() -> bool:
        # Only this batch's workers touch it; a lost race between threads costs one extra job at most.
        if remaining[0] <= 0:
            return False
        remaining[0] -= 1
        return True

    def failed(error: Exception) -> None:
        failures[0] += 1
        if failures[0] <= 3:
            log(f"{contender.name}: {type(error).__name__}: {error}")

    if contender.blocking:

        def worker_sync() -> None:
            while claim():
                try:
                    contender.one_sync(seeds())
                except Exception as error:
                    failed(error)

        def batch() -> None:
            threads = [threading.Thread(target=worker_sync) for _ in range(at_once)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        await asyncio.to_thread(batch)
        return failures[0]

    async def worker() -> None:
        while claim():
            try:
                await contender.one(seeds())
            except Exception as error:
                failed(error)

    await asyncio.gather(*(worker() for _ in range(at_once)))
    return failures[0]
