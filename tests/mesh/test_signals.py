"""mesh.signals: SIGTERM and SIGINT stop a process while a block runs, and the
previous handlers come back after it."""

from __future__ import annotations

import asyncio
import os
import signal
from types import FrameType

import pytest

from mesh.signals import STOP_SIGNALS, ignore_stop_signals, on_stop_signals, stop_on_signals


@pytest.mark.parametrize("sig", STOP_SIGNALS)
async def test_a_stop_signal_sets_the_event(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)
    with stop_on_signals() as stop:
        os.kill(os.getpid(), sig)
        await asyncio.wait_for(stop.wait(), 5)
    # asyncio gives SIGINT back to Python's KeyboardInterrupt, whatever was there before.
    assert signal.getsignal(sig) == (signal.default_int_handler if sig == signal.SIGINT else before)


def test_a_handler_runs_within_the_block_and_the_previous_one_returns() -> None:
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    with on_stop_signals(handler):
        os.kill(os.getpid(), signal.SIGTERM)
        assert received == [signal.SIGTERM]
        ignore_stop_signals()
        os.kill(os.getpid(), signal.SIGINT)  # ignored during a teardown
        assert received == [signal.SIGTERM]
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == before
