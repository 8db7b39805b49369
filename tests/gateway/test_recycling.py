"""gateway.recycling: when a prefork child asks its parent for a replacement (the
parent's side, against real server processes, is in test_prefork.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os

from gateway.recycling import (
    READY,
    REPLACE_ME,
    ParentLine,
    ask_for_replacement_when_grown,
    resident_bytes,
)


def test_resident_bytes_is_this_process_rss() -> None:
    with open("/proc/self/status") as status:
        vm_rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    # Read a moment apart, so within a few pages of each other.
    assert abs(resident_bytes() - vm_rss_kb * 1024) < 2**20


def said(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 1024)
    except BlockingIOError:
        return b""


def run_for(seconds: float, growth_bytes: int, streams: list[int]) -> bytes:
    """What the child told the parent within the time, every look 10 ms apart."""
    parent_end, child_end = os.pipe()
    try:

        async def main() -> None:
            task = asyncio.create_task(
                ask_for_replacement_when_grown(
                    ParentLine(child_end), growth_bytes, lambda: streams[0], every_s=0.01
                )
            )
            await asyncio.sleep(seconds)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        asyncio.run(main())
        return said(parent_end)
    finally:
        os.close(parent_end)
        os.close(child_end)


def test_a_grown_child_holding_no_stream_asks_at_every_look() -> None:
    # Any growth at all (0 or more bytes) is over a limit of -1.
    told = run_for(0.2, growth_bytes=-1, streams=[0])
    assert set(told) == set(REPLACE_ME) and len(told) >= 3


def test_a_child_holding_a_stream_never_asks() -> None:
    assert run_for(0.2, growth_bytes=-1, streams=[1]) == b""


def test_a_child_that_has_not_grown_past_the_limit_never_asks() -> None:
    assert run_for(0.2, growth_bytes=2**40, streams=[0]) == b""


def test_telling_a_parent_that_is_gone_does_not_raise() -> None:
    parent_end, child_end = os.pipe()
    os.close(parent_end)
    try:
        ParentLine(child_end).tell(READY)  # EPIPE: logged, not raised
    finally:
        os.close(child_end)
