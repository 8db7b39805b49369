"""Submissions in script calls: the submission script's (scheduler.scripts.SUBMIT)
keys and arguments for a group of jobs, and its reply read as one outcome per job.

A SubmitJobs call of 10,000 jobs would cost 10,000 script calls if each job had
its own, each reading the clock, the queue's counts, the buckets and the
version's workers again, and each observing its job through the job's own hash.
One call does that work for a group of jobs that share a model version, a route
and admission limits: what they share is read and written once (the clock, the
counts, the queue's existence, the indexes, the place), each of their
submitters' buckets once, and each job costs its own writes only: its hash, its
audit entry, its queue entry and, with an idempotency key, that key. The result
is the same as the group's jobs submitted one after another: each job is
checked against its idempotency key and the admission limits in order, as the
jobs before it left them, and is created, refused or named a duplicate on its
own. A single submission is a group of one, and the single submissions of
concurrent callers are grouped too (scheduler.coalesce).

The jobs of one call get distinct creation times a microsecond apart from the
call's clock reading, in order, so that their places in the waiting index
follow their order in the queue (the script runs far longer than that per job,
so no next call's time comes before them).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from redis.commands.core import AsyncScript

from scheduler import keys
from scheduler.admission import NO_LIMITS, AdmissionLimits, Limit
from scheduler.batch import Command, ScriptCall
from scheduler.job import JobRecord, JobSpec, JobStatus, Transition
from scheduler.settings import QueueSettings
from scheduler.submission import QueuePlace, Submission, SubmitOutcome, fingerprint

MAX_JOBS_PER_SCRIPT = 500
"""Jobs one script call submits: a script blocks the Redis server while it runs, so a
large group goes as several calls (in one round trip), a few milliseconds each."""


@dataclass(frozen=True)
class JobGroup:
    """What the jobs of one script call share: one model version, its spec, one
    route and one set of admission limits."""

    model: str
    version: str
    spec: JobSpec
    limits: AdmissionLimits = NO_LIMITS
    route: str = ""
    rollout_id: str = ""


class GroupJob(NamedTuple):
    """One job of a group: its submitter, its records (and their JSON), its
    idempotency key and the version its caller named ('' for none: part of the
    key's fingerprint), and the consensus job it is a child of ('' for none).
    (A tuple: one is made for every job, and a tuple is the cheapest to make.)"""

    submitter: str
    records: list[dict[str, Any]]
    records_json: str
    idempotency_key: str = ""
    requested_version: str = ""
    parent_id: str = ""


class Queued(NamedTuple):
    """A job the script created: QUEUED since `created` (Redis time), with
    `jobs_ahead` jobs before it in its version's queue."""

    job_id: str
    created: float
    jobs_ahead: int


@dataclass(frozen=True)
class GroupReply:
    """Each job's outcome, in the group's order, and what their places share."""

    results: list[Queued | Submission]
    """Queued for a created job; for any other outcome the Submission SUBMIT gives."""
    worker_seen: float | None
    """When a worker of the version (or of all the model's versions) last announced itself."""
    now: float
    """Redis time when the script ran."""

    def submission(self, group: JobGroup, job: GroupJob, index: int) -> Submission:
        """The outcome of the group's job at `index` (`job`), as a single submission's:
        a created job with its QUEUED record and its place."""
        result = self.results[index]
        if not isinstance(result, Queued):
            return result
        at = result.created
        record = JobRecord(
            id=result.job_id, model=group.model, version=group.version,
            submitter=job.submitter, status=JobStatus.QUEUED, created=at, revision=1,
            record_count=len(job.records), transitions=(Transition(JobStatus.QUEUED, at),),
            idempotency_key=job.idempotency_key, spec=group.spec, parent_id=job.parent_id,
            queue_version=group.version, route=group.route, rollout_id=group.rollout_id,
        )  # fmt: skip
        place = QueuePlace(result.jobs_ahead, self.worker_seen, self.now)
        return Submission(result.job_id, SubmitOutcome.CREATED, place=place, job=record)


class GroupSubmission:
    """One group's script calls, and their replies read back."""

    def __init__(
        self, group: JobGroup, jobs: Sequence[GroupJob], cluster: bool, settings: QueueSettings
    ) -> None:
        self.group = group
        self.jobs = jobs
        self.ids = keys.new_job_ids(group.model, len(jobs))
        self._shard = keys.shard_of_model(group.model)
        self._cluster = cluster
        self._settings = settings

    def calls(self, script: AsyncScript) -> list[ScriptCall]:
        """The script calls that submit the group, MAX_JOBS_PER_SCRIPT jobs each."""
        group = self.group
        shared = _shared_keys(group.model, group.version, self._cluster, group.spec.consensus)
        head = self._shared_args(len(shared))
        calls = []
        for start in range(0, len(self.jobs), MAX_JOBS_PER_SCRIPT):
            end = min(start + MAX_JOBS_PER_SCRIPT, len(self.jobs))
            users: dict[str, int] = {}
            for job in self.jobs[start:end]:
                users.setdefault(job.submitter, len(users) + 1)
            script_keys = list(shared)
            for user in users:
                script_keys += _user_keys(user, group.model, self._cluster)
            lines: list[str] = []
            inputs: list[str] = []
            idempotency: list[str] = []
            for index in range(start, end):
                lines.append(self._add_job(index, users, script_keys, inputs, idempotency))
            args = [*head, "\n".join(lines), "".join(inputs), "".join(idempotency), *users]
            calls.append(ScriptCall(script, keys=script_keys, args=args))
        return calls

    def _shared_args(self, shared_keys: int) -> list[Any]:
        group = self.group
        # The record count is each job's own: it travels with the job.
        limits = group.limits.argv(0)[:-1]
        return [
            shared_keys, 2 if self._cluster else 3, self._settings.job_ttl_s, *limits,
            group.model, group.version, group.spec.to_json(), group.route, group.rollout_id,
        ]  # fmt: skip

    def _add_job(
        self,
        index: int,
        users: dict[str, int],
        script_keys: list[str],
        inputs: list[str],
        idempotency: list[str],
    ) -> str:
        """Adds the job's keys, records and idempotency key; returns its line."""
        job, job_id = self.jobs[index], self.ids[index]
        script_keys.append(keys.job(job_id, self._shard))
        keyed, key_size = "", 0
        if job.idempotency_key:
            keyed = fingerprint(job.requested_version, job.records)
            script_keys.append(
                keys.idempotency(self.group.model, job.submitter, job.idempotency_key)
            )
            idempotency.append(job.idempotency_key)
            key_size = _bytes(job.idempotency_key)
        inputs.append(job.records_json)
        size = _bytes(job.records_json)
        sha, audited = _audited_input(job.records_json, size, self._settings.audit_inline_bytes)
        return (
            f"{job_id} {users[job.submitter]} {len(job.records)} {size} {key_size} {keyed} "
            f"{sha} {audited} {job.parent_id}"
        )

    def read(self, replies: Iterator[Any]) -> GroupReply:
        """The group's outcomes from its calls' replies, taken in order from `replies`."""
        results: list[Queued | Submission] = []
        seen: float | None = None
        now = 0.0
        for start in range(0, len(self.jobs), MAX_JOBS_PER_SCRIPT):
            reply = next(replies)
            now = float(reply[0])
            seen = float(reply[1]) if reply[1] else None
            for offset in range(2, len(reply), 3):
                job_id = self.ids[start + (offset - 2) // 3]
                results.append(
                    _outcome(job_id, reply[offset], reply[offset + 1], reply[offset + 2])
                )
        return GroupReply(results, seen, now)

    def index_commands(self, reply: GroupReply) -> list[Command]:
        """On a Redis Cluster: the created jobs' entries in the indexes of other slots."""
        by_user: dict[str, list[Any]] = {}
        for job, result in zip(self.jobs, reply.results, strict=True):
            if isinstance(result, Queued):
                scored = by_user.setdefault(job.submitter, [])
                scored += (keys.time_of_job(result.job_id), result.job_id)
        if not by_user:
            return []
        ttl, commands = self._settings.job_ttl_s, []
        for user, scored in by_user.items():
            user_jobs = keys.user_jobs(user)
            commands += [("ZADD", user_jobs, *scored), ("EXPIRE", user_jobs, ttl)]
        every = [v for scored in by_user.values() for v in scored]
        commands += [("ZADD", keys.ALL_JOBS, *every), ("SADD", keys.KNOWN_MODELS, self.group.model)]
        if self.group.spec.consensus:
            commands.append(("SADD", keys.CONSENSUS_MODELS, self.group.model))
        return commands


@functools.lru_cache(maxsize=4096)
def _shared_keys(model: str, version: str, cluster: bool, consensus: bool) -> tuple[str, ...]:
    """The script's keys that every job of a model version shares: made once
    (several of them hash a name)."""
    out = [
        keys.queue(model, version),
        keys.model_jobs(model),
        *keys.observer_keys(model, version),
        keys.version_workers(model, version),
        keys.version_workers(model, keys.ALL_VERSIONS),
        keys.versions(model),
    ]
    if not cluster:
        out += [keys.ALL_JOBS, keys.KNOWN_MODELS]
        if consensus:
            out.append(keys.CONSENSUS_MODELS)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _user_keys(user: str, model: str, cluster: bool) -> tuple[str, ...]:
    """A submitter's keys: its budget, its budget on the model and, on a single
    server, its index (on a cluster that lives in another slot)."""
    budget = keys.user_budget(user, model if cluster else None)
    if cluster:
        return budget, keys.user_model_budget(user, model)
    return budget, keys.user_model_budget(user, model), keys.user_jobs(user)


def _outcome(job_id: str, kind: str, first: str, second: str) -> Queued | Submission:
    if kind == "created":
        return Queued(job_id, float(first), int(second))
    outcome = SubmitOutcome(kind)
    if outcome is SubmitOutcome.LIMITED:
        return Submission("", outcome, Limit(first), retry_after_s=float(second))
    if outcome is SubmitOutcome.FULL:
        return Submission("", outcome, Limit(first), queued=int(second))
    return Submission(first, outcome)  # the earlier job a reused key names


def _bytes(text: str) -> int:
    """Its length in UTF-8, the script's measure."""
    return len(text) if text.isascii() else len(text.encode())


def _audited_input(records_json: str, size: int, inline_bytes: int) -> tuple[str, str]:
    """('', '') for an input the audit entry carries; else its hash and size."""
    if size <= inline_bytes:
        return "", ""
    return hashlib.sha256(records_json.encode()).hexdigest(), str(size)
