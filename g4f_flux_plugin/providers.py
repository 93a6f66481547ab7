"""g4f provider classes: thin declarations of the Space on top of the client.

Everything that talks to the Space lives in :mod:`._gradio`; this module
translates g4f's calling convention (``model``, ``messages``, keyword
arguments) into a normalised request, enforces the deadline, and turns the
client's items into g4f response types.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from functools import partial
from typing import Any, AsyncIterator, Callable

from g4f.errors import ModelNotFoundError
from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin
from g4f.providers.helper import format_media_prompt
from g4f.providers.response import ImageResponse, Reasoning

from ._errors import SpaceProtocolError, SpaceTimeoutError
from ._events import GeneratedImage, ProgressEvent
from ._gradio import SpaceClient
from ._http import HttpClient, origin_of
from ._params import SPACE_LIMITS, ImageRequest, normalise, parse_size
from ._transports import Timeouts, Transport, make_transport

__all__ = ["BlackForestLabs_Flux1Schnell", "FluxImageResponse", "FluxProgress"]

URL_ENV = "G4F_FLUX_SCHNELL_URL"
TOKEN_ENV = "HF_TOKEN"


class FluxImageResponse(ImageResponse):
    """g4f's :class:`ImageResponse` with ``.images``, as the original provider's
    callers use it (``if response and response.images: ...``)."""

    @property
    def images(self) -> list[str]:
        """The image URLs, as a list."""
        return self.get_list()


class FluxProgress(Reasoning):
    """A progress status (g4f's :class:`Reasoning`, which its GUI shows live).

    ``event`` is the structured :class:`ProgressEvent`; ``images`` is empty so
    ``if response.images`` loops skip it.
    """

    def __init__(self, event: ProgressEvent) -> None:
        super().__init__(status=event.describe())
        self.event = event

    @property
    def images(self) -> list[str]:
        """Always empty: a progress item carries no image."""
        return []


class BlackForestLabs_Flux1Schnell(AsyncGeneratorProvider, ProviderModelMixin):
    """FLUX.1-schnell through the Hugging Face Space ``black-forest-labs/FLUX.1-schnell``.

    Keyword arguments of :meth:`create_async_generator`: ``prompt`` (else the
    last user message), ``width``/``height`` (default 1024; rounded down to a
    multiple of 8 and kept in the Space's 256..2048), ``num_inference_steps``
    (1..50, default 4), ``seed`` (``None``: the Space picks one),
    ``randomize_seed``, ``proxy``, ``api_key`` (else ``$HF_TOKEN``), ``api_base``
    (else ``$G4F_FLUX_SCHNELL_URL``, else the public Space), ``transport``
    (``"aiohttp"``, ``"curl_cffi"`` or a :class:`Transport`; else
    ``$G4F_FLUX_TRANSPORT``), ``timeout`` (seconds for the whole generation,
    default 300), ``protocol`` (``"auto"``, ``"queue"`` or ``"call"``) and
    ``progress_callback`` (called with each :class:`ProgressEvent`).
    """

    label = "Black Forest Labs FLUX.1-schnell"
    url = "https://black-forest-labs-flux-1-schnell.hf.space"
    working = True
    needs_auth = False
    active_by_default = True

    default_model = "black-forest-labs-flux-1-schnell"
    default_image_model = default_model
    model_aliases = {"flux-schnell": default_model, "flux": default_model}
    image_models = [default_model, *model_aliases]
    models = image_models

    #: Seconds for a whole generation: ZeroGPU queues take minutes when busy.
    default_timeout = 300.0

    @classmethod
    def space_root(cls, api_base: str | None = None) -> str:
        """The Space root used: ``api_base``, else ``$G4F_FLUX_SCHNELL_URL``, else :attr:`url`."""
        root = (api_base or os.environ.get(URL_ENV) or cls.url).strip().rstrip("/")
        try:
            origin_of(root)
        except SpaceProtocolError:
            raise ValueError(f"api_base must be an http(s) URL, not {root!r}") from None
        return root

    @classmethod
    def check_model(cls, model: str | None) -> str:
        """The model to use, or ``ModelNotFoundError`` for one this Space does not serve."""
        if not model or model == "auto":
            return cls.default_model
        if model in cls.model_aliases:
            return cls.model_aliases[model]
        if model == cls.default_model:
            return model
        raise ModelNotFoundError(
            f"{cls.__name__} serves only {cls.default_model!r} (aliases: "
            f"{', '.join(cls.model_aliases)}), not {model!r}"
        )

    @classmethod
    async def create_async_generator(
        cls,
        model: str,
        messages: list | None,
        *,
        prompt: str | None = None,
        width: int | None = None,
        height: int | None = None,
        num_inference_steps: int | None = None,
        seed: int | None = None,
        randomize_seed: bool | None = None,
        proxy: str | None = None,
        api_key: str | None = None,
        api_base: str | None = None,
        transport: "str | Transport | None" = None,
        timeout: float | None = None,
        protocol: str = "auto",
        progress_callback: Callable[[ProgressEvent], Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Generate one image; yield :class:`FluxProgress` items, then one
        :class:`FluxImageResponse` whose ``options`` hold the seed the Space used."""
        # Everything is checked before the first request.
        model = cls.check_model(model)
        if prompt is None and not messages:
            raise ValueError("a prompt is needed: pass prompt= or a user message")
        text = format_media_prompt(messages, prompt)
        if width is None and height is None and kwargs.get("size"):
            width, height = parse_size(kwargs["size"]) or (None, None)
        build = partial(normalise, text, width, height, num_inference_steps, seed, randomize_seed)
        build(limits=SPACE_LIMITS)
        root = cls.space_root(api_base)
        budget = cls.default_timeout if timeout is None else float(timeout)
        if not budget > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        chosen, owned = make_transport(transport, proxy=proxy, timeouts=Timeouts())
        token = api_key or os.environ.get(TOKEN_ENV) or None

        deadline = asyncio.get_running_loop().time() + budget
        client = SpaceClient(HttpClient(chosen, root, token), protocol=protocol, deadline=deadline)
        job = client.generate(lambda limits: build(limits=limits))
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        item = await anext(job)
                except StopAsyncIteration:
                    raise SpaceProtocolError("the generation ended without an image") from None
                except TimeoutError as error:
                    raise SpaceTimeoutError(f"no image from {root} within {budget:g} s") from error
                if isinstance(item, GeneratedImage):
                    yield _image_response(item, model)
                    return
                if progress_callback is not None:
                    outcome = progress_callback(item)
                    if inspect.isawaitable(outcome):
                        await outcome
                yield FluxProgress(item)
        finally:
            # Closing the job cancels it on the Space if it has not ended.
            await job.aclose()
            if owned:
                await chosen.aclose()


def _image_response(image: GeneratedImage, model: str) -> FluxImageResponse:
    request: ImageRequest = image.request
    return FluxImageResponse(
        [image.url],
        request.prompt,
        {
            "seed": image.seed,
            "width": request.width,
            "height": request.height,
            "num_inference_steps": request.steps,
            "randomize_seed": request.randomize_seed,
            "model": model,
        },
    )


