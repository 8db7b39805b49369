"""Model functions for the python backend tests, imported by path like real models."""

from __future__ import annotations

import asyncio
import os
import threading
from subprocess import getoutput  # noqa: F401  # imported into an allowed module, not a model
from typing import Any

from workers.backends import RecordError

CALLS = {"sync": 0}


def lengths(records: list[dict[str, Any]]) -> list[dict[str, Any] | RecordError]:
    CALLS["sync"] += 1
    return [
        {"length": len(r["smiles"]), "pid": os.getpid(), "calls": CALLS["sync"]}
        if r.get("smiles")
        else RecordError(f"no smiles in {r}")
        for r in records
    ]


async def async_lengths(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    await asyncio.sleep(0)
    return [{"length": len(r["smiles"]), "pid": os.getpid()} for r in records]


def raises(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise ValueError("weights file is corrupt")


def one_short(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"ok": True} for _ in records[1:]]


def not_a_dict(records: list[dict[str, Any]]) -> list[object]:
    return [42 for _ in records]


def not_json(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"value": {1, 2}} for _ in records]


def nan(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"value": float("nan")} for _ in records]


def not_a_list(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"length": 1}


async def slow(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    await asyncio.sleep(30)
    return [{} for _ in records]


def exits(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise SystemExit(2)


def interrupted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise KeyboardInterrupt


def aborts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    os.abort()


def hangs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks where no cancellation reaches: only killing its process stops it."""
    threading.Event().wait()
    return []


def spawns_and_hangs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Starts a long `sleep`, writes its pid to records[0]["pid_file"], then hangs."""
    import subprocess

    sleeper = subprocess.Popen(["sleep", "600"])
    with open(records[0]["pid_file"], "w") as pid_file:
        pid_file.write(str(sleeper.pid))
    return hangs(records)


def exits_on_poison(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fast, but a record {"poison": true} ends its process with no answer."""
    if any(r.get("poison") for r in records):
        os._exit(3)
    return [{"pid": os.getpid()} for _ in records]


def hangs_on_flag(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fast, but a record {"hang": true} blocks it for good."""
    if any(r.get("hang") for r in records):
        hangs(records)
    return [{"pid": os.getpid()} for _ in records]


def naps(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A synchronous second's work: it holds its model process the whole time."""
    import time

    time.sleep(1)
    return [{"pid": os.getpid()} for _ in records]


NOT_CALLABLE = 3


async def dozes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three seconds' wait, then x = 1 for each record: a child that outlives a stop."""
    await asyncio.sleep(3)
    return [{"x": 1} for _ in records]
