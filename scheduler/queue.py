"""The job queue: submission, status transitions and lookups over Redis.

Gateways submit, read, list and cancel; workers read their model's stream,
start, renew, finish and release jobs. Every state change is one Lua script
(scheduler.scripts) on the node that owns the model's shard.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from scheduler import keys, scripts
from scheduler.admission import NO_LIMITS, AdmissionLimits, Limit
from scheduler.batch import Command, CommandBatcher, ScriptCall
from scheduler.connection import Client
from scheduler.job import JobRecord, JobStatus
from scheduler.metrics import RunClock
from scheduler.settings import (
    QueueSettings as QueueSettings,  # re-exported: still imported from here
)


class SubmitOutcome(enum.Enum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    LIMITED = "limited"
    """Over a rate: `limit` names the bucket, `retry_after_s` says when it admits the job."""
    FULL = "full"
    """The model's queue is full: `limit` says of what, `queued` how many wait."""


@dataclass(frozen=True)
class QueuePlace:
    """Where a QUEUED job stands, read atomically on its model's shard."""

    jobs_ahead: int | None
    """QUEUED jobs of the model submitted before this one; None once it left the queue."""
    worker_seen: float | None
    """When a worker serving the model last announced itself (scheduler.presence),
    Redis time; None if none did within the presence keep time."""
    now: float
    """Redis time when the place was read."""

    @property
    def worker_silent_s(self) -> float | None:
        """Seconds since a worker serving the model was last seen; None: never."""
        return None if self.worker_seen is None else max(self.now - self.worker_seen, 0.0)


def _place(reply: Sequence[Any]) -> QueuePlace:
    ahead, seen, now = int(reply[0]), _text(reply[1]), float(reply[2])
    return QueuePlace(ahead if ahead >= 0 else None, float(seen) if seen else None, now)


@dataclass(frozen=True)
class Submission:
    job_id: str
    outcome: SubmitOutcome
    limit: Limit | None = None
    retry_after_s: float = 0.0
    queued: int = 0
    place: QueuePlace | None = None
    """The created job's place in its queue, from the submission script itself."""


def _submission(reply: Sequence[Any]) -> Submission:
    outcome = SubmitOutcome(_text(reply[0]))
    if outcome is SubmitOutcome.LIMITED:
        return Submission("", outcome, Limit(_text(reply[1])), retry_after_s=float(reply[2]))
    if outcome is SubmitOutcome.FULL:
        return Submission("", outcome, Limit(_text(reply[1])), queued=int(reply[2]))
    if outcome is SubmitOutcome.CREATED:
        return Submission(_text(reply[1]), outcome, place=_place(reply[2:5]))
    return Submission(_text(reply[1]), outcome)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Delivery:
    """A job handed to a worker: what to run."""

    job_id: str
    entry_id: str
    model: str
    spec: dict[str, Any]
    records: list[dict[str, Any]]
    created: float
    submitter: str


