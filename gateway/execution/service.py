"""ExecutionService: submit a job and get its UUID at once; poll, watch, cancel, list.

The interceptor has authenticated the caller and, for SubmitJob, checked the
right to run the model. Job-scoped calls (GetJob, WatchJob, WatchJobs,
CancelJob) can only be authorized once the job is read, since the job names
its model: they all pass through `_visible_job` (WatchJobs through `_sees`, per
job), which answers NOT_FOUND to anyone who is not an owner of the job's model,
a superuser, or its submitter while the submitter may still read the job's model.

That last condition is what keeps a private model private behind a public
consensus model: the consensus job's submitter also submitted its child jobs,
but a child job is the private model's own output. The consensus result
publishes the child values its maker chose to combine; the child jobs
themselves are seen only by those who may read the child model. ListJobs
applies the same rule to every job it lists.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from google.rpc import status_pb2

from authz.actions import Action
from authz.enforcer import AccessPolicy, Decision
from authz.principal import Principal
from gateway import paging
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound, model_not_found
from gateway.execution import admission, bulk
from gateway.execution import records as input_records
from gateway.execution.messages import STATUS_OF_PROTO, SharedWatchMessages, job_message
from gateway.execution.resolution_cache import ResolutionCache, RunnableVersion
from gateway.execution.shared_replies import FinishedReplies
from gateway.execution.waiting import RecentPlaces, with_place
from gateway.execution.watch_jobs import JobsWatch
from gateway.interceptor import caller, grpc_status_for
from gateway.registry import validation
from modelgateway.v1 import execution_pb2, execution_pb2_grpc, job_pb2
from scheduler import keys
from scheduler.admission import NO_RATES, AdmissionLimits, UserRates
from scheduler.events import JobEvents, Watch
from scheduler.job import JobRecord, JobStatus
from scheduler.queue import CancelOutcome, JobIndex, JobQueue, Submission, SubmitOutcome

MAX_IDEMPOTENCY_KEY = 128


@dataclass(frozen=True)
class ExecutionLimits:
    """The execution server's limits on submissions and on how jobs are shown."""

    max_records: int
    heartbeat_s: float
    user_rates: UserRates = NO_RATES
    """Each user's rates across every model; each model's own limits come with it."""
    no_worker_warning_s: float = 30.0
    """A QUEUED job warns when no worker of its model was seen for this long; 0: never."""
    queue_place_fresh_s: float = 1.0
    """How long a QUEUED job's place, once read, answers its GetJob and WatchJob."""
    finished_reply_fresh_s: float = 600.0
    """How long a finished job's GetJob reply, once built, answers from memory."""


