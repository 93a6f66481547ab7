"""Samples summarised as medians and quantiles, ratios between them, and how numbers are printed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolation quantile (q in [0, 1]) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Dist:
    """A sample summarised as median, p10, p90 and its size."""

    values: list[float]

    @property
    def median(self) -> float:
        """The median (NaN for an empty sample)."""
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p10(self) -> float:
        """The 10th percentile (NaN for an empty sample)."""
        return quantile(self.values, 0.1) if self.values else float("nan")

    @property
    def p90(self) -> float:
        """The 90th percentile (NaN for an empty sample)."""
        return quantile(self.values, 0.9) if self.values else float("nan")

    def __len__(self) -> int:
        return len(self.values)


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or None when either is missing or NaN, or ``b`` is zero."""
    if a is None or b is None or b == 0 or a != a or b != b:
        return None
    return a / b


def paired_ratios(a: list[float], b: list[float]) -> Dist:
    """``a[i] / b[i]`` for each pair measured side by side (the same round):
    the machine's drift over a run cancels within a pair, not across medians."""
    return Dist([x / y for x, y in zip(a, b, strict=True) if y])


def fmt(value: float | None, digits: int = 1) -> str:
    """A number with thousands separators, or ``n/a`` for None and NaN."""
    if value is None or value != value:
        return "n/a"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    """A ratio as ``1.23x``, or ``n/a``."""
    return "n/a" if value is None else f"{value:.2f}x"
