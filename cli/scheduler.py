"""`modelgw scheduler`: the job protocol's background duties, the gauges of the
queues, and the consensus jobs."""

from __future__ import annotations

import argparse
import asyncio
import os

from cli._run import Commands, run_until_signalled, seconds


def add_command(commands: Commands) -> None:
    """Adds `scheduler`."""
    scheduler = commands.add_parser("scheduler", help="run the job protocol's background duties")
    scheduler.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    scheduler.add_argument(
        "--consensus-concurrency", type=int, default=256, help="consensus jobs run at once"
    )
    scheduler.add_argument(
        "--drain-grace",
        type=seconds,
        default=5.0,
        help="seconds running consensus jobs get on SIGTERM before they are handed back "
        "(their children go on running)",
    )
    scheduler.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs the duties every args.interval seconds until SIGTERM."""
    from scheduler.connection import connect
    from scheduler.duties import run_duties
    from scheduler.monitor import run_gauges
    from scheduler.settings import QueueSettings, redis_settings
    from settings.process import ProcessSettings
    from workers.settings import WorkerSettings
    from workers.worker import Worker

    env = os.environ
    redis, queue = redis_settings(env), QueueSettings.from_env(env)
    live_ms = int(queue.live_s * 1000)

    async def work(stop: asyncio.Event) -> None:
        # The scheduler also runs consensus jobs: fanning out to the children
        # and combining their results (see workers/consensus_runner.py).
        consensus = Worker(
            redis,
            queue,
            WorkerSettings(
                models=(),
                concurrency=args.consensus_concurrency,
                consensus=True,
                drain_grace_s=args.drain_grace,
            ),
        )
        client = connect(redis, max_connections=4)
        try:
            await asyncio.gather(
                run_duties(client, queue, stop, args.interval),
                consensus.run(stop),
                run_gauges(client, stop, live_ms=live_ms),
            )
        finally:
            await client.aclose()

    return run_until_signalled(ProcessSettings.from_env(env, "scheduler"), work)
