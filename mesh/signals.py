"""How a long-running process learns it should stop: SIGTERM (Kubernetes, the mesh
supervisor, the prefork parent) or SIGINT (Ctrl-C).

An asyncio process waits on an event the signals set (stop_on_signals); a process
with a blocking loop in its main thread installs a handler for the length of a
`with` block (on_stop_signals). Either way the previous handlers come back after.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, FrameType | None], object]


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event SIGTERM or SIGINT sets while the block runs, in the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def on_stop_signals(handler: Handler) -> Iterator[None]:
    """`handler(signum, frame)` runs on SIGTERM or SIGINT while the block runs."""
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def ignore_stop_signals() -> None:
    """Ignore SIGTERM and SIGINT until the enclosing on_stop_signals block ends:
    a second Ctrl-C must not cut a teardown short."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
