"""The job queue: submission, status transitions and lookups over Redis.

Gateways submit, read, list and cancel; workers read their model's stream,
start, renew, finish and release jobs. Every state change is one Lua script
(scheduler.scripts) on the node that owns the model's shard.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from scheduler import bulk, keys, scripts
from scheduler.admission import NO_LIMITS, AdmissionLimits
from scheduler.batch import CommandBatcher, ScriptCall
from scheduler.coalesce import SubmissionCoalescer
from scheduler.connection import Client
from scheduler.delivery import Delivery, NoDelivery, QueueEntry, QueueReader
from scheduler.job import JobRecord, JobSpec, JobStatus
from scheduler.metrics import RunClock
from scheduler.settings import QueueSettings
from scheduler.submission import (
    QueuePlace,
    Submission,
    SubmitOutcome,
    fingerprint,
    read_place,
)

__all__ = [
    "CancelOutcome",
    "Delivery",
    "JobIndex",
    "JobQueue",
    "NoDelivery",
    "QueueEntry",
    "QueuePlace",
    "Submission",
    "SubmitOutcome",
    "fingerprint",
]


class JobIndex(enum.Enum):
    """The job indexes ListJobs walks, newest first (scheduler.keys names them)."""

    ALL = "all"
    """Every job: a superuser's list."""
    USER = "user"
    """The jobs one user submitted."""
    MODEL = "model"
    """The jobs of one model."""

    def key(self, name: str) -> str:
        """The index's sorted set; name is the user or the model (ignored for ALL)."""
        if self is JobIndex.USER:
            return keys.user_jobs(name)
        if self is JobIndex.MODEL:
            return keys.model_jobs(name)
        return keys.ALL_JOBS


