"""Waiting for the machine to be quiet before a run.

A run right after a heavy one (a burst of 100,000 calls, a worker still running
the jobs a burst left queued) would share the cores with what that one left
behind, and measure less than the gateway does. The load average says so only
a minute late: it is an average. Here the cores' busy share is sampled from
/proc/stat, second by second, until one second is mostly idle or the wait is
over; the run then records how long it waited and how busy the last second was,
so that a run that started on a busy machine says so in its figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

QUIET_BUSY_SHARE = 0.15
"""A second in which the cores were busy less than this share of the time is quiet:
the idle mesh (heartbeats, the scheduler's sweeps) stays well below it."""


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative CPU time of every core, in clock ticks: busy and idle."""

    busy: int
    idle: int

    def busy_share_since(self, earlier: CpuTimes) -> float:
        """The share of the time between `earlier` and this sample the cores were busy."""
        busy, idle = self.busy - earlier.busy, self.idle - earlier.idle
        return busy / (busy + idle) if busy + idle > 0 else 0.0


def parse_cpu_line(line: str) -> CpuTimes:
    """The machine's CPU times from /proc/stat's first line ("cpu user nice system
    idle iowait irq softirq steal ..."): idle is idle plus iowait; guest time is
    already counted in user, so it is left out."""
    fields = [int(x) for x in line.split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    return CpuTimes(busy=user + nice + system + irq + softirq + steal, idle=idle + iowait)


def read_cpu_times() -> CpuTimes:
    with open("/proc/stat") as stat:
        return parse_cpu_line(stat.readline())


@dataclass(frozen=True)
class Settled:
    waited_s: float
    busy_share: float  # of the last second sampled

    def figures(self) -> dict[str, float]:
        waited, busy = round(self.waited_s, 1), round(self.busy_share, 3)
        return {"settle_waited_s": waited, "busy_before": busy}


def settle(
    max_wait_s: float,
    sample: Callable[[], CpuTimes] = read_cpu_times,
    sleep: Callable[[float], None] = time.sleep,
    quiet_share: float = QUIET_BUSY_SHARE,
) -> Settled:
    """Waits, one second at a time and at most max_wait_s, for a quiet second."""
    waited, busy = 0.0, 0.0
    earlier = sample()
    while waited < max_wait_s:
        sleep(1.0)
        waited += 1.0
        now = sample()
        busy, earlier = now.busy_share_since(earlier), now
        if busy < quiet_share:
            break
    return Settled(waited, busy)
