"""`modelgw audit`: ships the audit log (job events, registry and admin changes)."""

from __future__ import annotations

import argparse
import asyncio
import os

from cli._run import Commands, run_until_signalled


def add_command(commands: Commands) -> None:
    """Adds `audit`."""
    audit = commands.add_parser(
        "audit", help="ship the audit log (job events, registry and admin changes) to S3"
    )
    audit.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs the shipper until SIGTERM."""
    import socket

    from audit.config import AuditConfig
    from audit.shipper import Shipper
    from audit.sink import LocalSink, S3Sink, Sink
    from gateway.registry.database import migrate, open_pool
    from scheduler.audit_stream import AuditStreams
    from scheduler.connection import connect
    from scheduler.settings import redis_settings
    from settings import process

    env = os.environ
    home = process.home(env)
    audit = AuditConfig.from_env(env, home)
    redis = redis_settings(env)
    database_url, timeout_s = process.database_url(env, home), process.database_timeout_s(env)
    sink: Sink = (
        S3Sink(audit.bucket, audit.endpoint_url) if audit.bucket else LocalSink(audit.local_root)
    )

    async def work(stop: asyncio.Event) -> None:
        client = connect(redis, max_connections=4)
        pool = await open_pool(database_url, min_size=1, max_size=2, timeout_s=timeout_s)
        try:
            await migrate(pool)  # the outbox table must exist before the first read
            streams = AuditStreams(client, f"{socket.gethostname()}-{os.getpid()}")
            await Shipper(audit, streams, pool, sink).run(stop)
        finally:
            await pool.close()
            await client.aclose()

    return run_until_signalled(process.ProcessSettings.from_env(env, "audit"), work)
