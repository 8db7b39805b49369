"""gateway.recycling: when a prefork child asks its parent for a replacement (the
parent's side, against real server processes, is in test_prefork.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass

from gateway import recycling
from gateway.recycling import (
    QUIET_CALLS,
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


@dataclass
class Load:
    open_streams: int = 0
    calls_in_flight: int = 0


class Flickering:
    """Quiet at every other look: never quiet at two looks in a row."""

    open_streams = 0

    def __init__(self) -> None:
        self._looks = 0

    @property
    def calls_in_flight(self) -> int:
        self._looks += 1
        return 0 if self._looks % 2 else QUIET_CALLS + 1


def run_for(seconds: float, growth_bytes: int, load: recycling.Load) -> bytes:
    """What the child told the parent within the time, every look 10 ms apart."""
    parent_end, child_end = os.pipe()
    try:

        async def main() -> None:
            asking = ask_for_replacement_when_grown(
                ParentLine(child_end), growth_bytes, load, every_s=0.01
            )
            task = asyncio.create_task(asking)
            await asyncio.sleep(seconds)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        asyncio.run(main())
        return said(parent_end)
    finally:
        os.close(parent_end)
        os.close(child_end)


# Any growth at all (0 or more bytes) is over a limit of -1.
ANY_GROWTH = -1


def test_a_grown_quiet_child_asks_at_every_look_from_the_second() -> None:
    for load in (Load(), Load(calls_in_flight=QUIET_CALLS)):
        told = run_for(0.2, ANY_GROWTH, load)
        assert set(told) == set(REPLACE_ME) and len(told) >= 3


def test_a_child_holding_a_stream_never_asks() -> None:
    assert run_for(0.2, ANY_GROWTH, Load(open_streams=1, calls_in_flight=1)) == b""


def test_a_child_in_a_burst_of_calls_never_asks() -> None:
    assert run_for(0.2, ANY_GROWTH, Load(calls_in_flight=QUIET_CALLS + 1)) == b""


def test_a_child_quiet_only_between_busy_looks_never_asks() -> None:
    assert run_for(0.2, ANY_GROWTH, Flickering()) == b""


def test_a_child_that_has_not_grown_past_the_limit_never_asks() -> None:
    assert run_for(0.2, 2**40, Load()) == b""


def test_telling_a_parent_that_is_gone_does_not_raise() -> None:
    parent_end, child_end = os.pipe()
    os.close(parent_end)
    try:
        ParentLine(child_end).tell(READY)  # EPIPE: logged, not raised
    finally:
        os.close(child_end)
