"""A submission refused by an admission limit, in the caller's words: which
limit, whose it is (the model's or the platform's) and when to retry.

The limits themselves are checked by the submission script
(scheduler.scripts, SUBMIT), with the platform's per-user rates
(scheduler.admission.UserRates) and the model's effective limits
(gateway.registry.limits); this module only explains a refusal.
"""

from __future__ import annotations

from gateway.errors import InvalidArgument, ResourceExhausted
from gateway.registry.limits import EffectiveLimits, number
from scheduler.admission import Limit, UserRates
from scheduler.queue import Submission, SubmitOutcome

FULL_RETRY_S = 5.0
"""When to try a full queue again: how fast its workers drain it is not known
here, and a few seconds let them take some jobs without the callers spinning."""


def check_fits(model: str, records: int, limits: EffectiveLimits) -> None:
    """A job that could never be queued is a bad request, not a reason to retry."""
    most = limits.max_queued_records
    if most.value and records > most.value:
        raise InvalidArgument(
            f"model {model!r} holds at most {number(most.value)} records waiting, "
            f"{most.describe()}, and this job carries {records}: split it into smaller jobs"
        )


def refusal(
    submission: Submission, model: str, rates: UserRates, limits: EffectiveLimits, records: int
) -> ResourceExhausted | None:
    """The error to answer a submission refused over a limit; None if it was not."""
    retry_s = submission.retry_after_s
    match submission.limit:
        case Limit.USER_JOBS:
            what = (
                f"you are submitting more than {number(rates.jobs_per_s)} jobs a second "
                f"(bursts of {rates.jobs_burst}), the platform's limit for each user "
                "(MODELGW_USER_JOBS_PER_SECOND)"
            )
        case Limit.USER_RECORDS:
            what = (
                f"you are submitting more than {number(rates.records_per_s)} records a second "
                f"(bursts of {rates.records_burst}), the platform's limit for each user "
                "(MODELGW_USER_RECORDS_PER_SECOND)"
            )
        case Limit.MODEL_USER_JOBS:
            rate = limits.user_jobs_per_second
            what = (
                f"you are submitting to model {model!r} more than {number(rate.value)} jobs a "
                f"second (bursts of {limits.admission.user_jobs_burst}), "
                f"{rate.describe()} for each user"
            )
        case Limit.QUEUED_JOBS:
            what = (
                f"model {model!r} has {submission.queued} jobs waiting, the most "
                f"{limits.max_queued_jobs.describe()} allows"
            )
            retry_s = FULL_RETRY_S
        case Limit.QUEUED_RECORDS:
            what = (
                f"model {model!r} has {submission.queued} records waiting and this job "
                f"carries {records}, more than {limits.max_queued_records.describe()} allows"
            )
            retry_s = FULL_RETRY_S
        case _:
            return None
    when = (
        f"retry in {retry_s:.2f} s"
        if submission.outcome is SubmitOutcome.LIMITED
        else f"retry in {number(retry_s)} s, when its workers have taken some"
    )
    return ResourceExhausted(f"{what}: {when}", retry_after_s=retry_s)
