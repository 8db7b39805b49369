"""What every backend shares: per-record outcomes, the two failure kinds and the Backend protocol.

A backend runs one batch of JSON records and returns one RecordOutcome per
record, aligned with the inputs. One record can fail alone (an invalid SMILES)
without failing its neighbours; a failure of the whole batch raises
BackendError instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args, runtime_checkable

FailureReason = Literal[
    "model_error",
    "model_crashed",
    "backend_unavailable",
    "invalid_output",
    "timeout",
    "backend_not_allowed",
]
FAILURE_REASONS: frozenset[str] = frozenset(get_args(FailureReason))


@dataclass(frozen=True)
class RecordOutcome:
    """The result of one record: exactly one of output and error is set."""

    output: dict[str, Any] | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.output is None) == (self.error is None):
            raise ValueError("a RecordOutcome has exactly one of output and error")

    @property
    def ok(self) -> bool:
        return self.error is None


class RecordError(Exception):
    """One record failed; a python-backend callable returns (not raises) it in its result list."""


class BackendError(Exception):
    """The whole batch failed.

    reason is one of FAILURE_REASONS; retryable says whether running the same
    batch again later may succeed (the model server was down, not wrong).
    """

    def __init__(self, reason: FailureReason, message: str, *, retryable: bool = False) -> None:
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown backend failure reason {reason!r}")
        super().__init__(message)
        self.reason: FailureReason = reason
        self.message = message
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"BackendError({self.reason!r}, {self.message!r}, retryable={self.retryable})"


@runtime_checkable
class Backend(Protocol):
    """Runs batches of records for every model version whose backend spec names its kind.

    One instance serves many versions and many concurrent batches; the
    version's config is passed with each call. run must be cancellation-safe:
    the worker enforces the per-version timeout by cancelling it.
    """

    kind: str

    async def run(
        self, records: list[dict[str, Any]], config: dict[str, Any]
    ) -> list[RecordOutcome]:
        """Run one batch; one outcome per record, aligned with records."""
        ...

    async def aclose(self) -> None:
        """Release pooled resources (HTTP connections); safe to call twice."""
        ...


def output_outcome(output: object, index: int) -> RecordOutcome:
    """A successful outcome, after checking the output is a JSON-serialisable dict."""
    if not isinstance(output, dict):
        raise BackendError(
            "invalid_output",
            f"output {index} is a {type(output).__name__}, not a JSON object (dict)",
        )
    try:
        # Strict JSON: NaN and Infinity have no JSON spelling and break clients.
        json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BackendError(
            "invalid_output", f"output {index} is not JSON-serialisable: {exc}"
        ) from exc
    return RecordOutcome(output=output)


def check_result_length(results: Sequence[object], expected: int) -> None:
    if len(results) != expected:
        raise BackendError(
            "invalid_output",
            f"the model returned {len(results)} results for {expected} records; "
            "it must return exactly one per record, in order",
        )
