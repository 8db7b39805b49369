"""What a submission answers: what became of the job (a Submission) and, for a
created job, its place in the queue; and what makes two submissions with one
idempotency key the same request. The submission script's keys and arguments
are scheduler.bulk's."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.admission import Limit
from scheduler.job import JobRecord


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


def fingerprint(version: str, records: Sequence[Any]) -> str:
    """What makes two submissions with one idempotency key the same request."""
    body = json.dumps([version, records], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
