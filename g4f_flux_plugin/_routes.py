"""Model routes: a model name that tries a provider first, then g4f's own route.

:func:`route_model` makes a model name try a provider first, in
front of whatever g4f would have used for it: it registers a (new or copied)
``Model`` in g4f's ``ModelRegistry`` (its constructor does that),
``ModelUtils.convert`` (what ``g4f.client`` reads) and the two listings of
``g4f.models`` (``__models__``, ``_all_models``).  AnyProvider's static model
map is not touched.

The ``flux`` model of g4f is deliberately left alone: its chain spreads
requests over several FLUX.1-dev class services, and putting a FLUX.1-schnell
Space with a small anonymous GPU quota in front of all of them would change
what every ``model="flux"`` user gets.  ``model="flux-schnell"`` (which g4f
did not know) is routed to the plugin; ``route_model("flux", ...)`` is one
call for whoever wants more.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._registry import ProviderRegistry

logger = logging.getLogger(__package__)

#: A provider as g4f takes it: a class, or a registered name (g4f is untyped).
Provider = type | str

# The image provider g4f.client falls back to when neither a provider nor a
# known model is given (Images.async_generate in g4f 8.8.6): the end of every
# chain this module builds for a model g4f does not know.
G4F_DEFAULT_IMAGE_PROVIDER = "PollinationsImage"

# Models this package routes to its own provider first, when that provider is
# registered: model name -> (provider name, base_provider of the model).
MODEL_ROUTES: dict[str, tuple[str, str]] = {
    "flux-schnell": ("BlackForestLabs_Flux1Schnell", "Black Forest Labs")
}


def route_model(
    model_name: str,
    provider: Provider,
    *,
    fallback: Provider | None = None,
    base_provider: str | None = None,
) -> Any:
    """Make ``model_name`` try ``provider`` first, then g4f's own route.

    ``provider`` is a class or a registered provider name.  The model's
    ``best_provider`` becomes an unshuffled ``IterListProvider``: ``provider``
    and then what g4f would have used for the model before, which is the
    model's previous chain if g4f has the model, else a provider named like
    the model, else ``fallback`` (by default g4f's default image provider).
    A model g4f does not know is added as an ``ImageModel`` whose
    ``base_provider`` (the model's vendor) is ``base_provider``.  Returns the
    model object now registered.
    """
    from g4f.models import ImageModel
    from g4f.providers.retry_provider import IterListProvider

    existing = _known_model(model_name)
    previous = _previous_route(model_name, existing, fallback)
    chain = [provider, *(p for p in previous if not _same_provider(p, provider))]
    best = IterListProvider(chain, shuffle=False)  # ours first: never shuffle
    if existing is None:
        vendor = base_provider or _provider_name(provider)
        model = ImageModel(name=model_name, base_provider=vendor, best_provider=best)
    else:
        # A copy rather than a change to g4f's object; the constructor puts the
        # copy into g4f's ModelRegistry in place of the original.
        model = dataclasses.replace(existing, best_provider=best)
    _publish_model(model_name, model, chain)
    return model


def route_own_models(registry: ProviderRegistry) -> None:
    """Route each of :data:`MODEL_ROUTES` to its provider, if ``registry`` has it."""
    registered, pending = registry.registered(), registry.pending()
    for model_name, (provider_name, vendor) in MODEL_ROUTES.items():
        provider: Provider | None = registered.get(provider_name)
        if provider is None and provider_name in pending:
            provider = provider_name  # IterListProvider resolves names lazily
        if provider is None:
            continue  # blocked, broken or uninstalled: g4f's own route stays
        try:
            route_model(model_name, provider, base_provider=vendor)
        except Exception:  # g4f's model registry may change: keep the providers
            logger.debug("could not route model %r to %s", model_name, provider_name, exc_info=True)


def _known_model(model_name: str) -> Any:  # a g4f Model, or None
    from g4f.models import ModelRegistry, ModelUtils

    return ModelUtils.convert.get(model_name) or ModelRegistry.get(model_name)


def _previous_route(model_name: str, existing: Any, fallback: Provider | None) -> list[Provider]:
    # Mirrors g4f.client's choice for a model without a provider:
    # the model's best_provider, else a provider of that name, else the default.
    if existing is not None and existing.best_provider is not None:
        best = existing.best_provider
        return list(best.providers) if hasattr(best, "providers") else [best]
    from g4f.Provider import ProviderUtils

    named = ProviderUtils.convert.get(model_name)
    if named is not None:
        return [named]
    return [fallback or G4F_DEFAULT_IMAGE_PROVIDER]


def _publish_model(model_name: str, model: Any, chain: list[Provider]) -> None:
    import g4f.models as models

    models.ModelUtils.convert[model_name] = model
    # Listings (AnyProvider's model map, Model.__all__()) read these two.
    listed = getattr(models, "__models__", None)
    if isinstance(listed, dict):
        listed[model_name] = (model, chain)
    names = getattr(models, "_all_models", None)
    if isinstance(names, list) and model_name not in names:
        names.append(model_name)


def _same_provider(a: Provider, b: Provider) -> bool:
    return a is b or _provider_name(a) == _provider_name(b)


def _provider_name(p: Provider) -> str:
    return p if isinstance(p, str) else getattr(p, "__name__", repr(p))
