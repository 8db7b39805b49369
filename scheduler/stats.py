"""Job statistics from Redis: what GetJobStats reports and the scheduler's gauges show.

- queued and running: the model's counters (scheduler.keys.counts), which the
  transition scripts move in the same atomic call as the status itself;
- finished jobs, their execution time and queue wait, success rate and
  throughput: the model's finished index (scheduler.keys.finished), scored by
  end time, read over the window;
- live and busy workers: the workers that announced themselves for the model
  recently (scheduler.keys.workers, written by JobQueue.announce every few
  seconds, idle or busy), and of those the ones whose consumer of the queue
  group (XINFO CONSUMERS) holds entries. Presence is not read from XINFO
  CONSUMERS alone: on Redis 7.0 a consumer appears there only once XREADGROUP
  delivered it an entry, and an empty read does not refresh its idle time, so
  a worker idle on a model that never had a job would not count.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from redis.exceptions import ResponseError

from scheduler import keys
from scheduler.connection import Client


@dataclass(frozen=True)
class Durations:
    """How many durations, their mean, median and 95th percentile."""

    count: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p95: float = 0.0

    @classmethod
    def of(cls, samples: Sequence[float]) -> Durations:
        """Count, mean, p50 and p95 (nearest rank) of the samples."""
        if not samples:
            return cls()
        ordered = sorted(samples)
        mean = statistics.fmean(ordered)
        return cls(len(ordered), mean, _quantile(ordered, 0.5), _quantile(ordered, 0.95))


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile: a value that was observed."""
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))  # ceil(q * n)
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class ModelStats:
    """What GetJobStats says of one model: counters, rates and durations."""

    model: str
    queued: int
    running: int
    finished: dict[str, int]
    execution_samples: tuple[float, ...] = field(repr=False)
    wait_samples: tuple[float, ...] = field(repr=False)
    window_s: float
    live_workers: int = 0
    busy_workers: int = 0
    versions: tuple[VersionStats, ...] = ()
    """Per version, each of its own queue (version '': the queue of earlier releases)."""

    @property
    def succeeded(self) -> int:
        """Jobs finished SUCCEEDED within the window."""
        return self.finished.get("SUCCEEDED", 0)

    @property
    def failed(self) -> int:
        """Jobs finished FAILED within the window."""
        return self.finished.get("FAILED", 0)

    @property
    def cancelled(self) -> int:
        """Jobs finished CANCELLED within the window."""
        return self.finished.get("CANCELLED", 0)

    @property
    def success_rate(self) -> float:
        """Succeeded over succeeded and failed (cancelled jobs decide nothing); 0 before any."""
        decided = self.succeeded + self.failed
        return self.succeeded / decided if decided else 0.0

    @property
    def throughput_per_s(self) -> float:
        """Finished jobs per second over the window."""
        return sum(self.finished.values()) / self.window_s if self.window_s else 0.0

    @property
    def execution(self) -> Durations:
        """Run times of finished jobs."""
        return Durations.of(self.execution_samples)

    @property
    def queue_wait(self) -> Durations:
        """Times finished jobs waited before they started."""
        return Durations.of(self.wait_samples)


@dataclass(frozen=True)
class VersionStats:
    """What GetJobStats says of one version of a model: its own queue's figures."""

    version: str
    figures: ModelStats
    """Counters, finished jobs and durations of the version's jobs (live_workers:
    those reading its queue, including workers of every version)."""
    window: VersionWindow
    """The version's records over the window, and of those the failed ones."""
    queue_length: int
    """Entries in the version's queue now: waiting, or run and not yet acknowledged."""

    @property
    def drained(self) -> bool:
        """Nothing waits in the version's queue and nothing of it runs."""
        return self.queue_length == 0 and self.figures.running == 0


def combine(parts: Iterable[ModelStats], window_s: float) -> ModelStats:
    """All models together: sums, and durations over every model's samples."""
    parts = list(parts)
    finished: dict[str, int] = {}
    for part in parts:
        for status, count in part.finished.items():
            finished[status] = finished.get(status, 0) + count
    return ModelStats(
        model="",
        queued=sum(p.queued for p in parts),
        running=sum(p.running for p in parts),
        finished=finished,
        execution_samples=tuple(s for p in parts for s in p.execution_samples),
        wait_samples=tuple(s for p in parts for s in p.wait_samples),
        window_s=window_s,
        live_workers=sum(p.live_workers for p in parts),
        busy_workers=sum(p.busy_workers for p in parts),
    )


async def known_models(client: Client) -> list[str]:
    """Every model that has had jobs, by name."""
    return sorted(str(m) for m in await client.smembers(keys.KNOWN_MODELS))


