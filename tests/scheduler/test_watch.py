"""A watcher's news (scheduler.events.Watch): pure asyncio, no servers."""

from __future__ import annotations

import asyncio
import time

import pytest

from scheduler.events import ManyWatch, Watch
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


def of(job_id: str, revision: int) -> JobRecord:
    return JobRecord.from_hash(
        {"id": job_id, "model": "m", "version": "1", "submitter": "u", "status": "RUNNING",
         "created": "1.0", "rev": str(revision), "record_count": "1"}
    )  # fmt: skip


async def test_a_many_watch_keeps_the_latest_news_of_each_job_and_wakes_once() -> None:
    dropped: list[str] = []
    watch = ManyWatch(lambda job_id, _: dropped.append(job_id))
    waiting = asyncio.ensure_future(watch.next(5))
    await asyncio.sleep(0)
    watch.notify("a", of("a", 1))
    watch.notify("b", None)
    watch.notify("a", of("a", 2))
    news = await asyncio.wait_for(waiting, 1)
    assert {k: v and v.revision for k, v in news.items()} == {"a": 2, "b": None}
    watch.notify("c", of("c", 1))
    watch.drop("c")  # its news goes with it, and JobEvents is told
    assert dropped == ["c"]
    with pytest.raises(TimeoutError):
        await watch.next(0.01)
