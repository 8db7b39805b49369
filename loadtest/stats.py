"""What one run of one scenario at one client count measured, merged across processes."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    """One generator process's raw counts, sent back to the parent as a dict.

    `ok_in_window`/`failed_in_window` count calls that ended inside the measured
    window; calls still in flight at its end are awaited (the drain) and their
    latencies kept; calls still unanswered after the drain are cancelled and
    counted as `cut`, with the time they had waited as a lower bound.
    """

    ok_in_window: int = 0
    failed_in_window: int = 0
    ok_total: int = 0
    failed_total: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    cut: array[float] = field(default_factory=lambda: array("d"))
    failures: Counter[str] = field(default_factory=Counter)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok_in_window": self.ok_in_window,
            "failed_in_window": self.failed_in_window,
            "ok_total": self.ok_total,
            "failed_total": self.failed_total,
            "latencies": self.latencies.tobytes(),
            "cut": self.cut.tobytes(),
            "failures": dict(self.failures),
            "extra": self.extra,
        }


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def merge(tallies: list[dict[str, Any]], window_s: float) -> dict[str, Any]:
    """The figures of one run: rates over the window, latency percentiles in ms."""
    latencies: list[float] = []
    cut: list[float] = []
    failures: Counter[str] = Counter()
    ok = failed = ok_total = failed_total = 0
    for tally in tallies:
        ok += tally["ok_in_window"]
        failed += tally["failed_in_window"]
        ok_total += tally["ok_total"]
        failed_total += tally["failed_total"]
        latencies.extend(array("d", tally["latencies"]))
        cut.extend(array("d", tally["cut"]))
        failures.update(tally["failures"])
    # Cut calls waited at least this long: they count in the percentiles as lower
    # bounds, and the figures are then marked as such (`latency_lower_bound`).
    ordered = sorted(latencies + cut)
    attempted = ok_total + failed_total + len(cut)
    return {
        "requests_per_s": ok / window_s if window_s > 0 else math.nan,
        "failures_per_s": failed / window_s if window_s > 0 else math.nan,
        "ok": ok_total,
        "failed": failed_total,
        "cut": len(cut),
        "success_rate": ok_total / attempted if attempted else math.nan,
        "p50_ms": percentile(ordered, 50) * 1000,
        "p95_ms": percentile(ordered, 95) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else math.nan,
        "latency_lower_bound": bool(cut),
        "failure_codes": dict(failures),
        "window_s": window_s,
    }
