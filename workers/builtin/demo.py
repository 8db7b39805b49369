"""Demonstration models for load tests and benchmarks, run by the python backend."""

from __future__ import annotations

import asyncio
from typing import Any

from workers.backends import RecordError

MAX_SLEEP_S = 600.0


async def sleep(records: list[dict[str, Any]]) -> list[dict[str, Any] | RecordError]:
    """Sleep each record's {"seconds"}; the records of a batch sleep concurrently.

    Asynchronous, so a sleeping batch holds no thread of its model process,
    as a model server waiting on a GPU would not; a worker keeps one batch in
    flight per model process (--model-processes).
    """
    durations = [_seconds(record) for record in records]
    await asyncio.gather(
        *(
            asyncio.sleep(duration)
            for duration in durations
            if not isinstance(duration, RecordError)
        )
    )
    return [
        duration if isinstance(duration, RecordError) else {"slept": duration}
        for duration in durations
    ]


async def echo(records: list[dict[str, Any]]) -> list[dict[str, Any] | RecordError]:
    """Each record back unchanged as {"echo": record}: the cost of the platform alone.

    Asynchronous so that it does not pay for a thread hop either.
    """
    return [{"echo": record} for record in records]


def _seconds(record: dict[str, Any]) -> float | RecordError:
    seconds = record.get("seconds") if isinstance(record, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return RecordError("field 'seconds' is required: a number of seconds from 0 to 600")
    if not 0 <= seconds <= MAX_SLEEP_S:
        return RecordError(f"field 'seconds' is {seconds}; it must be from 0 to 600")
    return seconds
