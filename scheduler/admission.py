"""What one submission may take: the limits the submission script checks itself
(scheduler.scripts, SUBMIT), so that every server process shares them at no
extra round trip. 0 turns a limit off.

Two parts travel to the script: each user's platform-wide token buckets
(UserRates, from the gateway's configuration) and the limits of the model
submitted to (ModelAdmission, the model's effective limits from the registry:
gateway.registry.limits).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any


class Limit(enum.Enum):
    """Which admission limit refused a submission (the script names it)."""

    USER_JOBS = "user_jobs"
    USER_RECORDS = "user_records"
    MODEL_USER_JOBS = "model_user_jobs"
    QUEUED_JOBS = "queued_jobs"
    QUEUED_RECORDS = "queued_records"


@dataclass(frozen=True)
class UserRates:
    """Each user's token buckets, across every model."""

    jobs_per_s: float = 0.0
    jobs_burst: int = 0
    """A user's bucket of jobs: refilled at jobs_per_s, holding at most this."""
    records_per_s: float = 0.0
    records_burst: int = 0
    """The same bucket for the records those jobs carry."""


@dataclass(frozen=True)
class ModelAdmission:
    """The limits of one model's queue, shared by everyone submitting to it."""

    max_queued_jobs: int = 0
    """Jobs the queue may hold waiting before submissions to it are refused."""
    max_queued_records: int = 0
    """Records the waiting jobs may carry together."""
    user_jobs_per_s: float = 0.0
    """Each user's bucket of jobs on this model, on top of their UserRates."""

    @property
    def user_jobs_burst(self) -> int:
        """One second's worth, and at least one job, so that any rate admits a job."""
        return max(1, math.ceil(self.user_jobs_per_s)) if self.user_jobs_per_s else 0


NO_RATES = UserRates()
NO_MODEL_LIMITS = ModelAdmission()


@dataclass(frozen=True)
class AdmissionLimits:
    """What the submission script checks: the user's rates and the model's caps."""

    users: UserRates = NO_RATES
    model: ModelAdmission = NO_MODEL_LIMITS

    def argv(self, record_count: int) -> list[Any]:
        """The script's admission arguments, in the order scheduler.scripts.SUBMIT reads them."""
        users, model = self.users, self.model
        return [
            users.jobs_per_s,
            users.jobs_burst,
            users.records_per_s,
            users.records_burst,
            model.max_queued_jobs,
            model.max_queued_records,
            model.user_jobs_per_s,
            model.user_jobs_burst,
            record_count,
        ]


NO_LIMITS = AdmissionLimits()
