"""g4f provider classes: thin declarations of the Space on top of the client.

Everything that talks to the Space is the client's (:class:`~._client.FluxClient`,
which knows nothing of g4f); this module translates g4f's calling convention
(``model``, ``messages``, ``n``, ``size``, ``aspect_ratio`` and the other
keywords) into requests, turns the client's items into g4f response types,
and raises the client's errors as their g4f twins (:mod:`._g4f_errors`).
"""

from __future__ import annotations

import inspect
import logging
import random
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from functools import partial
from typing import Any, ClassVar

from g4f.errors import ModelNotFoundError
from g4f.providers.base_provider import AsyncGeneratorProvider, ProviderModelMixin
from g4f.providers.helper import format_media_prompt
from g4f.providers.response import ImageResponse, Reasoning

from ._client import DEFAULT_TIMEOUT, FluxClient, space_root
from ._config import MODEL_NAME, PUBLIC_SPACE_URL, ConfigCache
from ._errors import QuotaExceededError, SpaceProtocolError
from ._events import GeneratedImage, ProgressEvent
from ._g4f_errors import raising_g4f_errors
from ._http import choose_token
from ._memory import QuotaStatus, SpaceMemory
from ._params import (
    ASPECT_RATIOS,
    SPACE_LIMITS,
    ImageRequest,
    Limits,
    check_count,
    choose_size,
    normalise,
    plan_seeds,
)
from ._retry import RetryPolicy
from ._spaces import SpaceRef, SpaceSpec, space_refs
from ._token import saved_token
from ._transports import Transport

__all__ = ["BlackForestLabs_Flux1Schnell", "FluxDone", "FluxImageResponse", "FluxProgress"]

log = logging.getLogger(__package__)


class FluxImageResponse(ImageResponse):
    """g4f's :class:`ImageResponse` with ``.images``, as the original provider's
    callers use it (``if response and response.images: ...``)."""

    @property
    def images(self) -> list[str]:
        """The image URLs, as a list."""
        urls: list[str] = self.get_list()  # g4f's untyped ImageResponse
        return urls


class FluxProgress(Reasoning):
    """A progress status (g4f's :class:`Reasoning`, which its GUI shows live).

    ``event`` is the structured :class:`ProgressEvent`; ``images`` is empty so
    ``if response.images`` loops skip it. When several images are made at
    once, ``image_number`` (1-based) of ``image_count`` says which one the
    event is about, and so does the status ("Image 2 of 3: Step 1 of 4").
    """

    def __init__(self, event: ProgressEvent, image_number: int = 1, image_count: int = 1) -> None:
        super().__init__(status=event.describe(image_number, image_count))
        self.event = event
        self.image_number = image_number
        self.image_count = image_count

    @property
    def images(self) -> list[str]:
        """Always empty: a progress item carries no image."""
        return []


class FluxDone(Reasoning):
    """The last status of a generation, yielded right before the image item.

    g4f's GUI shows, above the image, the last status it was sent; without
    this one that is the last step's ("Step 4 of 4", "Generating"), as if the
    image were still coming. It comes before the image, not after, so the
    image stays the last item (what every caller that stops at the image,
    or takes the last item, relies on) and nothing follows a ``break``.
    ``seeds`` are the seeds of the images that follow. Not a
    :class:`FluxProgress`: it reports no event of the Space, and
    ``progress_callback`` does not see it. ``images`` is empty.
    """

    def __init__(self, seeds: list[int | None], failed: list[dict[str, Any]] | None = None) -> None:
        super().__init__(status=_done_text(seeds, failed or []))
        self.seeds = list(seeds)

    @property
    def images(self) -> list[str]:
        """Always empty: the images are in the item that follows."""
        return []


def _done_text(seeds: list[int | None], failed: list[dict[str, Any]]) -> str:
    def listed(values: list[Any]) -> str:
        return ", ".join(str(value) for value in values)

    if len(seeds) == 1 and not failed:
        return "Done" if seeds[0] is None else f"Done: seed {seeds[0]}"
    text = (
        f"Done: {len(seeds)} of {len(seeds) + len(failed)} images" if failed else f"Done: {len(seeds)} images"
    )
    text += f", seeds {listed(seeds)}"
    if failed:
        text += f" (failed: seed {listed([entry['seed'] for entry in failed])})"
    return text


