"""What a generation reports while it runs, and what it ends with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._params import ImageRequest

__all__ = ["GeneratedImage", "ProgressEvent"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a job's life on the Space, for progress callbacks.

    ``kind`` is one of:

    - ``"submitted"``: the Space accepted the job (``event_id``);
    - ``"queued"``: waiting in the queue at ``rank`` (0 = next) of ``queue_size``,
      ``eta`` seconds estimated (``None`` when the Space has no estimate);
    - ``"started"``: the job runs (``eta`` as estimated);
    - ``"step"``: inference step ``index`` of ``length`` (1-based ``index``);
    - ``"log"``: a toast from the Space (``level``, ``title``, ``message``), such as
      ZeroGPU's "Waiting for a GPU to become available";
    - ``"retry"``: a failed attempt is being retried (``message`` says why,
      ``eta`` is the delay);
    - ``"space"``: news of the Space itself, in ``message``: which Space of a
      list is tried, or that it is waking up or starting (the Hub's stage
      in words), while the generation waits for it.
    """

    kind: str
    rank: int | None = None
    queue_size: int | None = None
    eta: float | None = None
    index: int | None = None
    length: int | None = None
    level: str | None = None
    title: str | None = None
    message: str | None = None
    event_id: str | None = None

    def describe(self, image: int | None = None, images: int = 1) -> str:
        """A short human sentence for this event.

        With ``images`` > 1 (several images asked for at once), it says which
        one it is about: ``"Image 2 of 3: Step 1 of 4"``; with one image the
        sentence is the same as ever.
        """
        sentence = self._sentence()
        if image is not None and images > 1:
            return f"Image {image} of {images}: {sentence}"
        return sentence

    def _sentence(self) -> str:
        if self.kind == "submitted":
            return "Submitted to the Space"
        if self.kind == "queued":
            if self.rank is not None:
                where = f"Queue position {self.rank + 1}" + (
                    f" of {self.queue_size}" if self.queue_size else ""
                )
            else:
                where = "Queued"  # a queue size alone: "Queued of 5" would say nothing more
            return where + self._about()
        if self.kind == "started":
            return "Generating" + self._about()
        if self.kind == "step":
            return f"Step {self.index} of {self.length}"
        if self.kind == "log":
            return f"{self.title}: {self.message}" if self.title else str(self.message)
        if self.kind == "retry":
            return f"Retrying in {self.eta or 0:.1f} s: {self.message}"
        if self.kind == "space":
            return str(self.message)
        return self.kind

    def _about(self) -> str:
        # Gradio estimates 0 s (or a fraction) for an empty queue or a job it
        # has no history for: "about 0 s" says nothing, so under a second
        # the estimate is left out.
        if self.eta is not None and self.eta >= 1:
            return f", about {self.eta:.0f} s"
        return ""


@dataclass(frozen=True)
class GeneratedImage:
    """The Space's result: where the image is, and the seed it really used."""

    url: str
    seed: int | None
    path: str | None = None
    mime_type: str | None = None
    event_id: str | None = None
    #: The request exactly as it was sent (after clamping to the Space's ranges).
    request: ImageRequest | None = field(default=None, compare=False)
    #: The Space that made it: its id (``owner/name``) when it is known,
    #: else its root URL.
    space: str | None = None
