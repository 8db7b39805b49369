"""SubmitJobs: many jobs in one call, each accepted or refused on its own.

Every job of the call goes through SubmitJob's checks, in SubmitJob's order,
and a refused job gets the status SubmitJob would have answered for it (its
code, message and details) as its result, while the others are queued: the
right to run its model, the request checks (ExecutionService._check_request),
its version's resolution, the model's queue size, its records against the
version's input schema, and the admission limits and idempotency key checked
by the submission script (ExecutionService._check_accepted explains a refusal).

The interceptor authorizes SubmitJob by the request's model field; a SubmitJobs
call names any number of models, so its rule lets every signed-in caller in
and the right to run each model is decided here, by the same policy and the
same answers: NOT_FOUND for a model the caller may not read (its existence is
not given away), PERMISSION_DENIED for one they may read but not run.

What makes it fast is what the jobs share. Each distinct model is authorized
once a call, and each distinct (model, version) resolved once (a model under a
rollout splits by each job's key, so there each job is resolved by its key, as
SubmitJob would). Jobs of one model version and route go to Redis together, as
submission script calls (scheduler.bulk), every group of the call in one round
trip; each created job's message is a copy of its group's, with its own id,
time, record count, key and place.

Jobs of several groups are checked against the caller's admission limits group
by group, in the order each group's first job has in the call: when a rate
runs out in the middle of a call, the jobs refused are the last of that order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import grpc

from authz.actions import Action
from authz.enforcer import AccessPolicy, Decision
from gateway.errors import ApiError, InvalidArgument, NotFound
from gateway.execution import admission
from gateway.execution import records as input_records
from gateway.execution.messages import job_message
from gateway.execution.resolution_cache import ResolutionCache, RunnableVersion
from gateway.execution.waiting import with_place
from gateway.interceptor import caller, refusal, status_of
from modelgateway.v1 import execution_pb2, job_pb2
from rollouts.routing import Route
from scheduler.admission import AdmissionLimits
from scheduler.bulk import GroupJob, GroupReply, JobGroup, Queued
from scheduler.job import JobRecord, JobSpec, JobStatus
from scheduler.queue import JobQueue, QueuePlace, Submission

if TYPE_CHECKING:
    from gateway.execution.service import ExecutionLimits

MAX_JOBS = 10_000
"""Jobs one SubmitJobs call may carry (the message size limit applies too)."""

_to_json = json.JSONEncoder(separators=(",", ":")).encode
"""json.dumps(records, separators=(",", ":")), as SubmitJob stores records, without
building an encoder for every job."""


class Service(Protocol):
    """What SubmitJobs uses of the ExecutionService it is a method of (the servers'
    tests, not mypy, hold the service to it: its generated base class is untyped)."""

    _queue: JobQueue
    _resolutions: ResolutionCache
    _access: AccessPolicy
    _limits: ExecutionLimits

    def _check_request(self, request: execution_pb2.SubmitJobRequest) -> None: ...

    def _check_accepted(
        self,
        request: execution_pb2.SubmitJobRequest,
        submission: Submission,
        runnable: RunnableVersion,
    ) -> None: ...

    async def _message(self, job: JobRecord, *, with_results: bool) -> job_pb2.Job: ...


async def SubmitJobs(
    service: Service,
    request: execution_pb2.SubmitJobsRequest,
    context: grpc.aio.ServicerContext,
) -> execution_pb2.SubmitJobsResponse:
    """Validates and queues each job of the call on its own; one result per job, in order."""
    count = len(request.jobs)
    if count == 0:
        raise InvalidArgument("jobs is required: give at least one job, each as SubmitJob takes it")
    if count > MAX_JOBS:
        raise InvalidArgument(
            f"a SubmitJobs call carries at most {MAX_JOBS:,} jobs; {count:,} were given: "
            "split them into several calls",
            field="jobs",
        )
    return await _Call(service, count).run(request.jobs)


@dataclass
class _Group:
    """Jobs of the call that one script call submits, and where their results go."""

    runnable: RunnableVersion
    group: JobGroup
    jobs: list[GroupJob] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    requests: list[execution_pb2.SubmitJobRequest] = field(default_factory=list)


_GroupKey = tuple[str, str, str, str, str]
_UNDECIDED: ApiError | None = ApiError("not decided yet")  # a sentinel: no decision yet


class _Call:
    """One SubmitJobs call: what its jobs share (decisions, resolutions, groups)
    and its response, filled in place."""

    def __init__(self, service: Service, count: int) -> None:
        self._service = service
        self._principal = caller()
        self._decided: dict[str, ApiError | None] = {}
        self._resolved: dict[tuple[str, str], tuple[RunnableVersion, bool] | ApiError] = {}
        self._groups: dict[_GroupKey, _Group] = {}
        self._duplicates: list[tuple[int, str]] = []
        self.response = execution_pb2.SubmitJobsResponse()
        self._results = self.response.results
        for _ in range(count):
            self._results.add()

    async def run(
        self, jobs: Sequence[execution_pb2.SubmitJobRequest]
    ) -> execution_pb2.SubmitJobsResponse:
        for index, job in enumerate(jobs):
            await self._take(index, job)
        groups = list(self._groups.values())
        replies = await self._service._queue.submit_many([(g.group, g.jobs) for g in groups])
        for group, reply in zip(groups, replies, strict=True):
            self._answer(group, reply)
        if self._duplicates:
            await self._answer_duplicates()
        return self.response

    async def _take(self, index: int, job: execution_pb2.SubmitJobRequest) -> None:
        """SubmitJob's checks of one job, in its order; the job joins its group, or
        its result is the error SubmitJob would have answered."""
        try:
            refused = self._decided.get(job.model, _UNDECIDED)
            if refused is _UNDECIDED:
                refused = self._decided[job.model] = await self._refusal(job.model)
            if refused is not None:
                raise refused.with_traceback(None)  # raised for every job of the model
            self._service._check_request(job)
            known = self._resolved.get((job.model, job.version))
            if isinstance(known, tuple) and not known[1]:  # the hot path: no await
                runnable = known[0]
            else:
                runnable = await self._runnable(job)
            records = _checked_records(job, runnable)
        except ApiError as exc:
            self._results[index].error.CopyFrom(status_of(exc))
            return
        group = self._group_of(runnable)
        group.jobs.append(
            GroupJob(
                self._principal.user, records, _to_json(records), job.idempotency_key, job.version
            )
        )
        group.indexes.append(index)
        group.requests.append(job)

    async def _refusal(self, model: str) -> ApiError | None:
        if not model:
            return InvalidArgument("model is required: the name of the model")
        access = self._service._access
        decision = access.decide(self._principal, Action.RUN, model)
        if decision is not Decision.ALLOW and await access.ensure_fresh():
            decision = access.decide(self._principal, Action.RUN, model)  # a fresh grant
        return None if decision is Decision.ALLOW else refusal(decision, Action.RUN, model)

    async def _runnable(self, job: execution_pb2.SubmitJobRequest) -> RunnableVersion:
        """The version the job runs: resolved once per (model, version) of the call,
        unless a rollout splits it by each job's key."""
        key = job.routing_key or job.idempotency_key
        known = self._resolved.get((job.model, job.version))
        if known is None:
            try:
                runnable = await self._service._resolutions.runnable(job.model, job.version, key)
            except ApiError as exc:
                self._resolved[(job.model, job.version)] = exc
                raise
            by_key = runnable.choice.route is Route.ROLLOUT or _split_by_key(runnable.spec)
            self._resolved[(job.model, job.version)] = (runnable, by_key)
            return runnable
        if isinstance(known, ApiError):
            raise known.with_traceback(None)
        runnable, by_key = known
        if by_key:
            return await self._service._resolutions.runnable(job.model, job.version, key)
        return runnable

    def _group_of(self, runnable: RunnableVersion) -> _Group:
        choice = runnable.choice
        # Not the version the job named: each job carries it (GroupJob), so jobs
        # naming "" and the default's number share one group.
        key = (
            runnable.model, runnable.version, choice.route.value, choice.rollout_id,
            runnable.spec.to_json(),
        )  # fmt: skip
        group = self._groups.get(key)
        if group is None:
            limits = AdmissionLimits(self._service._limits.user_rates, runnable.limits.admission)
            shared = JobGroup(
                runnable.model, runnable.version, runnable.spec, limits, choice.route.value,
                choice.rollout_id,
            )  # fmt: skip
            group = self._groups[key] = _Group(runnable, shared)
        return group

    def _answer(self, group: _Group, reply: GroupReply) -> None:
        """Each job's result: a copy of the group's message for a created job, else
        what SubmitJob answers its outcome (a refusal, or the earlier job of its key)."""
        template = self._template(group.group, reply)
        outcomes = zip(group.indexes, group.requests, reply.results, strict=True)
        for index, request, outcome in outcomes:
            result = self._results[index]
            if isinstance(outcome, Queued):
                _queued(result.job, template, outcome, request)
                continue
            try:
                self._service._check_accepted(request, outcome, group.runnable)
            except ApiError as exc:
                result.error.CopyFrom(status_of(exc))
                continue
            self._duplicates.append((index, outcome.job_id))

    def _template(self, group: JobGroup, reply: GroupReply) -> bytes:
        """What every created job of the group shows alike: SubmitJob's message for a
        QUEUED job of the group, with its place's shared parts."""
        record = JobRecord(
            id="", model=group.model, version=group.version, submitter=self._principal.user,
            status=JobStatus.QUEUED, created=0.0, record_count=0, spec=group.spec,
            queue_version=group.version, route=group.route, rollout_id=group.rollout_id,
        )  # fmt: skip
        place = QueuePlace(0, reply.worker_seen, reply.now)
        warn_after_s = self._service._limits.no_worker_warning_s
        message = with_place(job_message(record, with_results=False), place, warn_after_s)
        return bytes(message.SerializeToString())

    async def _answer_duplicates(self) -> None:
        """The earlier jobs reused keys name, read in one round trip, shown as GetJob would."""
        service = self._service
        earlier = await service._queue.get_many([job_id for _, job_id in self._duplicates])
        found = [record for record in earlier if record is not None]
        messages = iter(
            await asyncio.gather(*(service._message(r, with_results=False) for r in found))
        )
        for (index, job_id), record in zip(self._duplicates, earlier, strict=True):
            result = self._results[index]
            if record is None:
                result.error.CopyFrom(status_of(NotFound(f"job {job_id} has expired")))
            else:
                result.job.CopyFrom(next(messages))
                result.deduplicated = True


