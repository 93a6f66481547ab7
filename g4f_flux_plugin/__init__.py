"""FLUX.1-schnell through the public Hugging Face Space, as a g4f provider plugin.

Importing this package is cheap: the provider (and with it g4f and the HTTP
libraries) is imported on first access of :data:`BlackForestLabs_Flux1Schnell`,
so ``g4f-flux --help`` and the start-up hook stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["BlackForestLabs_Flux1Schnell", "__version__"]


def __getattr__(name: str):
    # PEP 562 lazy attribute: importing g4f costs about half a second.
    if name == "BlackForestLabs_Flux1Schnell":
        from .providers import BlackForestLabs_Flux1Schnell

        return BlackForestLabs_Flux1Schnell
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
