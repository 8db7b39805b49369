"""What the `modelgw` subcommands share: running a process until it is told to stop,
and the argument types of their flags."""

from __future__ import annotations

import argparse
import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from settings.process import ProcessSettings

# The subcommands' parsers: what each cli module adds its subcommand to.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def run_until_signalled(
    process: ProcessSettings, work: Callable[[asyncio.Event], Awaitable[None]]
) -> int:
    """Runs work(stop) on uvloop, serving the process's metrics, until SIGTERM or
    SIGINT sets stop."""
    import uvloop

    from gateway.metrics import serving_metrics
    from mesh.signals import stop_on_signals
    from settings import logs

    logs.configure(process.log_level, process.name)

    async def main() -> None:
        with stop_on_signals() as stop:
            await work(stop)

    with serving_metrics(process.host, process.metrics_port):
        uvloop.run(main())
    return 0


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, never negative."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of seconds, 0 or more")
    return value


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value
