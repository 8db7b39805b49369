"""The watch scenario: N WatchJob streams held at once, then their jobs completed.

The jobs belong to a model no worker serves yet, so every stream stays open on
QUEUED. When every generator process reports its streams held, the bench starts
a worker for that model; each stream then waits for its terminal event. Per
stream we keep the delay between the job's end_time (set by the worker) and
the moment the terminal message arrived: the fan-out delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

import grpc

from loadtest.clients import TERMINAL, channel_options, failure_code, metadata
from loadtest.plan import Share
from loadtest.stats import Tally
from modelgateway.v1 import execution_pb2, execution_pb2_grpc


class _Streams:
    def __init__(self, clients: int) -> None:
        self.held = 0
        self.all_held = asyncio.Event()
        self.clients = clients
        self.tally = Tally()
        self.arrivals: list[float] = []

    def hold(self) -> None:
        self.held += 1
        if self.held == self.clients:
            self.all_held.set()


async def _stream(
    stub: execution_pb2_grpc.ExecutionServiceStub, job_id: str, token: str, streams: _Streams
) -> None:
    call = stub.WatchJob(execution_pb2.WatchJobRequest(id=job_id), metadata=metadata(token))
    held = False
    try:
        async for message in call:
            if message.HasField("error"):
                raise RuntimeError(f"stream error {message.error.code}")
            if not message.HasField("job"):
                continue  # heartbeat
            if not held:
                held = True
                streams.hold()
            if message.job.status in TERMINAL:
                arrived = time.time()
                streams.arrivals.append(arrived)
                streams.tally.latencies.append(
                    arrived - message.job.end_time.ToDatetime().timestamp()
                )
                streams.tally.ok_total += 1
                return
        raise RuntimeError("stream ended before the terminal event")
    except asyncio.CancelledError:
        streams.tally.cut.append(0.0)
        raise
    except Exception as exc:
        streams.tally.failures[failure_code(exc)] += 1
        streams.tally.failed_total += 1
        if not held:
            streams.hold()  # counted as failed, not awaited


async def run_watchers(share: Share, out: Any, release: Any) -> Tally:
    count = min(share.max_channels, max(1, math.ceil(share.clients / share.clients_per_channel)))
    channels = [
        grpc.aio.insecure_channel(share.target, options=channel_options()) for _ in range(count)
    ]
    streams = _Streams(share.clients)
    try:
        stubs = [execution_pb2_grpc.ExecutionServiceStub(c) for c in channels]
        tasks = []
        for i in range(share.clients):
            client = share.first_client + i
            user = client % len(share.tokens)
            jobs = share.job_ids[user]
            job_id = jobs[(client // len(share.tokens)) % len(jobs)]
            tasks.append(
                asyncio.create_task(_stream(stubs[i % count], job_id, share.tokens[user], streams))
            )
        began = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(streams.all_held.wait(), share.hold_timeout_s)
        out.put(("held", {"held": streams.held, "seconds": time.monotonic() - began}))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, release.wait)
        _, pending = await asyncio.wait(tasks, timeout=share.duration_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        streams.tally.extra.update(
            channels=count,
            last_arrival=max(streams.arrivals, default=math.nan),
            first_arrival=min(streams.arrivals, default=math.nan),
        )
        return streams.tally
    finally:
        await asyncio.gather(*(c.close() for c in channels))
