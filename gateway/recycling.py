"""A prefork child that grew in a burst asks its parent for a fresh replacement.

After a burst (100,000 WatchJob streams, say) a server process keeps what it
grew: CPython's small-object allocator frees an arena of 1 MB only when every
block in it is free, and a few objects that outlive the burst pin hundreds of
them. Measured: 600 arenas holding 32 MB of live blocks, 0.8 to 1.9 GB RSS per
process long after the streams ended, and each later call dearer. Nothing in
the process can give that memory back, but a new process starts small.

So a child of gateway.prefork looks at its resident memory every few seconds.
Once it has grown by more than MODELGW_RECYCLE_GROWTH_MB since it started
serving, and is quiet at two looks in a row (no stream, which a replacement
would cut, and at most QUIET_CALLS calls in flight: the burst is over, and
what is left finishes well within the drain), it tells its parent over the line
the parent gave it, and again at each look until it is stopped. The parent
starts a new child in the same slot, waits until it serves, then stops the old
one with its usual drain: the old listener closes first, its connections get
GOAWAY, calls in flight finish, and clients reconnect to a child that listens.
A lone server (one process) has nobody to take over its port, so it never asks.

The line is a pipe: the child writes one byte when it serves (READY) and one
when it wants replacing (REPLACE_ME).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Protocol

log = logging.getLogger("modelgw.recycling")

READY = b"U"
REPLACE_ME = b"R"

# How often a child looks at its memory: reading /proc/self/statm costs microseconds.
CHECK_EVERY_S = 2.0
# At most this many calls in flight count as quiet: a burst has thousands, and a
# drain (MODELGW_SHUTDOWN_GRACE) finishes a few dozen with time to spare.
QUIET_CALLS = 32

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """This process's resident memory (RSS), from /proc/self/statm."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_BYTES


class ParentLine:
    """The child's end of the pipe to its prefork parent."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def tell(self, message: bytes) -> None:
        try:
            os.write(self._fd, message)
        except OSError as exc:
            # The parent is gone or closed its end; it stops this child anyway.
            log.warning("cannot reach the prefork parent", extra={"fields": {"error": str(exc)}})


class Load(Protocol):
    """What a process is serving now (gateway.interceptor.GatewayInterceptor keeps it)."""

    @property
    def open_streams(self) -> int: ...

    @property
    def calls_in_flight(self) -> int: ...


def quiet(load: Load) -> bool:
    """No stream held, and no more calls in flight than a drain finishes at once."""
    return load.open_streams == 0 and load.calls_in_flight <= QUIET_CALLS


async def ask_for_replacement_when_grown(
    line: ParentLine, growth_bytes: int, load: Load, *, every_s: float = CHECK_EVERY_S
) -> None:
    """Asks at every look while grown and quiet (at this look and the one before),
    until cancelled: the parent acts on the first ask it can (gateway.prefork
    bounds how often)."""
    baseline = resident_bytes()
    asked = was_quiet = False
    while True:
        await asyncio.sleep(every_s)
        grown = resident_bytes() - baseline
        is_quiet = quiet(load)
        if grown > growth_bytes and is_quiet and was_quiet:
            if not asked:
                fields = {"grown_mb": grown // 2**20, "limit_mb": growth_bytes // 2**20}
                log.info(
                    "grown since start; asking the parent for a fresh process",
                    extra={"fields": fields},
                )
                asked = True
            line.tell(REPLACE_ME)
        was_quiet = is_quiet