class BlackForestLabs_Flux1Schnell(AsyncGeneratorProvider, ProviderModelMixin):
    """FLUX.1-schnell through the Hugging Face Space ``black-forest-labs/FLUX.1-schnell``.

    Keyword arguments of :meth:`create_async_generator`: ``prompt`` (else the
    last user message), ``width``/``height`` (default 1024; rounded down to a
    multiple of 8 and kept in the Space's 256..2048), ``num_inference_steps``
    (1..50, default 4), ``seed`` (``None``: the Space picks one),
    ``randomize_seed``, ``proxy``, ``api_key`` (else ``$HF_TOKEN``, else the
    token ``hf auth login`` saved), ``space`` (an id ``"owner/name"``, a root
    URL, or a list of them tried in order; ``api_base`` is its alias; else
    ``$G4F_FLUX_SCHNELL_URL``, else the public Space), ``transport``
    (none: the event loop's shared connections, of the kind
    ``$G4F_FLUX_TRANSPORT`` names, else aiohttp; ``"aiohttp"`` or
    ``"curl_cffi"``: connections of this call only; or a :class:`Transport`,
    the caller's), ``timeout`` (seconds for the whole generation,
    default 300), ``protocol`` (``"auto"``, ``"queue"`` or ``"call"``) and
    ``progress_callback`` (called with each :class:`ProgressEvent`).

    g4f's image API: ``n`` (1..4 images, each its own job on the Space, run
    concurrently; seeds ``s, s+1, ...`` from a given seed ``s``, wrapping past
    the Space's maximum to 0, else distinct random seeds), ``size="WxH"`` and
    ``aspect_ratio`` (``"16:9"``: the size g4f's own ``get_width_height``
    gives; used when neither width nor height nor size is given).
    """

    label = "Black Forest Labs FLUX.1-schnell"
    url = PUBLIC_SPACE_URL
    working = True
    needs_auth = False
    active_by_default = True

    default_model = MODEL_NAME
    default_image_model = default_model
    model_aliases: ClassVar[dict[str, str]] = {"flux-schnell": default_model, "flux": default_model}
    image_models: ClassVar[list[str]] = [default_model, *model_aliases]
    models = image_models

    #: Seconds for a whole generation: ZeroGPU queues take minutes when busy.
    default_timeout = DEFAULT_TIMEOUT
    #: Retries of each generation; tests and subclasses set their own.
    retry_policy = RetryPolicy(wake=True)
    #: The Space's discovered config, per root, kept across generations.
    config_cache = ConfigCache()
    #: What is remembered of Spaces: a ZeroGPU quota, per root and token, until
    #: its wait passes (no request is spent on it meanwhile). Set
    #: ``SpaceMemory(remember_quotas=False)`` to ask the Space every time.
    space_memory = SpaceMemory()

    @classmethod
    def space_root(cls, api_base: str | None = None) -> str:
        """The Space root used: ``api_base``, else ``$G4F_FLUX_SCHNELL_URL``, else :attr:`url`."""
        return space_root(api_base, default=cls.url)

    @classmethod
    def spaces(cls, space: SpaceSpec | None = None, api_base: str | None = None) -> tuple[SpaceRef, ...]:
        """The Spaces tried, in order: ``space``, else :meth:`space_root`'s
        URL (a subclass may pin one there), else ids or a list from
        ``api_base`` or ``$G4F_FLUX_SCHNELL_URL``, else :attr:`url`."""
        if space is None:
            try:
                return space_refs(cls.space_root(api_base))
            except ValueError:  # an id or a list, not one URL: read below
                pass
        return space_refs(space, api_base, default=cls.url)

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
    async def get_quota(cls, api_key: str | None = None, **kwargs: Any) -> QuotaStatus:
        """g4f's quota hook (``g4f api``'s ``/v1/quota/<provider>`` and the GUI's
        ``/backend-api/v2/quota/<provider>``): what is known of the caller's
        ZeroGPU quota on the Space, without a request.

        ``api_key`` (else ``$HF_TOKEN``, else the saved token) and ``space``
        or ``api_base`` (in ``kwargs``; of a list, the first Space) pick the
        caller and the Space as a generation would. The answer:
        ``space`` (the root), ``available`` (``False`` while a quota the
        Space named runs), ``retry_after`` (its seconds left, else ``None``),
        ``tier`` (``"anonymous"``, ``"free"``, ``"pro"`` or ``None``) and
        ``message`` (the Space's words, else ``None``).
        """
        first = cls.spaces(kwargs.get("space"), kwargs.get("api_base"))[0]
        root = first.root or first.label  # an id not resolved yet: nothing is known of it
        token = choose_token(root, api_key, saved_token()) if first.root else (api_key or saved_token())
        return cls.space_memory.quota_status(root, token)

    @classmethod
    @raising_g4f_errors  # the client's errors, seen as g4f's (see _g4f_errors)
    async def create_async_generator(
        cls,
        model: str,
        messages: list[dict[str, Any]] | None,
        *,
        prompt: str | None = None,
        width: int | None = None,
        height: int | None = None,
        num_inference_steps: int | None = None,
        seed: int | None = None,
        randomize_seed: bool | None = None,
        n: int | None = None,
        aspect_ratio: str | None = None,
        proxy: str | None = None,
        api_key: str | None = None,
        api_base: str | None = None,
        space: SpaceSpec | None = None,
        transport: str | Transport | None = None,
        timeout: float | None = None,
        protocol: str = "auto",
        progress_callback: Callable[[ProgressEvent], Any] | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[Any, None]:
        """Generate ``n`` images (default 1); yield :class:`FluxProgress` items,
        then a :class:`FluxDone` status, then one :class:`FluxImageResponse`
        with every URL, in seed order.

        Its ``options`` hold ``seed`` (the first image's, as the Space used
        it), ``seeds`` (each image's), ``failed`` (``[{"seed", "error"}]``: the
        images that failed when others did not), the size and steps as sent,
        ``randomize_seed``, ``model``, and ``space`` (the Space that made the
        first image: its id, else its root URL; ``spaces``: each image's).
        When every image fails, the error of a single generation is raised,
        a quota error first.
        """
        # Everything is checked before the first request.
        model = cls.check_model(model)
        count = check_count(n)
        if prompt is None and not messages:
            raise ValueError("a prompt is needed: pass prompt= or a user message")
        text = format_media_prompt(messages, prompt)
        asked_width, asked_height = choose_size(
            width, height, kwargs.get("size"), aspect_ratio, _aspect_ratio_size, tuple(ASPECT_RATIOS)
        )
        # Keywords, so that each of several jobs can override seed and randomize_seed.
        build = partial(
            normalise,
            text,
            width=asked_width,
            height=asked_height,
            steps=num_inference_steps,
            seed=seed,
            randomize_seed=randomize_seed,
        )
        build(limits=SPACE_LIMITS)
        spaces = cls.spaces(space, api_base)
        budget = cls.default_timeout if timeout is None else timeout
        # The client checks the timeout, the protocol and the token (sent as
        # X-HF-Authorization, never over plain http to another machine: an
        # explicit api_key there is a ValueError) before any request.
        flux = FluxClient(
            space=spaces,
            token=api_key,
            transport=transport,
            proxy=proxy,
            protocol=protocol,
            timeout=budget,
            retry_policy=cls.retry_policy,
            config_cache=cls.config_cache,
            space_memory=cls.space_memory,
        )
        requests = _job_requests(count, build)
        images: dict[int, GeneratedImage] = {}
        failures: dict[int, BaseException] = {}
        try:
            # aclosing: stopping early cancels on the Space every job not yet ended.
            async with aclosing(flux.run(requests)) as stream:
                async for index, item in stream:
                    if isinstance(item, GeneratedImage):
                        images[index] = item
                    elif isinstance(item, BaseException):
                        if not isinstance(item, Exception):
                            raise item  # KeyboardInterrupt and the like: not a job's failure
                        failures[index] = item
                    else:
                        if progress_callback is not None:
                            outcome = progress_callback(item)
                            if inspect.isawaitable(outcome):
                                await outcome
                        yield FluxProgress(item, index + 1, count)
            if not images:
                raise _first_failure(failures, requests)
            failed = _report_failures(failures, requests, count)
            found = [images[i] for i in sorted(images)]
            yield FluxDone([image.seed for image in found], failed)
            yield _image_response(found, model, failed)
        finally:
            await flux.aclose()


# One for every plan: SystemRandom keeps no state of its own (it reads the
# system's source), but each instance still carries the Mersenne Twister's
# 2.5 KiB, which a thousand waiting generations would each hold.
_SYSTEM_RANDOM = random.SystemRandom()


class _SeedPlan:
    """The seeds of ``count`` images, planned once per set of Space limits, so
    that all jobs agree (random seeds are drawn once) whichever job learns the
    Space's ``/config`` first."""

    def __init__(self, count: int, build: Callable[..., ImageRequest]) -> None:
        self.count = count
        self.build = build
        self.rng = _SYSTEM_RANDOM
        self.plans: dict[Limits, list[int | None]] = {}
        self.latest: list[int | None] | None = None

    def __call__(self, limits: Limits) -> list[int | None]:
        if limits not in self.plans:
            # The base request checks the seed against the Space's own range
            # and applies the single-image rules (no seed and no randomising: 0).
            base = self.build(limits=limits)
            self.plans[limits] = plan_seeds(self.count, base.seed, base.randomize_seed, limits, self.rng)
        self.latest = self.plans[limits]
        return self.latest

    def seed_of(self, index: int) -> int | None:
        """The seed job ``index`` was (or would have been) sent with."""
        return (self.latest or self(SPACE_LIMITS))[index]


class _JobRequest:
    """Job ``index``'s request, as a function of the Space's limits."""

    def __init__(self, index: int, plan: _SeedPlan) -> None:
        self.index = index
        self.plan = plan

    def __call__(self, limits: Limits) -> ImageRequest:
        if self.plan.count == 1:
            return self.plan.build(limits=limits)  # exactly the single-image request
        # Several images: the seed is chosen here (see plan_seeds), so the
        # Space must not randomise it again.
        seed = self.plan(limits)[self.index]
        return self.plan.build(seed=seed, randomize_seed=False, limits=limits)


def _job_requests(count: int, build: Callable[..., ImageRequest]) -> list[_JobRequest]:
    plan = _SeedPlan(count, build)
    return [_JobRequest(index, plan) for index in range(count)]


def _aspect_ratio_size(name: str) -> tuple[int, int] | None:
    """The size g4f gives a named aspect ratio (``g4f.image.get_width_height``),
    else the plugin's copy of g4f 8.8.6's table, for a g4f without the helper
    or one that does not know the name."""
    try:
        from g4f.image import get_width_height

        width, height = get_width_height(name)
    except Exception:  # missing, or another signature: the table stands in
        width = height = None
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    return ASPECT_RATIOS.get(name)


def _first_failure(failures: dict[int, BaseException], requests: list[_JobRequest]) -> BaseException:
    """What a single generation would raise: a quota error first (so g4f's
    fallback chains move on to another provider), else the first image's."""
    order = sorted(failures, key=lambda i: (not isinstance(failures[i], QuotaExceededError), i))
    error = failures[order[0]]
    if len(failures) > 1:
        for i in order[1:]:
            error.add_note(
                f"image {i + 1} (seed {requests[i].plan.seed_of(i)}) failed too: "
                f"{type(failures[i]).__name__}: {failures[i]}"
            )
    return error


def _report_failures(
    failures: dict[int, BaseException], requests: list[_JobRequest], count: int
) -> list[dict[str, Any]]:
    failed: list[dict[str, Any]] = []
    for i in sorted(failures):
        seed = requests[i].plan.seed_of(i)
        error = f"{type(failures[i]).__name__}: {failures[i]}"
        log.warning("image %d of %d (seed %s) failed, the others are returned: %s", i + 1, count, seed, error)
        failed.append({"seed": seed, "error": error})
    return failed


def _image_response(
    images: list[GeneratedImage], model: str, failed: list[dict[str, Any]]
) -> FluxImageResponse:
    request = images[0].request
    if request is None:  # the client sets it on every image it yields
        raise SpaceProtocolError("the Space's image came without the request it was made from")
    return FluxImageResponse(
        [image.url for image in images],
        request.prompt,
        {
            "seed": images[0].seed,
            "seeds": [image.seed for image in images],
            "failed": failed,
            "width": request.width,
            "height": request.height,
            "num_inference_steps": request.steps,
            "randomize_seed": request.randomize_seed,
            "model": model,
            # Which Space made them (of a list, the first that could): its id, else its root.
            "space": images[0].space,
            "spaces": [image.space for image in images],
        },
    )
