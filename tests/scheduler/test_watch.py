"""A watcher's news (scheduler.events.Watch): pure asyncio, no servers."""

from __future__ import annotations

import asyncio
import time

import pytest

from scheduler.events import Watch
from scheduler.job import JobRecord, JobStatus


def record(revision: int) -> JobRecord:
    return JobRecord.from_hash(
        {"id": "j", "model": "m", "version": "1", "submitter": "u", "status": "QUEUED",
         "created": "1.0", "rev": str(revision), "record_count": "1"}
    )  # fmt: skip


async def test_news_pushed_before_waiting_is_returned_at_once() -> None:
    watch = Watch("j")
    watch.push(record(1))
    assert (await asyncio.wait_for(watch.next(5), 1)).revision == 1  # type: ignore[union-attr]


async def test_a_waiting_watcher_wakes_on_news() -> None:
    watch = Watch("j")
    waiting = asyncio.ensure_future(watch.next(5))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    watch.push(record(2))
    assert (await asyncio.wait_for(waiting, 1)).revision == 2  # type: ignore[union-attr]


async def test_only_the_latest_news_is_kept() -> None:
    watch = Watch("j")
    watch.push(record(1))
    watch.push(None)  # "read it yourself" after a failed fetch
    watch.push(record(3))
    assert (await watch.next(5)).revision == 3  # type: ignore[union-attr]
    with pytest.raises(TimeoutError):
        await watch.next(0.01)


async def test_no_news_times_out_and_the_watch_stays_usable() -> None:
    watch = Watch("j")
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        await watch.next(0.05)
    assert 0.04 <= time.monotonic() - began < 1
    watch.push(None)
    assert await watch.next(5) is None


async def test_a_cancelled_wait_keeps_later_news() -> None:
    watch = Watch("j")
    waiting = asyncio.ensure_future(watch.next(5))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    watch.push(record(4))
    assert (await watch.next(5)).revision == 4  # type: ignore[union-attr]
    assert JobStatus.QUEUED is record(4).status
