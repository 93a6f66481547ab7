"""The floor: the least a client can do to get one image out of the Space.

Used by the benchmark as the lower bound the provider is compared with.
It makes only the HTTP exchanges the protocol needs, over one long-lived
aiohttp session (keep-alive), and checks nothing: no status codes, no
retries, no limits, no cancel, no progress, no typed errors, no SSE decoder
(it scans the body for the terminal message). It is not a client to use.

``call`` protocol:  POST {prefix}/call/infer -> GET {prefix}/call/infer/{id}
                    (event stream, read to its end) -> GET the file.
``queue`` protocol: POST {prefix}/queue/join -> GET {prefix}/queue/data
                    (event stream, read to its end) -> GET the file.

:class:`CurlFloorClient` makes the same exchanges over one curl_cffi
session set up as the provider's curl_cffi transport sets up its own (Chrome
impersonation, 16 KiB upload buffer, no cap on transfers): the scale section
uses it to tell what a waiting generation costs in libcurl itself from what
the provider adds.

The Space's ``fn_index``/``trigger_id``/``api_prefix`` are read from
``/config`` once, by :meth:`FloorClient.discover`, outside any timing.

Run as a script it is the floor of a cold command line, one whole job in a
fresh interpreter (``/config``, the job, the download, the file written)::

    python benchmarks/floor.py ROOT_URL -o FILE [--protocol call|queue]
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

__all__ = ["CurlFloorClient", "FloorClient"]

_CALL_MARK = b"event: complete\ndata: "
_QUEUE_MARK = b'"msg":"process_completed"'


class FloorClient:
    """One keep-alive aiohttp session; ``call()``/``queue()`` return the image bytes."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.prefix = ""
        self.fn_index = 0
        self.trigger_id = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session, made on first use (inside the running loop)."""
        if self._session is None:
            # aiohttp's defaults but its 100-connection cap, as the provider's
            # aiohttp transport: an event stream holds a connection while its
            # job is queued, and the scale section asks for thousands at once.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session

    async def get(self, url: str) -> bytes:
        """The whole body of ``GET url``."""
        async with self.session.get(url) as response:
            return await response.read()

    async def post_json(self, url: str, payload: dict) -> bytes:
        """The whole body of ``POST url`` with ``payload`` as JSON."""
        async with self.session.post(url, json=payload) as response:
            return await response.read()

    async def discover(self) -> FloorClient:
        """Read api_prefix, fn_index and trigger_id of ``infer`` from /config (once)."""
        config = json.loads(await self.get(f"{self.root}/config"))
        self.prefix = config.get("api_prefix") or ""
        for index, dependency in enumerate(config["dependencies"]):
            if dependency.get("api_name") == "infer":
                self.fn_index = dependency.get("id", index)
                targets = dependency.get("targets") or [[None]]
                self.trigger_id = targets[0][0]
                break
        return self

    async def call_url(self, data: list) -> str:
        """One generation over the ``/call/`` protocol, up to the image's URL."""
        base = f"{self.root}{self.prefix}/call/infer"
        event_id = json.loads(await self.post_json(base, {"data": data}))["event_id"]
        body = await self.get(f"{base}/{event_id}")  # the server closes after complete
        start = body.rindex(_CALL_MARK) + len(_CALL_MARK)
        output = json.loads(body[start : body.index(b"\n", start)])
        return output[0]["url"]

    async def queue_url(self, data: list) -> str:
        """One generation over the queue protocol (join + data), up to the image's URL."""
        session_hash = uuid.uuid4().hex[:12]
        payload = {
            "data": data,
            "event_data": None,
            "fn_index": self.fn_index,
            "trigger_id": self.trigger_id,
            "session_hash": session_hash,
        }
        await self.post_json(f"{self.root}{self.prefix}/queue/join", payload)
        url = f"{self.root}{self.prefix}/queue/data?session_hash={session_hash}"
        body = await self.get(url)  # ends with close_stream, then the server closes
        mark = body.index(_QUEUE_MARK)
        start = body.rindex(b"data: ", 0, mark) + 6
        message = json.loads(body[start : body.index(b"\n", start)])
        return message["output"]["data"][0]["url"]

    async def image_url(self, protocol: str, data: list) -> str:
        """:meth:`call_url` or :meth:`queue_url`, by name."""
        return await (self.call_url(data) if protocol == "call" else self.queue_url(data))

    async def call(self, data: list) -> bytes:
        """One generation over the ``/call/`` protocol, image download included."""
        return await self.download(await self.call_url(data))

    async def queue(self, data: list) -> bytes:
        """One generation over the queue protocol (join + data), image download included."""
        return await self.download(await self.queue_url(data))

    async def download(self, url: str) -> bytes:
        """The file at ``url``, over the same session."""
        return await self.get(url)

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


class CurlFloorClient(FloorClient):
    """The floor's exchanges over one curl_cffi ``AsyncSession``, made as the
    provider's curl_cffi transport makes its own."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self._curl: Any = None

    @property
    def curl(self) -> Any:
        """The session, made on first use (inside the running loop)."""
        if self._curl is None:
            from curl_cffi import CurlOpt
            from curl_cffi.requests import AsyncSession

            self._curl = AsyncSession(
                impersonate="chrome",
                max_clients=10_000,
                curl_options={CurlOpt.UPLOAD_BUFFERSIZE: 16 * 1024},
            )
        return self._curl

    async def get(self, url: str) -> bytes:
        return bytes((await self.curl.get(url, timeout=0)).content)

    async def post_json(self, url: str, payload: dict) -> bytes:
        return bytes((await self.curl.post(url, json=payload, timeout=0)).content)

    async def aclose(self) -> None:
        if self._curl is not None:
            curl, self._curl = self._curl, None
            await curl.close()


async def _one_job(root: str, protocol: str, output: str, data: list) -> None:
    client = FloorClient(root)
    try:
        await client.discover()
        image = await client.download(await client.image_url(protocol, data))
    finally:
        await client.aclose()
    with open(output, "wb") as file:
        file.write(image)


if __name__ == "__main__":
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(description="One generation, the least a client can do.")
    parser.add_argument("root")
    parser.add_argument("prompt", nargs="?", default="a floor")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--protocol", choices=("call", "queue"), default="call")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()
    # The Space's own argument order: prompt, seed, randomize_seed, width, height, steps.
    asyncio.run(
        _one_job(
            args.root, args.protocol, args.output, [args.prompt, 0, True, args.size, args.size, args.steps]
        )
    )
