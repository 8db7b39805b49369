"""Model callables for the execution tests, run by real worker processes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from workers.backends import RecordError


def fail(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise RuntimeError("the model blew up on purpose")


def picky(records: list[dict[str, Any]]) -> list[dict[str, Any] | RecordError]:
    return [
        RecordError(f"record {r['n']} is bad") if r.get("bad") else {"n": r["n"]} for r in records
    ]


async def slow(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    await asyncio.sleep(float(records[0].get("seconds", 1)))
    return [{"pid": os.getpid()} for _ in records]