class CancelOutcome(enum.Enum):
    """What cancelling a job found: it is cancelled now (or was before), it had
    already ended otherwise, or its record expired."""

    CANCELLED = "CANCELLED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class JobQueue:
    """The job protocol on Redis, for both sides: the gateway submits, reads, lists
    and cancels jobs; a worker starts, renews, finishes and hands them back. Each
    state change is one Lua script of scheduler.scripts, atomic on the model's
    shard, and the calls of concurrent callers share round trips (CommandBatcher).
    """

    def __init__(self, client: Client, settings: QueueSettings) -> None:
        self.client = client
        self.settings = settings
        self._submit = client.register_script(scripts.SUBMIT)
        self._start = client.register_script(scripts.START)
        self._finish = client.register_script(scripts.FINISH)
        self._cancel = client.register_script(scripts.CANCEL)
        self._release = client.register_script(scripts.RELEASE)
        self._progress = client.register_script(scripts.PROGRESS)
        self._place = client.register_script(scripts.PLACE)
        self._presence = client.register_script(scripts.PRESENCE)
        self._clock = RunClock()
        # Submissions and lookups of concurrent calls share round trips.
        self._batch = CommandBatcher(client)
        self._cluster = isinstance(client, RedisCluster)
        # Single submissions of concurrent calls share script calls too.
        self._coalescer = (
            None if self._cluster else SubmissionCoalescer(self._batch, self._submit, settings)
        )

    async def close(self) -> None:
        """Stops the batcher; the client is the caller's to close."""
        await self._batch.close()

    # -- gateway side ---------------------------------------------------------

    async def submit(
        self,
        *,
        model: str,
        version: str,
        requested_version: str,
        submitter: str,
        records: list[dict[str, Any]],
        records_json: str,
        spec: JobSpec,
        idempotency_key: str,
        parent_id: str = "",
        limits: AdmissionLimits = NO_LIMITS,
        route: str = "",
        rollout_id: str = "",
    ) -> Submission:
        """Creates the job, with its queue entry, its indexes and its audit entry,
        after its idempotency key and the admission limits were checked by the same
        script; in one round trip, and in one script call with the other
        submissions waiting for the same batch (scheduler.coalesce). Returns the
        new job (its record and place), the earlier job an idempotency key names,
        or why it was refused."""
        group = bulk.JobGroup(model, version, spec, limits, route, rollout_id)
        job = bulk.GroupJob(
            submitter, records, records_json, idempotency_key, requested_version, parent_id
        )
        if self._coalescer is not None:
            reply, index = await self._coalescer.submit(group, job)
        else:  # Redis Cluster: the created job's indexes take a second round trip
            [reply], index = await self.submit_many([(group, [job])]), 0
        return reply.submission(group, job, index)

    async def submit_many(
        self, groups: Sequence[tuple[bulk.JobGroup, Sequence[bulk.GroupJob]]]
    ) -> list[bulk.GroupReply]:
        """Submits groups of jobs (each of one model version) in one round trip, each
        job checked and created as `submit` would; each group's outcomes in order.
        (Groups made by the caller, as SubmitJobs makes them, go as they are.)"""
        plans = [bulk.GroupSubmission(g, jobs, self._cluster, self.settings) for g, jobs in groups]
        calls = [call for plan in plans for call in plan.calls(self._submit)]
        replies = iter(await self._batch.run(*calls) if calls else ())
        answers = [plan.read(replies) for plan in plans]
        if self._cluster:  # the created jobs' indexes live in other slots
            indexes = [c for p, a in zip(plans, answers, strict=True) for c in p.index_commands(a)]
            if indexes:
                await self._batch.run(*indexes)
        return answers

    async def get(self, job_id: str) -> JobRecord | None:
        """The job's record; None if it expired (or the id names no shard)."""
        shard = keys.shard_of_job(job_id)
        if shard is None:
            return None
        [values] = await self._batch.run(("HGETALL", keys.job(job_id, shard)))
        return JobRecord.from_hash(values) if values else None

    async def place(self, job: JobRecord) -> QueuePlace:
        """Where a QUEUED job stands in its version's queue: one more round trip,
        which callers pay only for a job they read as QUEUED."""
        model, version = job.model, job.queue_version
        [reply] = await self._batch.run(
            ScriptCall(
                self._place,
                keys=[
                    keys.waiting(model, version),
                    keys.version_workers(model, version) if version else keys.workers(model),
                    keys.version_workers(model, keys.ALL_VERSIONS),
                ],
                args=[keys.waiting_member(job.id, job.record_count)],
            )
        )
        return read_place(reply)

    async def get_many(self, job_ids: Sequence[str]) -> list[JobRecord | None]:
        """The records of these jobs, in order, in one round trip; None for expired ones."""
        commands = []
        for job_id in job_ids:
            shard = keys.shard_of_job(job_id)
            commands.append(("HGETALL", keys.job(job_id, shard if shard is not None else 0)))
        rows = await self._batch.run(*commands)
        return [JobRecord.from_hash(v) if v else None for v in rows]

    async def cancel(self, job: JobRecord, message: str) -> CancelOutcome:
        """Cancels a QUEUED or RUNNING job (a running one's worker stops it)."""
        shard = keys.shard_of_model(job.model)
        status: str = await self._cancel(
            keys=[keys.job(job.id, shard), *keys.observer_keys(job.model, job.queue_version)],
            args=[keys.EVENTS_CHANNEL, message],
        )
        return CancelOutcome(status)

    async def page(
        self, index: JobIndex, name: str, before: float | None, count: int
    ) -> list[tuple[str, float]]:
        """Up to count (job id, submission time) pairs of an index, newest first,
        older than before; name is the index's user or model."""
        top = "+inf" if before is None else f"({before}"
        rows: list[tuple[str, float]] = await self.client.zrevrangebyscore(  # type: ignore[assignment]
            index.key(name), top, "-inf", start=0, num=count, withscores=True
        )
        return [(str(job_id), float(score)) for job_id, score in rows]

    # -- worker side ----------------------------------------------------------

    async def ensure_group(self, model: str, version: str = "") -> None:
        """Creates a version's queue and its workers' consumer group, if missing."""
        try:
            await self.client.xgroup_create(
                keys.queue(model, version), keys.GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def announce(self, served: Sequence[tuple[str, str]], worker: str) -> None:
        """Says that this worker serves these (model, version) pairs now, idle or busy
        (version keys.ALL_VERSIONS: every version of the model): what GetJob's
        no-worker warning and GetJobStats' live workers read. One round trip for all,
        repeated every `presence_s`; a name is kept for the job retention, so that a
        warning can say a worker was seen before."""
        if not served:
            return
        models = sorted({model for model, _ in served})
        presence = [keys.workers(m) for m in models]
        presence += [keys.version_workers(m, v) for m, v in served]
        await self._batch.run(
            *(
                ScriptCall(self._presence, keys=[key], args=[worker, self.settings.job_ttl_s])
                for key in presence
            ),
            # The statistics list a served model before its first job.
            ("SADD", keys.KNOWN_MODELS, *models),
        )

    async def leave(self, served: Sequence[tuple[str, str]], worker: str) -> None:
        """A stopping worker no longer serves these pairs: it stops counting at once."""
        if served:
            presence = {keys.workers(m) for m, _ in served}
            presence |= {keys.version_workers(m, v) for m, v in served}
            await self._batch.run(*(("ZREM", key, worker) for key in sorted(presence)))

    async def versions(self, model: str) -> set[str]:
        """The model's versions that have had a queue (a worker of all versions reads each)."""
        return {str(v) for v in await self.client.smembers(keys.versions(model))}

    def reader(
        self, client: Client, model: str, version: str, worker: str, block_ms: int
    ) -> QueueReader:
        """A reader of a version's queue for this worker, on a client of its own."""
        return QueueReader(
            client, model, version, worker, lease_ms=self.settings.lease_ms, block_ms=block_ms
        )

    async def start(
        self, model: str, version: str, job_id: str, entry_id: str, worker: str
    ) -> Delivery | NoDelivery:
        """Marks the job of a version's queue ('': the queue of earlier releases)
        RUNNING for this worker; returns what to run, or why not."""
        shard = keys.shard_of_model(model)
        [reply] = await self._batch.run(
            ScriptCall(
                self._start,
                keys=[
                    keys.job(job_id, shard),
                    keys.queue(model, version),
                    keys.start_counter(model),
                    *keys.observer_keys(model, version),
                ],
                args=[
                    keys.EVENTS_CHANNEL,
                    entry_id,
                    worker,
                    self.settings.delivery_limit,
                ],
            )
        )
        if reply[0] != "run":
            return NoDelivery(str(reply[1]))
        self._clock.started(model, entry_id, float(reply[3]))
        spec, records, created, submitter = reply[1], reply[2], reply[3], reply[4]
        return Delivery(
            job_id, entry_id, model, JobSpec.from_json(spec), json.loads(records),
            float(created), submitter, version,
        )  # fmt: skip

    async def finish(
        self,
        delivery: Delivery,
        status: JobStatus,
        *,
        results: list[dict[str, Any]] | None = None,
        reason: str = "",
        message: str = "",
    ) -> str:
        """Ends the job as status, acknowledging its entry; returns its status then."""
        shard = keys.shard_of_model(delivery.model)
        model, version = delivery.model, delivery.queue_version
        failed_records = sum(1 for r in results or () if "error" in r)
        finish = ScriptCall(
            self._finish,
            keys=[
                keys.job(delivery.job_id, shard),
                keys.queue(model, version),
                *keys.observer_keys(model, version),
            ],
            args=[
                keys.EVENTS_CHANNEL,
                delivery.entry_id,
                status.value,
                json.dumps(results) if results is not None else "",
                reason,
                message,
                self.settings.job_ttl_s,
                failed_records,
            ],
        )
        final = str((await self._batch.run(finish))[0])
        self._clock.finished(delivery.model, delivery.entry_id, final)
        return final

    async def release(self, delivery: Delivery, worker: str) -> None:
        """Hands a job back (a draining worker): another worker claims it at once."""
        shard = keys.shard_of_model(delivery.model)
        await self._release(
            keys=[
                keys.job(delivery.job_id, shard),
                keys.queue(delivery.model, delivery.queue_version),
            ],
            args=[keys.EVENTS_CHANNEL, delivery.entry_id, worker, self.settings.lease_ms * 10],
        )

    async def renew(self, model: str, version: str, entry_ids: Sequence[str], worker: str) -> None:
        """Resets the idle time of entries this worker holds of a version's queue,
        keeping their lease."""
        if entry_ids:
            await self.client.xclaim(
                keys.queue(model, version), keys.GROUP, worker, 0, list(entry_ids), justid=True
            )

    async def record_children(self, delivery: Delivery, children: list[dict[str, str]]) -> None:
        """Records a consensus job's children's progress, for its watchers."""
        shard = keys.shard_of_model(delivery.model)
        await self._progress(
            keys=[keys.job(delivery.job_id, shard)],
            args=[keys.EVENTS_CHANNEL, json.dumps(children)],
        )

    async def consensus_models(self) -> set[str]:
        """Consensus models that have had jobs: the queues a consensus runner serves."""
        members = await self.client.smembers(keys.CONSENSUS_MODELS)
        return {str(m) for m in members}

    async def status(self, model: str, job_id: str) -> JobStatus | None:
        """The job's status alone (a cheap poll); None if its record expired."""
        shard = keys.shard_of_model(model)
        status: str | None = await self.client.hget(keys.job(job_id, shard), "status")  # type: ignore[assignment]
        return None if status is None else JobStatus(status)
