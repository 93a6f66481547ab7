"""The ``infer`` layouts the replica can serve (``replica.py --layout NAME``).

A layout is the list of ``infer``'s input components, in the order the
endpoint declares them, and an ``infer`` whose parameter names match (Gradio
reports those names in ``/info``; named-parameter clients rely on them):

``public``     the Space FLUX.1-schnell: ``prompt, seed, randomize_seed,
               width, height, num_inference_steps`` (4 steps by default)
``dev``        FLUX.1-dev's: ``guidance_scale`` (1..15, 3.5) between
               ``height`` and ``num_inference_steps``, 28 steps by default
``reordered``  the same inputs in another order with the same component
               types (textbox, slider, checkbox, slider, slider, slider),
               so only the labels and names tell them apart; its steps
               parameter is named ``steps``

Every layout's ``infer`` calls the replica's one job function (``core``)
with the values by name, plus ``extra``: the inputs the public Space does
not have (``guidance_scale``), which the job record keeps.

No ``from __future__ import annotations`` here: Gradio 4 resolves ``infer``'s
hints at start-up, and ``gr`` is a local name.
"""

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

LAYOUTS = ("public", "dev", "reordered")

MAX_SEED = 2147483647
MAX_IMAGE_SIZE = 2048

#: What a layout's infer calls: (prompt, seed, randomize_seed, width, height,
#: steps, request=, extra=) -> (image, seed).
Core = Callable[..., Awaitable[Any]]


def build_inputs(gr: Any, layout: str) -> dict[str, Any]:
    """Create the components of ``layout``'s advanced settings (inside the
    caller's ``gr.Blocks``) and return them by parameter name, prompt excluded."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")

    def slider(label: str, minimum: float, maximum: float, step: float, value: float) -> Any:
        return gr.Slider(label=label, minimum=minimum, maximum=maximum, step=step, value=value)

    def size(label: str) -> Any:
        return slider(label, 256, MAX_IMAGE_SIZE, 32, 1024)

    made: dict[str, Any] = {}
    if layout == "reordered":
        made["width"] = size("Width")
        made["randomize_seed"] = gr.Checkbox(label="Randomize seed", value=True)
        made["seed"] = slider("Seed", 0, MAX_SEED, 1, 0)
        made["height"] = size("Height")
        made["steps"] = slider("Number of inference steps", 1, 50, 1, 4)
        return made
    made["seed"] = slider("Seed", 0, MAX_SEED, 1, 0)
    made["randomize_seed"] = gr.Checkbox(label="Randomize seed", value=True)
    with gr.Row():
        made["width"] = size("Width")
        made["height"] = size("Height")
    with gr.Row():
        if layout == "dev":
            made["guidance_scale"] = slider("Guidance Scale", 1, 15, 0.1, 3.5)
            made["num_inference_steps"] = slider("Number of inference steps", 1, 50, 1, 28)
        else:
            made["num_inference_steps"] = slider("Number of inference steps", 1, 50, 1, 4)
    return made


def build_infer(gr: Any, layout: str, core: Core) -> Callable[..., Awaitable[Any]]:
    """``layout``'s ``infer``: its parameters, in its order, forwarded to ``core``.

    Its parameter order is the order of :func:`build_inputs`' components
    (prompt first); :func:`input_order` reads it back from the signature.
    """
    progress = gr.Progress(track_tqdm=True)

    if layout == "dev":

        async def infer(
            prompt,
            seed=42,
            randomize_seed=False,
            width=1024,
            height=1024,
            guidance_scale=3.5,
            num_inference_steps=28,
            request: gr.Request = None,
            progress=progress,
        ):
            extra = {"guidance_scale": guidance_scale}
            return await core(
                prompt, seed, randomize_seed, width, height, num_inference_steps, request=request, extra=extra
            )

    elif layout == "reordered":

        async def infer(
            prompt,
            width=1024,
            randomize_seed=False,
            seed=42,
            height=1024,
            steps=4,
            request: gr.Request = None,
            progress=progress,
        ):
            return await core(prompt, seed, randomize_seed, width, height, steps, request=request, extra={})

    elif layout == "public":

        async def infer(
            prompt,
            seed=42,
            randomize_seed=False,
            width=1024,
            height=1024,
            num_inference_steps=4,
            request: gr.Request = None,
            progress=progress,
        ):
            return await core(
                prompt, seed, randomize_seed, width, height, num_inference_steps, request=request, extra={}
            )

    else:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    return infer


def input_order(infer: Callable[..., Any]) -> list[str]:
    """The names of ``infer``'s inputs, in order (``request``/``progress`` left out)."""
    return [name for name in inspect.signature(infer).parameters if name not in ("request", "progress")]
