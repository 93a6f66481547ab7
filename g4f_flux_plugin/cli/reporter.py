"""The terminal: results on stdout (a line or a JSON object per image),
progress, notes and errors on stderr, and ``--quiet``.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from .arguments import PROG

if TYPE_CHECKING:
    from .._events import ProgressEvent
    from .planning import Job

__all__ = ["Reporter", "ReporterHandler", "describe"]


class Reporter:
    """Writes results to stdout and progress, notes and errors to stderr.

    Progress is one line rewritten in place with ``\\r``, and only when stderr
    is a terminal and ``--quiet`` is off: piped output gets results only.
    """

    def __init__(self, *, quiet: bool, as_json: bool, total: int) -> None:
        self.live = not quiet and _isatty(sys.stderr)
        self.quiet = quiet
        self.as_json = as_json
        self.total = total
        self.finished = 0
        self._shown = 0  # width of the progress line on screen
        self._warned: set[str] = set()

    def progress(self, job: Job, status: str) -> None:
        """Show ``status`` for ``job`` on the progress line."""
        if not self.live:
            return
        prefix = f"[{self.finished + 1}/{self.total}] " if self.total > 1 else ""
        text = f"{prefix}{job.label}: {status}"
        import shutil

        width = shutil.get_terminal_size((80, 24)).columns - 1
        if len(text) > width:  # a wrapped line cannot be rewritten with \r
            text = text[: max(0, width - 1)] + "…"
        pad = max(0, self._shown - len(text))
        sys.stderr.write("\r" + text + " " * pad)
        sys.stderr.flush()
        self._shown = len(text)

    def clear(self) -> None:
        """Erase the progress line (before printing anything else)."""
        if self._shown:
            sys.stderr.write("\r" + " " * self._shown + "\r")
            sys.stderr.flush()
            self._shown = 0

    def result(self, record: dict) -> None:
        """Print one written image: its path and seed, or a JSON line."""
        import json

        self.finished += 1
        self.clear()
        if self.as_json:
            line = json.dumps(record, ensure_ascii=False)
        else:
            line = f"{record['path']} (seed {record['seed']})"
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """Information for a person at a terminal only."""
        if self.live:
            self.clear()
            sys.stderr.write(f"{PROG}: {text}\n")

    def warn(self, text: str) -> None:
        """Something went half-wrong; the run goes on."""
        if not self.quiet:
            self.clear()
            sys.stderr.write(f"{PROG}: warning: {text}\n")

    def warn_once(self, key: str, text: str) -> None:
        """:meth:`warn`, once per ``key`` in a run (a batch repeats the same cause)."""
        if key not in self._warned:
            self._warned.add(key)
            self.warn(text)

    def alert(self, text: str) -> None:
        """A warning the user must see even with ``--quiet`` (once per text in a
        run): something they chose did not take effect, such as their token."""
        if text not in self._warned:
            self._warned.add(text)
            self.clear()
            sys.stderr.write(f"{PROG}: warning: {text}\n")
            sys.stderr.flush()

    def error(self, text: str) -> None:
        """The one line that explains a failure."""
        self.clear()
        sys.stderr.write(f"{PROG}: error: {text}\n")
        sys.stderr.flush()


class ReporterHandler(logging.Handler):
    """Sends the client's WARNING records to :meth:`Reporter.alert`: the
    client warns on its logger (the Space did not accept the token, say), and
    the command line shows it on stderr, ``--quiet`` or not, in its own format
    (and Python's last-resort handler does not print it a second time)."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.reporter.alert(record.getMessage())
        except Exception:  # a broken stderr must not break the generation
            self.handleError(record)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def describe(event: ProgressEvent) -> str:
    """A short status for a :class:`~g4f_flux_plugin._events.ProgressEvent`."""
    if event.kind == "queued":
        # The event's own sentence (it leaves out Gradio's 0 s estimate for an
        # empty queue), lower-cased to fit after the job's label.
        sentence = event.describe()
        return sentence[:1].lower() + sentence[1:]
    if event.kind == "log" and event.message and "waiting for a gpu" in event.message.lower():
        return "waiting for a GPU"
    if event.kind == "started":
        return "running"
    if event.kind == "step":
        return f"step {event.index} of {event.length}"
    if event.kind == "submitted":
        return "submitted"
    return event.describe()