def _checked_records(
    job: execution_pb2.SubmitJobRequest, runnable: RunnableVersion
) -> list[dict[str, object]]:
    """The job's records as plain JSON values, once they fit the queue and the schema."""
    admission.check_fits(runnable.model, len(job.records), runnable.limits)
    records = [input_records.record(r) for r in job.records]
    runnable.check(records)
    return records


def _split_by_key(spec: JobSpec) -> bool:
    """Whether a consensus job's children were chosen by a rollout (by the job's key)."""
    return any(
        child.route == Route.ROLLOUT.value or _split_by_key(child.spec)
        for child in spec.children.values()
    )


def _queued(
    job: job_pb2.Job,
    template: bytes,
    queued: Queued,
    request: execution_pb2.SubmitJobRequest,
) -> None:
    """A created job's message: its group's (serialized once), with what is its own.
    Field by field, as messages.stamp would make its times: the cheapest way
    protobuf offers, and this runs for every job."""
    job.MergeFromString(template)
    job.id = queued.job_id
    job.record_count = len(request.records)
    job.idempotency_key = request.idempotency_key
    seconds = int(queued.created)
    nanos = int((queued.created - seconds) * 1e9)
    created = job.create_time
    created.seconds, created.nanos = seconds, nanos
    transition = job.transitions.add()
    transition.status = job_pb2.JOB_STATUS_QUEUED
    transition.time.seconds, transition.time.nanos = seconds, nanos
    job.queue_place.jobs_ahead = queued.jobs_ahead
