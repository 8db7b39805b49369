"""What a submission writes and what it answers: the new job's hash fields, the
keys and arguments of the submission script (scheduler.scripts.SUBMIT), the
index commands a Redis Cluster needs besides, and the script's reply read as
a Submission."""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scheduler import keys
from scheduler.admission import AdmissionLimits, Limit
from scheduler.batch import Command
from scheduler.job import JobRecord, JobSpec, JobStatus, Transition


class SubmitOutcome(enum.Enum):
    """What the submission script did with a job."""

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
    """QUEUED jobs of its version's queue submitted before this one; None once it
    left the queue."""
    worker_seen: float | None
    """When a worker reading its version's queue last announced itself (JobQueue.announce),
    Redis time; None if none did within the presence keep time."""
    now: float
    """Redis time when the place was read."""

    @property
    def worker_silent_s(self) -> float | None:
        """Seconds since a worker serving the model was last seen; None: never."""
        return None if self.worker_seen is None else max(self.now - self.worker_seen, 0.0)


def read_place(reply: Sequence[Any]) -> QueuePlace:
    """The place of a job as the PLACE script (or SUBMIT's tail) replies it."""
    ahead, seen, now = int(reply[0]), _text(reply[1]), float(reply[2])
    return QueuePlace(ahead if ahead >= 0 else None, float(seen) if seen else None, now)


@dataclass(frozen=True)
class Submission:
    """The answer to a submission: the job it names and what became of it."""

    job_id: str
    outcome: SubmitOutcome
    limit: Limit | None = None
    retry_after_s: float = 0.0
    queued: int = 0
    place: QueuePlace | None = None
    """The created job's place in its queue, from the submission script itself."""
    job: JobRecord | None = None
    """The created job as it was stored, QUEUED; None for any other outcome."""


@dataclass(frozen=True)
class NewJob:
    """A job about to be submitted: everything its record is made of."""

    id: str
    model: str
    version: str
    submitter: str
    records: list[dict[str, Any]]
    records_json: str
    spec: JobSpec
    idempotency_key: str
    parent_id: str
    route: str = ""
    """Why it runs its version (rollouts.routing.Route)."""
    rollout_id: str = ""

    def fields(self, audit_inline_bytes: int) -> dict[str, Any]:
        """The job's hash fields the script writes (it adds created, attempts, status)."""
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "submitter": self.submitter,
            "record_count": len(self.records),
            "records": self.records_json,
            "spec": self.spec.to_json(),
            "idem_key": self.idempotency_key,
            "parent": self.parent_id,
            "queue": self.version,
            "route": self.route,
            "rollout": self.rollout_id,
            **_audited_input(self.records_json, audit_inline_bytes),
        }

    def script_keys(self, cluster: bool) -> list[str]:
        """The SUBMIT script's keys: on one server also the indexes in other slots."""
        job = keys.job(self.id, keys.shard_of_model(self.model))
        return [job, *_shared_keys(
            self.model, self.version, self.submitter, self.idempotency_key or "-", cluster,
            self.spec.consensus,
        )]  # fmt: skip

    def script_args(
        self, requested_version: str, limits: AdmissionLimits, ttl_s: int, inline_bytes: int
    ) -> list[Any]:
        """The SUBMIT script's arguments, the job's fields last as name/value pairs."""
        keyed = bool(self.idempotency_key)
        argv: list[Any] = [
            keys.EVENTS_CHANNEL,
            self.id,
            ttl_s,
            fingerprint(requested_version, self.records) if keyed else "",
            "1" if keyed else "0",
            *limits.argv(len(self.records)),
            self.version,
        ]
        for name, value in self.fields(inline_bytes).items():
            argv += [name, value]
        return argv

    def index_commands(self, ttl_s: int) -> list[Command]:
        """On a Redis Cluster: the index entries the script cannot reach."""
        score = keys.time_of_job(self.id)
        user_jobs = keys.user_jobs(self.submitter)
        commands: list[Command] = [
            ("ZADD", user_jobs, score, self.id),
            ("EXPIRE", user_jobs, ttl_s),
            ("ZADD", keys.ALL_JOBS, score, self.id),
            # Every time, though rarely new: after Redis lost its data, the audit
            # shipper, the statistics and the consensus runners find a model here.
            ("SADD", keys.KNOWN_MODELS, self.model),
        ]
        if self.spec.consensus:
            commands.append(("SADD", keys.CONSENSUS_MODELS, self.model))
        return commands

    def submission(self, reply: Sequence[Any]) -> Submission:
        """The script's reply; a created job comes with its QUEUED record."""
        outcome = SubmitOutcome(_text(reply[0]))
        if outcome is SubmitOutcome.LIMITED:
            return Submission("", outcome, Limit(_text(reply[1])), retry_after_s=float(reply[2]))
        if outcome is SubmitOutcome.FULL:
            return Submission("", outcome, Limit(_text(reply[1])), queued=int(reply[2]))
        if outcome is not SubmitOutcome.CREATED:
            return Submission(_text(reply[1]), outcome)
        place = read_place(reply[2:5])
        return Submission(self.id, outcome, place=place, job=self._queued(place.now))

    def _queued(self, at: float) -> JobRecord:
        """The record as the script stored it, created at Redis time `at`."""
        return JobRecord(
            id=self.id,
            model=self.model,
            version=self.version,
            submitter=self.submitter,
            status=JobStatus.QUEUED,
            created=at,
            record_count=len(self.records),
            transitions=(Transition(JobStatus.QUEUED, at),),
            idempotency_key=self.idempotency_key,
            spec=self.spec,
            parent_id=self.parent_id,
            queue_version=self.version,
            route=self.route,
            rollout_id=self.rollout_id,
        )


def fingerprint(version: str, records: Sequence[Any]) -> str:
    """What makes two submissions with one idempotency key the same request."""
    body = json.dumps([version, records], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _audited_input(records_json: str, inline_bytes: int) -> dict[str, Any]:
    """Job fields telling the transition scripts to audit a large input by hash only."""
    size = len(records_json.encode())
    if size <= inline_bytes:
        return {}
    return {"input_sha256": hashlib.sha256(records_json.encode()).hexdigest(), "input_bytes": size}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@functools.lru_cache(maxsize=4096)
def _shared_keys(
    model: str, version: str, submitter: str, idempotency_key: str, cluster: bool, consensus: bool
) -> tuple[str, ...]:
    """The SUBMIT script's keys after the job's own, which every job of the same
    user, version and idempotency key shares: made once (four of them hash a name)."""
    out = [
        keys.queue(model, version),
        keys.idempotency(model, submitter, idempotency_key),
        keys.model_jobs(model),
        *keys.observer_keys(model, version),
        keys.user_budget(submitter, model if cluster else None),
        keys.user_model_budget(submitter, model),
        keys.version_workers(model, version),
        keys.version_workers(model, keys.ALL_VERSIONS),
        keys.versions(model),
    ]
    if not cluster:
        out += [keys.user_jobs(submitter), keys.ALL_JOBS, keys.KNOWN_MODELS]
        if consensus:
            out.append(keys.CONSENSUS_MODELS)
    return tuple(out)