async def model_stats(
    client: Client, model: str, *, window_s: float, live_ms: int, now: float | None = None
) -> ModelStats:
    """The model's statistics; finished jobs are those that ended within window_s,
    live workers those that announced themselves within live_ms."""
    now = time.time() if now is None else now
    since = now - window_s
    counts: dict[str, str] = await client.hgetall(keys.counts(model))  # type: ignore[assignment]
    members: list[str] = await client.zrangebyscore(keys.finished(model), since, "+inf")  # type: ignore[assignment]
    queues = ["", *sorted(str(v) for v in await client.smembers(keys.versions(model)))]
    live, busy = await _workers(client, model, queues, since=now - live_ms / 1000)
    versions = [
        await _version_stats(
            client, model, version, window_s=window_s, live_since=now - live_ms / 1000, since=since
        )
        for version in queues
    ]
    return replace(
        _figures(model, counts, members, window_s),
        live_workers=live,
        busy_workers=busy,
        versions=tuple(v for v in versions if v.version or _ever_used(v)),
    )


def _figures(
    model: str, counts: dict[str, str], members: Iterable[str], window_s: float
) -> ModelStats:
    """Counters and finished jobs of a model or a version (members of its finished
    index: 'id|STATUS|exec_s|wait_s', a version's with more fields after)."""
    finished: dict[str, int] = {}
    execution: list[float] = []
    wait: list[float] = []
    for member in members:
        _, status, exec_s, wait_s, *_ = member.split("|")
        finished[status] = finished.get(status, 0) + 1
        if exec_s:
            execution.append(float(exec_s))
        if wait_s:
            wait.append(float(wait_s))
    return ModelStats(
        model=model,
        queued=max(int(counts.get("QUEUED", 0)), 0),
        running=max(int(counts.get("RUNNING", 0)), 0),
        finished=finished,
        execution_samples=tuple(execution),
        wait_samples=tuple(wait),
        window_s=window_s,
    )


def _ever_used(stats: VersionStats) -> bool:
    """Whether the queue of earlier releases still matters: it holds or held jobs."""
    figures = stats.figures
    return bool(stats.queue_length or figures.queued or figures.running or figures.finished)


async def _version_stats(
    client: Client, model: str, version: str, *, window_s: float, live_since: float, since: float
) -> VersionStats:
    counts: dict[str, str] = await client.hgetall(keys.version_counts(model, version))  # type: ignore[assignment]
    members: list[str] = await client.zrangebyscore(  # type: ignore[assignment]
        keys.version_finished(model, version), since, "+inf"
    )
    readers = {keys.version_workers(model, keys.ALL_VERSIONS)}
    if version:
        readers.add(keys.version_workers(model, version))
    live: set[str] = set()
    for key in readers:
        live |= {str(name) for name in await client.zrangebyscore(key, live_since, "+inf")}
    figures = replace(_figures(model, counts, members, window_s), live_workers=len(live))
    length = int(await client.xlen(keys.queue(model, version)))
    return VersionStats(version, figures, window_of(version, members), length)


async def _workers(
    client: Client, model: str, queues: Sequence[str], *, since: float
) -> tuple[int, int]:
    """(live, busy) workers of the model: announced since `since`, and of those
    the ones holding entries of any of its queues."""
    live = {str(name) for name in await client.zrangebyscore(keys.workers(model), since, "+inf")}
    if not live:
        return 0, 0
    busy: set[str] = set()
    for version in queues:
        try:
            consumers = await client.xinfo_consumers(keys.queue(model, version), keys.GROUP)
        except ResponseError:
            continue  # no queue or no group yet
        busy |= {c["name"] for c in consumers if c["name"] in live and int(c["pending"]) > 0}
    return len(live), len(busy)


@dataclass(frozen=True)
class VersionWindow:
    """A version's jobs that finished SUCCEEDED or FAILED since a time: what the
    guardrails of a rollout compare (cancelled jobs decide nothing). A FAILED
    job's records all count as failed."""

    version: str
    jobs: int = 0
    failed_jobs: int = 0
    records: int = 0
    failed_records: int = 0
    run_samples: tuple[float, ...] = field(default=(), repr=False)

    @property
    def failure_rate(self) -> float:
        """Failed records over records; 0 before any."""
        return self.failed_records / self.records if self.records else 0.0

    @property
    def run(self) -> Durations:
        """Run times of the window's jobs."""
        return Durations.of(self.run_samples)


async def version_window(
    client: Client, model: str, version: str, *, since: float
) -> VersionWindow:
    """The version's finished jobs that ended at or after `since` (epoch seconds)."""
    members: list[str] = await client.zrangebyscore(  # type: ignore[assignment]
        keys.version_finished(model, version), since, "+inf"
    )
    return window_of(version, members)


def window_of(version: str, members: Iterable[str]) -> VersionWindow:
    """A VersionWindow of members of a version's finished index (keys.version_finished)."""
    jobs = failed_jobs = records = failed_records = 0
    runs: list[float] = []
    for member in members:
        _, status, exec_s, _, failed, count = member.split("|")
        if status not in ("SUCCEEDED", "FAILED"):
            continue
        jobs += 1
        failed_jobs += status == "FAILED"
        records += int(count or 0)
        failed_records += int(failed or 0)
        if exec_s:
            runs.append(float(exec_s))
    return VersionWindow(version, jobs, failed_jobs, records, failed_records, tuple(runs))


async def trim_finished(client: Client, model: str, horizon: float) -> int:
    """Drops finished-index entries that ended before horizon (epoch seconds)."""
    return int(await client.zremrangebyscore(keys.finished(model), "-inf", f"({horizon}"))