class ExecutionService(execution_pb2_grpc.ExecutionServiceServicer):  # type: ignore[misc]
    """SubmitJob, GetJob, WatchJob(s), ListJobs and CancelJob: validates a submission
    against the version it resolves to, hands it to the job queue, and shows a
    caller the jobs it may see. The interceptor has authenticated the caller and
    decided the model-level permission before a handler runs."""

    def __init__(
        self,
        queue: JobQueue,
        events: JobEvents,
        resolutions: ResolutionCache,
        access: AccessPolicy,
        limits: ExecutionLimits,
    ) -> None:
        self._queue = queue
        self._events = events
        self._resolutions = resolutions
        self._access = access
        self._limits = limits
        self._watch_messages = SharedWatchMessages()
        self._places = RecentPlaces(queue.place, limits.queue_place_fresh_s)
        self._finished = FinishedReplies(limits.finished_reply_fresh_s, queue.settings.job_ttl_s)
        self._watch_many = JobsWatch(
            queue.get_many, events, self._sees, access.ensure_fresh, self._watch_messages,
            limits.heartbeat_s,
        )  # fmt: skip

    async def SubmitJob(
        self, request: execution_pb2.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> execution_pb2.SubmitJobResponse:
        """Validates and queues one job; answers at once with its id and place."""
        self._check_request(request)
        runnable = await self._resolutions.runnable(
            request.model, request.version, request.routing_key or request.idempotency_key
        )
        count = len(request.records)
        admission.check_fits(runnable.model, count, runnable.limits)
        records = [input_records.record(r) for r in request.records]
        runnable.check(records)
        submission = await self._queue.submit(
            model=runnable.model,
            version=runnable.version,
            requested_version=request.version,
            submitter=caller().user,
            records=records,
            records_json=json.dumps(records, separators=(",", ":")),
            spec=runnable.spec,
            idempotency_key=request.idempotency_key,
            limits=AdmissionLimits(self._limits.user_rates, runnable.limits.admission),
            route=runnable.choice.route.value,
            rollout_id=runnable.choice.rollout_id,
        )
        self._check_accepted(request, submission, runnable)
        if submission.job is None:  # DUPLICATE: the job the key named before
            earlier = await self._queue.get(submission.job_id)
            if earlier is None:
                raise NotFound(f"job {submission.job_id} has expired")
            return execution_pb2.SubmitJobResponse(
                job=await self._message(earlier, with_results=False), deduplicated=True
            )
        # The submission script read the job's place: no second round trip.
        message = with_place(
            job_message(submission.job, with_results=False),
            submission.place,
            self._limits.no_worker_warning_s,
        )
        return execution_pb2.SubmitJobResponse(job=message)

    SubmitJobs = bulk.SubmitJobs  # many jobs a call, each checked as SubmitJob checks one

    def _check_request(self, request: execution_pb2.SubmitJobRequest) -> None:
        """INVALID_ARGUMENT for a submission no version could accept."""
        if request.version:
            validation.version_string(request.version)
        count = len(request.records)
        if count == 0:
            raise InvalidArgument("records is required: give at least one input record")
        if count > self._limits.max_records:
            raise InvalidArgument(
                f"a job carries at most {self._limits.max_records} records; {count} were given: "
                "split the batch into several jobs"
            )
        for name in ("idempotency_key", "routing_key"):
            if len(getattr(request, name)) > MAX_IDEMPOTENCY_KEY:
                raise InvalidArgument(
                    f"{name} is longer than {MAX_IDEMPOTENCY_KEY} characters", field=name
                )

    def _check_accepted(
        self,
        request: execution_pb2.SubmitJobRequest,
        submission: Submission,
        runnable: RunnableVersion,
    ) -> None:
        """Raises what a refused submission (a limit, a reused idempotency key) means."""
        limits, count = runnable.limits, len(request.records)
        refusal = admission.refusal(
            submission, runnable.model, self._limits.user_rates, limits, count
        )
        if refusal is not None:
            raise refusal
        if submission.outcome is SubmitOutcome.CONFLICT:
            raise FailedPrecondition(
                f"idempotency_key {request.idempotency_key!r} was already used for job "
                f"{submission.job_id} with different records or version; use a new key"
            )

    async def GetJob(
        self, request: execution_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> execution_pb2.GetJobResponse | bytes:
        """A job the caller may see, with its results once finished (a finished
        job's reply serialized, as FinishedReplies keeps it)."""
        kept = self._finished.get(_job_id(request.id))
        if kept is not None and await self._may_see(caller(), kept.model, kept.submitter):
            return kept.data
        job = await self._visible_job(request.id)
        reply = execution_pb2.GetJobResponse(job=await self._message(job, with_results=True))
        return self._finished.keep(job, reply) if job.status.terminal else reply

    async def _message(self, job: JobRecord, *, with_results: bool) -> job_pb2.Job:
        """The job's message; a QUEUED job's with its place in the queue, which
        costs one more round trip that no other job pays."""
        message = job_message(job, with_results=with_results)
        if job.status is not JobStatus.QUEUED:
            return message
        place = await self._places.of(job)
        return with_place(message, place, self._limits.no_worker_warning_s)

    async def WatchJob(
        self, request: execution_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[execution_pb2.WatchJobResponse]:
        """Streams a job's state at each change, and heartbeats, until it finishes."""
        job_id = _job_id(request.id)
        async with self._events.watch(job_id) as watch:
            # Read after registering: a change between the two arrives as news.
            # Fails as a plain status: nothing is sent yet.
            job = await self._visible_job(job_id)
            try:
                async for message in self._follow(job, watch):
                    yield message
            except Exception as exc:
                # The stream has started: end it with an explicit final message,
                # which REST clients over HTTP/1.1 can see (they cannot see trailers).
                code, message = grpc_status_for(exc)
                yield execution_pb2.WatchJobResponse(
                    error=status_pb2.Status(code=code.value[0], message=message)
                )

    async def _follow(
        self, job: JobRecord, watch: Watch
    ) -> AsyncIterator[execution_pb2.WatchJobResponse]:
        message = await self._watch_message(job)
        yield message
        seen, shown = job.revision, _place_of(message)
        while not job.status.terminal:
            try:
                news = await watch.next(self._limits.heartbeat_s)
            except TimeoutError:
                # While QUEUED, a heartbeat's turn also looks at the job's place:
                # jobs ahead started, or a worker came or went. A job found out of
                # the queue has started: its own event brings the news.
                update = await self._watch_message(job) if job.status is JobStatus.QUEUED else None
                if update is not None and update.job.HasField("queue_place") and (
                    _place_of(update) != shown
                ):
                    shown = _place_of(update)
                    yield update
                else:
                    yield execution_pb2.WatchJobResponse(heartbeat=True)
                continue
            fresh = news if news is not None else await self._queue.get(job.id)
            if fresh is None:
                raise NotFound(f"job {job.id} expired while being watched")
            if fresh.revision > seen:  # news may arrive out of order
                job, seen = fresh, fresh.revision
                message = await self._watch_message(job)
                shown = _place_of(message)
                yield message

    async def _watch_message(self, job: JobRecord) -> execution_pb2.WatchJobResponse:
        """A QUEUED job's message is its own (its place is read now); any other is
        built once and shared by every stream watching that state of the job."""
        if job.status is JobStatus.QUEUED:
            return execution_pb2.WatchJobResponse(job=await self._message(job, with_results=False))
        return self._watch_messages.of(job)

    def WatchJobs(
        self, request: execution_pb2.WatchJobsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[execution_pb2.WatchJobsResponse]:
        """Streams many jobs' states at each change, and heartbeats, until all finish."""
        return self._watch_many.stream(request.ids, caller())

    async def CancelJob(
        self, request: execution_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> execution_pb2.CancelJobResponse:
        """Cancels a queued or running job; a finished one is left as it is."""
        job = await self._visible_job(request.id)
        outcome = await self._queue.cancel(job, f"cancelled by {caller().user}")
        if outcome is CancelOutcome.EXPIRED:
            raise NotFound(f"job {job.id} has expired")
        if outcome is not CancelOutcome.CANCELLED:
            raise FailedPrecondition(
                f"job {job.id} already finished as {outcome.value}; nothing to cancel"
            )
        after = await self._visible_job(job.id)
        return execution_pb2.CancelJobResponse(job=job_message(after, with_results=False))

    async def ListJobs(
        self, request: execution_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> execution_pb2.ListJobsResponse:
        """The caller's jobs (or a model's, for its owners), newest first, a page at a time."""
        limit = validation.page_size(request.page_size)
        before = paging.decode("jobs", request.page_token, 0.0) or None
        status = STATUS_OF_PROTO.get(request.status)
        index, model = await self._job_index(request.model)
        principal = caller()
        # One's own jobs list only those of models one may still read.
        readable = principal if index is JobIndex.USER else None
        name = model if index is JobIndex.MODEL else principal.user
        jobs, cursor = await self._scan(
            index, name, before, limit, model=model, status=status, readable_by=readable
        )
        return execution_pb2.ListJobsResponse(
            jobs=[job_message(j, with_results=False) for j in jobs],
            next_page_token=paging.encode("jobs", cursor) if cursor is not None else "",
        )

    async def _job_index(self, model: str) -> tuple[JobIndex, str]:
        """The index to list from (the caller's own, for USER), and the model to
        filter on ('' for none)."""
        principal = caller()
        if not model:
            return (JobIndex.ALL if principal.superuser else JobIndex.USER), ""
        validation.model_name(model, "model")
        if await self._manages_jobs(principal, model):
            return JobIndex.MODEL, model
        if self._access.decide(principal, Action.READ, model) is Decision.HIDDEN:
            raise model_not_found(model)
        return JobIndex.USER, model

    async def _scan(
        self,
        index: JobIndex,
        name: str,
        before: float | None,
        limit: int,
        *,
        model: str,
        status: JobStatus | None,
        readable_by: Principal | None,
    ) -> tuple[list[JobRecord], float | None]:
        """Walks the index (of user or model `name`) newest first, keeping matching
        jobs, within a bounded budget."""
        found: list[JobRecord] = []
        budget = max(limit * 20, 1000)
        while budget > 0:
            batch = await self._queue.page(index, name, before, min(limit * 2, 1000))
            if not batch:
                return found, None
            budget -= len(batch)
            records = await self._queue.get_many([job_id for job_id, _ in batch])
            for (_, score), record in zip(batch, records, strict=True):
                before = score
                if record is None or (model and record.model != model):
                    continue
                if status is not None and record.status is not status:
                    continue
                if readable_by is not None and not self._may_read(readable_by, record.model):
                    continue
                found.append(record)
                if len(found) == limit:
                    return found, score
        return found, before

    async def _manages_jobs(self, principal: Principal, model: str) -> bool:
        """Owner or superuser of model, re-checked once if the policy was stale."""
        if self._access.decide(principal, Action.MANAGE_JOBS, model) is Decision.ALLOW:
            return True
        return await self._access.ensure_fresh() and (
            self._access.decide(principal, Action.MANAGE_JOBS, model) is Decision.ALLOW
        )

    def _may_read(self, principal: Principal, model: str) -> bool:
        return self._access.decide(principal, Action.READ, model) is Decision.ALLOW

    async def _may_see(self, principal: Principal, model: str, submitter: str) -> bool:
        """A job's model's owners and superusers; its submitter while they may read
        its model. Re-checked once if the policy was stale, as `_manages_jobs` is.
        """
        return self._sees(principal, model, submitter) or (
            await self._access.ensure_fresh() and self._sees(principal, model, submitter)
        )

    def _sees(self, principal: Principal, model: str, submitter: str) -> bool:
        if self._access.decide(principal, Action.MANAGE_JOBS, model) is Decision.ALLOW:
            return True
        return submitter == principal.user and self._may_read(principal, model)

    async def _visible_job(self, job_id: str) -> JobRecord:
        job_id = _job_id(job_id)
        job = await self._queue.get(job_id)
        principal = caller()
        visible = job is not None and await self._may_see(principal, job.model, job.submitter)
        if not visible or job is None:
            raise NotFound(f"job {job_id} not found (it may have expired, or is not yours)")
        return job


def _place_of(message: execution_pb2.WatchJobResponse) -> tuple[bool, int, str]:
    """What a watcher is told again when it changes: whether the job waits, how many
    jobs are ahead of it, and the warning (worker_seen_time alone moves every few
    seconds and is no news)."""
    place = message.job.queue_place
    return message.job.HasField("queue_place"), place.jobs_ahead, place.warning


def _job_id(given: str) -> str:
    """The job id a caller gave, normalized, or INVALID_ARGUMENT saying what is wrong."""
    job_id = given.strip().lower()  # UUIDs compare case-insensitively
    if not job_id:
        raise InvalidArgument("id is required: the job's UUID as returned by SubmitJob")
    if keys.shard_of_job(job_id) is None:
        raise InvalidArgument(f"id {job_id[:64]!r} is not a job UUID issued by this platform")
    return job_id