def fingerprint(version: str, records: Sequence[Any]) -> str:
    """What makes two submissions with one idempotency key the same request."""
    body = json.dumps([version, records], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


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

    async def close(self) -> None:
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
        spec: dict[str, Any],
        idempotency_key: str,
        parent_id: str = "",
        limits: AdmissionLimits = NO_LIMITS,
    ) -> Submission:
        """Creates the job in one round trip: its record, its queue entry, its indexes
        and its audit entry, after the idempotency key and the admission limits
        were checked by the same script. Returns the new job's id and place, the
        earlier job an idempotency key names, or why it was refused."""
        job_id = keys.new_job_id(model)
        shard = keys.shard_of_model(model)
        fields = {
            "id": job_id,
            "model": model,
            "version": version,
            "submitter": submitter,
            "record_count": len(records),
            "records": records_json,
            "spec": json.dumps(spec),
            "idem_key": idempotency_key,
            "parent": parent_id,
            **_audited_input(records_json, self.settings.audit_inline_bytes),
        }
        argv: list[Any] = [
            keys.EVENTS_CHANNEL,
            job_id,
            self.settings.job_ttl_s,
            fingerprint(requested_version, records) if idempotency_key else "",
            "1" if idempotency_key else "0",
            *limits.argv(len(records)),
        ]
        for name, value in fields.items():
            argv += [name, value]
        idem_key = keys.idempotency(model, submitter, idempotency_key or "-")
        consensus = spec.get("kind") == "consensus"
        script_keys = [
            keys.job(job_id, shard),
            keys.queue(model),
            idem_key,
            keys.model_jobs(model),
            *keys.observer_keys(model),
            keys.user_budget(submitter, model if self._cluster else None),
            keys.user_model_budget(submitter, model),
            keys.workers(model),
        ]
        if not self._cluster:
            # One server: the script writes the other indexes too, atomically.
            script_keys += [keys.user_jobs(submitter), keys.ALL_JOBS, keys.KNOWN_MODELS]
            if consensus:
                script_keys.append(keys.CONSENSUS_MODELS)
        script = ScriptCall(self._submit, keys=script_keys, args=argv)
        if not self._cluster:
            [reply] = await self._batch.run(script)
            return _submission(reply)
        # Redis Cluster: the indexes live in other slots, out of the script's reach.
        if idempotency_key or limits != NO_LIMITS:
            # The key may name an earlier job, a limit may refuse this one: index
            # only a job this call created.
            [reply] = await self._batch.run(script)
            submission = _submission(reply)
            if submission.outcome is SubmitOutcome.CREATED:
                await self._batch.run(*self._index(job_id, model, submitter, consensus))
            return submission
        # Without a key or limits the job is always created: its indexes ride in
        # the same round trip, just after it. A lost index entry (a crash between
        # the two) hides a job from ListJobs; it never loses the job.
        reply, *_ = await self._batch.run(script, *self._index(job_id, model, submitter, consensus))
        return _submission(reply)

    def _index(self, job_id: str, model: str, submitter: str, consensus: bool) -> list[Command]:
        score = keys.time_of_job(job_id)
        user_jobs = keys.user_jobs(submitter)
        commands: list[Command] = [
            ("ZADD", user_jobs, score, job_id),
            ("EXPIRE", user_jobs, self.settings.job_ttl_s),
            ("ZADD", keys.ALL_JOBS, score, job_id),
            # Every time, though rarely new: after Redis lost its data, the audit
            # shipper, the statistics and the consensus runners find a model here.
            ("SADD", keys.KNOWN_MODELS, model),
        ]
        if consensus:
            commands.append(("SADD", keys.CONSENSUS_MODELS, model))
        return commands

    async def get(self, job_id: str) -> JobRecord | None:
        shard = keys.shard_of_job(job_id)
        if shard is None:
            return None
        [values] = await self._batch.run(("HGETALL", keys.job(job_id, shard)))
        return JobRecord.from_hash(values) if values else None

    async def place(self, job: JobRecord) -> QueuePlace:
        """Where a QUEUED job stands in its model's queue: one more round trip,
        which callers pay only for a job they read as QUEUED."""
        [reply] = await self._batch.run(
            ScriptCall(
                self._place,
                keys=[keys.waiting(job.model), keys.workers(job.model)],
                args=[keys.waiting_member(job.id, job.record_count)],
            )
        )
        return _place(reply)

    async def get_many(self, job_ids: Sequence[str]) -> list[JobRecord | None]:
        commands = []
        for job_id in job_ids:
            shard = keys.shard_of_job(job_id)
            commands.append(("HGETALL", keys.job(job_id, shard if shard is not None else 0)))
        rows = await self._batch.run(*commands)
        return [JobRecord.from_hash(v) if v else None for v in rows]

    async def cancel(self, job: JobRecord, message: str) -> str:
        shard = keys.shard_of_model(job.model)
        status: str = await self._cancel(
            keys=[keys.job(job.id, shard), *keys.observer_keys(job.model)],
            args=[keys.EVENTS_CHANNEL, message],
        )
        return status

    async def page(self, index: str, before: float | None, count: int) -> list[tuple[str, float]]:
        """Up to count (job id, score) pairs of an index, newest first, older than before."""
        top = "+inf" if before is None else f"({before}"
        rows: list[tuple[str, float]] = await self.client.zrevrangebyscore(  # type: ignore[assignment]
            index, top, "-inf", start=0, num=count, withscores=True
        )
        return [(str(job_id), float(score)) for job_id, score in rows]

    # -- worker side ----------------------------------------------------------

    async def ensure_group(self, model: str) -> None:
        try:
            await self.client.xgroup_create(keys.queue(model), keys.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def announce(self, models: Sequence[str], worker: str) -> None:
        """Says that this worker serves these models now, idle or busy: what GetJob's
        no-worker warning and GetJobStats' live workers read. One round trip for all
        the models, repeated every `presence_s`; a name is kept for the job retention,
        so that a warning can say a worker was seen before."""
        if not models:
            return
        await self._batch.run(
            *(
                ScriptCall(
                    self._presence,
                    keys=[keys.workers(model)],
                    args=[worker, self.settings.job_ttl_s],
                )
                for model in models
            ),
            # The statistics list a served model before its first job.
            ("SADD", keys.KNOWN_MODELS, *models),
        )

    async def leave(self, models: Sequence[str], worker: str) -> None:
        """A stopping worker no longer serves these models: it stops counting at once."""
        if models:
            await self._batch.run(*(("ZREM", keys.workers(m), worker) for m in models))

    async def start(self, model: str, job_id: str, entry_id: str, worker: str) -> Delivery | str:
        """Marks the job RUNNING for this worker; returns what to run, or why not."""
        shard = keys.shard_of_model(model)
        [reply] = await self._batch.run(
            ScriptCall(
                self._start,
                keys=[
                    keys.job(job_id, shard),
                    keys.queue(model),
                    keys.start_counter(model),
                    *keys.observer_keys(model),
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
            return str(reply[1])
        self._clock.started(model, entry_id, float(reply[3]))
        spec, records, created, submitter = reply[1], reply[2], reply[3], reply[4]
        return Delivery(
            job_id, entry_id, model, json.loads(spec), json.loads(records), float(created),
            submitter,
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
        shard = keys.shard_of_model(delivery.model)
        finish = ScriptCall(
            self._finish,
            keys=[
                keys.job(delivery.job_id, shard),
                keys.queue(delivery.model),
                *keys.observer_keys(delivery.model),
            ],
            args=[
                keys.EVENTS_CHANNEL,
                delivery.entry_id,
                status.value,
                json.dumps(results) if results is not None else "",
                reason,
                message,
                self.settings.job_ttl_s,
            ],
        )
        final = str((await self._batch.run(finish))[0])
        self._clock.finished(delivery.model, delivery.entry_id, final)
        return final

    async def release(self, delivery: Delivery, worker: str) -> None:
        shard = keys.shard_of_model(delivery.model)
        await self._release(
            keys=[keys.job(delivery.job_id, shard), keys.queue(delivery.model)],
            args=[keys.EVENTS_CHANNEL, delivery.entry_id, worker, self.settings.lease_ms * 10],
        )

    async def renew(self, model: str, entry_ids: Sequence[str], worker: str) -> None:
        """Resets the idle time of entries this worker holds, keeping their lease."""
        if entry_ids:
            await self.client.xclaim(
                keys.queue(model), keys.GROUP, worker, 0, list(entry_ids), justid=True
            )

    async def record_children(self, delivery: Delivery, children: list[dict[str, str]]) -> None:
        shard = keys.shard_of_model(delivery.model)
        await self._progress(
            keys=[keys.job(delivery.job_id, shard)],
            args=[keys.EVENTS_CHANNEL, json.dumps(children)],
        )

    async def consensus_models(self) -> set[str]:
        """Consensus models that have had jobs: the queues a consensus runner serves."""
        members = await self.client.smembers(keys.CONSENSUS_MODELS)
        return {str(m) for m in members}

    async def status_of(self, model: str, job_id: str) -> str | None:
        shard = keys.shard_of_model(model)
        status: str | None = await self.client.hget(keys.job(job_id, shard), "status")  # type: ignore[assignment]
        return status


def _audited_input(records_json: str, inline_bytes: int) -> dict[str, Any]:
    """Job fields telling the transition scripts to audit a large input by hash only."""
    size = len(records_json.encode())
    if size <= inline_bytes:
        return {}
    return {"input_sha256": hashlib.sha256(records_json.encode()).hexdigest(), "input_bytes": size}

