"""Model callables for the execution tests, run by real worker processes."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from workers.backends import RecordError


def fail(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise RuntimeError("the model blew up on purpose")


def picky(records: list[dict[str, Any]]) -> list[dict[str, Any] | RecordError]:
    return [
        RecordError(f"record {r['n']} is bad") if r.get("bad") else {"n": r["n"]} for r in records
    ]


async def half_bad(records: list[dict[str, Any]]) -> list[dict[str, Any] | RecordError]:
    """A candidate gone wrong: a tenth of a second per job, and every record with
    an odd n fails (half of them, for records numbered in turn)."""
    await asyncio.sleep(0.1)
    return [RecordError("odd n: broken") if r.get("n", 0) % 2 else {"n": r.get("n", 0)} for r in records]


async def slow(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    await asyncio.sleep(float(records[0].get("seconds", 1)))
    return [{"pid": os.getpid()} for _ in records]


def exits(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise SystemExit(3)


async def exits_async(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise SystemExit("the model gave up")


def hard_exit(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    os._exit(7)


def segfault(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import ctypes

    ctypes.string_at(0)
    return []


def hang(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Writes the pid of the process running it to records[0]["pid_file"], then blocks
    in a way no cancellation reaches (a sync sleep, as a stuck native call would)."""
    with open(records[0]["pid_file"], "w") as pid_file:
        pid_file.write(str(os.getpid()))
    time.sleep(600)
    return []


def pid(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"pid": os.getpid()} for _ in records]
