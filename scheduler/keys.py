"""Every Redis key and channel name of the job protocol, in one place.

All keys of one model's queue and of its jobs share a Redis Cluster hash tag,
the model's *shard* `{mg:xxxx}` (16 bits of a hash of the model name), so that
a submission (job record, queue entry, idempotency key, index entry) is one
atomic Lua call on one node, and the same code runs on a single Redis and on a
cluster. Job ids are UUIDv8 (RFC 9562) carrying the shard, so a job is found
from its id alone: time-ordered (48-bit millisecond timestamp), then the
shard, then random bits.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
import uuid
import zlib

GROUP = "workers"
"""The consumer group every worker of a model reads its queue through."""

EVENTS_CHANNEL = "mg:events"
"""Pub/sub channel of job status changes: messages are '<job id> <STATUS>'."""

QUEUES_CHANNEL = "mg:queues"
"""Pub/sub channel of new version queues: '<model>@<version>', published by the
submission that made the queue, so that workers serving the whole model read it
at once (scheduler.delivery.NewQueues), not at their next discovery."""

ALL_JOBS = "mg:jobs"
"""Sorted set of every job id, scored by submission time (superusers' ListJobs)."""

KNOWN_MODELS = "mg:models"
"""Set of model names that have ever had a queue: a submission or a worker serving
the model creates one (for the scheduler's duties and the job statistics)."""

CONSENSUS_MODELS = "mg:consensus-models"
"""Set of consensus model names that have had jobs (the consensus runner's queues)."""

_SHARD_MASK = 0xFFFF


def shard_of_model(model: str) -> int:
    """The model's shard: 16 bits of a CRC of its name, the same in every process."""
    return zlib.crc32(model.encode()) & _SHARD_MASK


def tag(shard: int) -> str:
    """The hash tag of a shard, `{mg:xxxx}`: every key of its models carries it."""
    return f"{{mg:{shard:04x}}}"


def job(job_id: str, shard: int) -> str:
    """The hash of one job."""
    return f"{tag(shard)}:job:{job_id}"


ALL_VERSIONS = "*"
"""The version a worker serving every version of a model announces itself under."""


def queue(model: str, version: str = "") -> str:
    """A version's FIFO queue: a Redis stream read through consumer group GROUP.
    Every version has its own, so it can have workers of its own and drain on its
    own; version '' names the model's queue of earlier releases, which held every
    version's jobs (workers serving all the model's versions still read it)."""
    if not version:
        return f"{tag(shard_of_model(model))}:queue:{model}"
    return f"{tag(shard_of_model(model))}:queue:{model}@{version}"


def versions(model: str) -> str:
    """Set of the model's versions that have had a queue (the first submission to
    a version adds it): what a worker serving all versions reads, and the statistics."""
    return f"{tag(shard_of_model(model))}:versions:{model}"


def start_counter(model: str) -> str:
    """Counts the model's job starts; each job records its number (FIFO evidence)."""
    return f"{tag(shard_of_model(model))}:starts:{model}"


def model_jobs(model: str) -> str:
    """Sorted set of the model's job ids by submission time."""
    return f"{tag(shard_of_model(model))}:jobs:{model}"


def workers(model: str) -> str:
    """Sorted set of the names of workers serving the model, scored by when each
    last announced itself (Redis time): a worker is seen while idle, not only
    once a job was delivered to it (XINFO CONSUMERS lists a consumer only then)."""
    return f"{tag(shard_of_model(model))}:workers:{model}"


def version_workers(model: str, version: str) -> str:
    """Like workers(), for the workers reading one version's queue; version
    ALL_VERSIONS: the workers reading every version's queue of the model."""
    return f"{tag(shard_of_model(model))}:vworkers:{model}@{version}"


def idempotency(model: str, user: str, key: str) -> str:
    # Hashed: user names and keys are free text and must not leak braces
    # (hash tags) or separators into the key.
    """Where a user's idempotency key on a model names its job."""
    digest = hashlib.sha256(f"{user}\x00{key}".encode()).hexdigest()[:32]
    return f"{tag(shard_of_model(model))}:idem:{model}:{digest}"


def user_jobs(user: str) -> str:
    """Sorted set of the user's job ids by submission time (in its own slot)."""
    digest = hashlib.sha256(user.encode()).hexdigest()[:16]
    return f"{{mgu:{digest}}}:jobs"


def user_budget(user: str, model: str | None = None) -> str:
    """The user's submission budget (a token bucket). On Redis Cluster a script
    reaches one slot only, so there it is the user's budget on that model's shard."""
    digest = hashlib.sha256(user.encode()).hexdigest()[:16]
    if model is None:
        return f"{{mgu:{digest}}}:budget"
    return f"{tag(shard_of_model(model))}:budget:{digest}"


def user_model_budget(user: str, model: str) -> str:
    """The user's submission budget on one model (a token bucket), for a model
    whose limits give each user a rate of their own there."""
    digest = hashlib.sha256(user.encode()).hexdigest()[:16]
    return f"{tag(shard_of_model(model))}:model-budget:{model}:{digest}"


def new_job_id(model: str, now_ms: int | None = None) -> str:
    """A UUID version 8 carrying the model's shard, so a job's id alone finds its keys."""
    return new_job_ids(model, 1, now_ms)[0]


def new_job_ids(model: str, count: int, now_ms: int | None = None) -> list[str]:
    """`count` new job ids of model (see new_job_id): one clock reading and one draw
    of randomness for all of them."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    head = (ms & ((1 << 48) - 1)) << 80 | 0x8 << 76 | 0b10 << 62 | shard_of_model(model) << 46
    drawn = os.urandom(8 * count)
    ids = []
    for start in range(0, 8 * count, 8):
        rand = int.from_bytes(drawn[start : start + 8], "big")
        # version 8 and the RFC 9562 variant in head; random bits around the shard
        value = head | (rand & 0xFFF) << 64 | (rand >> 12) & ((1 << 46) - 1)
        h = f"{value:032x}"  # str(uuid.UUID(int=value)), without its cost
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def shard_of_job(job_id: str) -> int | None:
    """The shard a job id carries, or None if it is not a UUID this platform issued."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        return None
    if parsed.version != 8 or str(parsed) != job_id:  # canonical form only
        return None
    return (parsed.int >> 46) & _SHARD_MASK


def time_of_job(job_id: str) -> float:
    """The submission time (epoch seconds) a job id carries in its first 48 bits."""
    return int(job_id.replace("-", "")[:12], 16) / 1000.0


# -- observation: audit, counters, finished and waiting indexes --------------
# Every transition script also writes these (scheduler.scripts, `observe`): the
# caller declares them in KEYS, in the order observer_keys gives.

AUDIT_GROUP = "audit"
"""The consumer group the audit shipper reads every audit stream through."""


def audit(model: str) -> str:
    """The model's audit stream: one entry per job status transition."""
    return f"{tag(shard_of_model(model))}:audit:{model}"


def counts(model: str) -> str:
    """Hash of the model's job counts: QUEUED and RUNNING now; terminal statuses
    ever; QUEUED_RECORDS, the records the waiting jobs carry."""
    return f"{tag(shard_of_model(model))}:counts:{model}"


def finished(model: str) -> str:
    """Sorted set of finished jobs by end time; members 'id|STATUS|exec_s|wait_s'."""
    return f"{tag(shard_of_model(model))}:finished:{model}"


def waiting(model: str, version: str = "") -> str:
    """Sorted set of the QUEUED jobs of a version's queue by submission time: the
    jobs that precede one in it are the jobs ahead of it in the queue. Members are
    waiting_member(id, records): a job's records leave QUEUED_RECORDS with it,
    even once its record has expired. Version '': the queue of earlier releases."""
    if not version:
        return f"{tag(shard_of_model(model))}:waiting:{model}"
    return f"{tag(shard_of_model(model))}:waiting:{model}@{version}"


def waiting_member(job_id: str, record_count: int) -> str:
    """A job's member of its model's waiting index (the scripts' `waiter`)."""
    return f"{job_id}|{record_count}"


def waiting_job(member: str) -> str:
    """The job id of a member of a waiting index."""
    return member.split("|", 1)[0]


def version_counts(model: str, version: str) -> str:
    """Like counts(), of one version's jobs (version '': the jobs of the queue of
    earlier releases); QUEUED_RECORDS is kept for the model only."""
    return f"{tag(shard_of_model(model))}:vcounts:{model}@{version}"


def version_finished(model: str, version: str) -> str:
    """Like finished(), of one version's jobs; members
    'id|STATUS|exec_s|wait_s|failed records|records' (the guardrails' figures)."""
    return f"{tag(shard_of_model(model))}:vfinished:{model}@{version}"


@functools.lru_cache(maxsize=4096)
def observer_keys(model: str, version: str) -> tuple[str, str, str, str, str, str]:
    """The keys every transition script also writes, in the order the scripts read
    them, for a job in the queue of `version` ('': the queue of earlier releases);
    computed once per version, as every transition needs them."""
    return (
        counts(model),
        finished(model),
        audit(model),
        waiting(model, version),
        version_counts(model, version),
        version_finished(model, version),
    )
