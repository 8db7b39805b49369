"""The functions a consensus formula may call, with their arities.

Each implementation takes finite floats and returns a float, or raises
ValueError (a domain error: the log of zero) or OverflowError; the evaluator
turns both into an EvaluationError that says where in the formula it happened.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

# round(x, digits) gives x itself beyond this many digits and 0 below its
# negative, so larger magnitudes are clamped rather than refused.
_ROUND_DIGITS_LIMIT = 400


@dataclass(frozen=True)
class Function:
    """A formula function: its name, how many arguments it takes, its implementation."""

    name: str
    min_args: int
    max_args: int | None  # None: any number from min_args up
    impl: Callable[..., float]
    pairs: bool = False  # arguments come in (value, weight) pairs

    def arity_problem(self, count: int) -> str | None:
        """Why `count` arguments do not fit this function, or None when they do."""
        if self.pairs and (count < 2 or count % 2):
            return f"{self.name} takes (value, weight) pairs, got {_arguments(count)}"
        if self.max_args is None:
            if count < self.min_args:
                return f"{self.name} takes at least {_arguments(self.min_args)}, got {count}"
            return None
        if self.min_args <= count <= self.max_args:
            return None
        if self.min_args == self.max_args:
            expected = _arguments(self.min_args)
        else:
            expected = f"{self.min_args} or {_arguments(self.max_args)}"
        return f"{self.name} takes {expected}, got {count}"


def _arguments(count: int) -> str:
    return f"{count} argument" if count == 1 else f"{count} arguments"


def _sqrt(x: float) -> float:
    if x < 0:
        raise ValueError(f"sqrt of a negative number ({x!r})")
    return math.sqrt(x)


def _log(x: float, base: float | None = None) -> float:
    if x <= 0:
        raise ValueError(f"log of a non-positive number ({x!r})")
    if base is None:
        return math.log(x)
    if base <= 0 or base == 1:
        raise ValueError(f"log base must be positive and not 1, got {base!r}")
    return math.log(x) / math.log(base)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp({x!r}) overflows") from None


def _round(x: float, digits: float = 0.0) -> float:
    if digits != math.floor(digits):
        raise ValueError(f"round digits must be a whole number, got {digits!r}")
    ndigits = int(max(-_ROUND_DIGITS_LIMIT, min(_ROUND_DIGITS_LIMIT, digits)))
    return float(round(x, ndigits))


def _mean(*xs: float) -> float:
    return statistics.fmean(xs)


def _sum(*xs: float) -> float:
    return math.fsum(xs)


def _median(*xs: float) -> float:
    return float(statistics.median(xs))


def _wmean(*pairs: float) -> float:
    values, weights = pairs[0::2], pairs[1::2]
    if any(w < 0 for w in weights):
        raise ValueError("wmean weights must not be negative")
    total = math.fsum(weights)
    if total == 0:
        raise ValueError("wmean weights sum to zero")
    return math.fsum(v * w for v, w in zip(values, weights, strict=True)) / total


def _clamp(x: float, lo: float, hi: float) -> float:
    if lo > hi:
        raise ValueError(f"clamp bounds are reversed ({lo!r} > {hi!r})")
    return min(max(x, lo), hi)


def _abs(x: float) -> float:
    return abs(x)


def _min(*xs: float) -> float:
    return min(xs)


def _max(*xs: float) -> float:
    return max(xs)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("min", 1, None, _min),
        Function("max", 1, None, _max),
        Function("abs", 1, 1, _abs),
        Function("sqrt", 1, 1, _sqrt),
        Function("log", 1, 2, _log),
        Function("exp", 1, 1, _exp),
        Function("round", 1, 2, _round),
        Function("mean", 1, None, _mean),
        Function("sum", 1, None, _sum),
        Function("median", 1, None, _median),
        Function("wmean", 2, None, _wmean, pairs=True),
        Function("clamp", 3, 3, _clamp),
    )
}
