"""The watch_many scenario: N watched jobs held on WatchJobs streams of K ids each,
then their jobs completed.

As in the watch scenario, the jobs belong to a model no worker serves yet, so
every stream stays open after the jobs' first states. Each generator process
holds its share of the streams (each watches K consecutive ids of its user's
jobs, wrapping around, so that with fewer jobs than watched ones each job is on
several streams). The jobs are spread over as few users as keep K of one user's
jobs per stream (a stream sees only its caller's jobs; each user may submit 200
jobs a second). Once every process reports its streams held, the bench starts
a worker; per watched job we keep the delay between its end_time and the arrival
of its terminal entry, and per stream the messages and entries received.
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


def stream_ids(
    job_ids: tuple[tuple[str, ...], ...], stream: int, per_stream: int, watched: int
) -> tuple[int, list[str]]:
    """The user (index into job_ids, the jobs per user) of stream number `stream`, and
    the ids it watches: per_stream of them (fewer for the last stream, so that
    `watched` are watched in all), consecutive in its user's jobs, wrapping around."""
    user = stream % len(job_ids)
    jobs, first = job_ids[user], (stream // len(job_ids)) * per_stream
    count = max(0, min(per_stream, watched - stream * per_stream))
    return user, [jobs[(first + i) % len(jobs)] for i in range(count)]


class _Streams:
    def __init__(self, streams: int) -> None:
        self.held = 0
        self.held_jobs = 0
        self.all_held = asyncio.Event()
        self.streams = streams
        self.tally = Tally()
        self.arrivals: list[float] = []
        self.messages = 0
        self.entries = 0

    def hold(self, jobs: int) -> None:
        self.held += 1
        self.held_jobs += jobs
        if self.held == self.streams:
            self.all_held.set()


class _Watched:
    """One stream's jobs: those whose first state came, and those not yet final."""

    def __init__(self, ids: list[str]) -> None:
        self.count = len(ids)
        self.seen: set[str] = set()
        self.pending = set(ids)

    def take(self, message: execution_pb2.WatchJobsResponse, streams: _Streams) -> None:
        streams.messages += 1
        streams.entries += len(message.jobs)
        for entry in message.jobs:
            if entry.HasField("error"):
                raise RuntimeError(f"job error {entry.error.code}: {entry.error.message}")
            self.seen.add(entry.id)
            if entry.job.status in TERMINAL and entry.id in self.pending:
                arrived = time.time()
                self.pending.discard(entry.id)
                streams.arrivals.append(arrived)
                streams.tally.latencies.append(
                    arrived - entry.job.end_time.ToDatetime().timestamp()
                )
                streams.tally.ok_total += 1


async def _stream(
    stub: execution_pb2_grpc.ExecutionServiceStub, ids: list[str], token: str, streams: _Streams
) -> None:
    call = stub.WatchJobs(execution_pb2.WatchJobsRequest(ids=ids), metadata=metadata(token))
    watched = _Watched(ids)
    held = False
    try:
        async for message in call:
            if message.HasField("error"):
                raise RuntimeError(f"stream error {message.error.code}")
            if message.heartbeat:
                continue
            watched.take(message, streams)
            if not held and len(watched.seen) == watched.count:
                held = True
                streams.hold(watched.count)
        if watched.pending:
            raise RuntimeError(f"stream ended with {len(watched.pending)} jobs not final")
    except asyncio.CancelledError:
        streams.tally.cut.extend([0.0] * len(watched.pending))
        raise
    except Exception as exc:
        lost = len(watched.pending) or 1
        streams.tally.failures[failure_code(exc)] += lost
        streams.tally.failed_total += lost
        if not held:
            streams.hold(0)  # counted as failed, not awaited


async def run_many_watchers(share: Share, out: Any, release: Any) -> Tally:
    """A generator process's streams: `share.clients` of them, from `share.first_client`."""
    per_stream, watched = int(share.options["ids_per_stream"]), int(share.options["watched"])
    count = min(share.max_channels, max(1, math.ceil(share.clients / share.clients_per_channel)))
    channels = [
        grpc.aio.insecure_channel(share.target, options=channel_options()) for _ in range(count)
    ]
    streams = _Streams(share.clients)
    try:
        stubs = [execution_pb2_grpc.ExecutionServiceStub(c) for c in channels]
        tasks = []
        for i in range(share.clients):
            user, ids = stream_ids(share.job_ids, share.first_client + i, per_stream, watched)
            tasks.append(
                asyncio.create_task(_stream(stubs[i % count], ids, share.tokens[user], streams))
            )
        began = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(streams.all_held.wait(), share.hold_timeout_s)
        out.put(
            (
                "held",
                {
                    "held": streams.held,
                    "held_jobs": streams.held_jobs,
                    "seconds": time.monotonic() - began,
                },
            )
        )
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        _, pending = await asyncio.wait(tasks, timeout=share.duration_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        streams.tally.extra.update(
            channels=count,
            messages=streams.messages,
            entries=streams.entries,
            last_arrival=max(streams.arrivals, default=math.nan),
        )
        return streams.tally
    finally:
        await asyncio.gather(*(c.close() for c in channels))
