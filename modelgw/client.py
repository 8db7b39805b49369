"""The blocking client: `Client`, one channel to the gateway and one caller's token."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any

from modelgateway.v1 import execution_pb2, registry_pb2
from modelgw import _batch, _convert, _requests, many
from modelgw._channel import Caller, Settings
from modelgw.errors import GatewayError
from modelgw.jobs import Job
from modelgw.models import ConsensusCheck, JobInfo, Model, SearchHit, Version


class Client:
    """The Model Gateway over gRPC, blocking.

    ``target`` is host:port, else MODELGW_TARGET, else "127.0.0.1:8080" (Envoy,
    where all three services answer). ``token`` is sent as "authorization:
    Bearer"; it defaults to MODELGW_TOKEN. Each unary call has ``timeout_s`` and
    is retried up to ``retries`` times on UNAVAILABLE and RESOURCE_EXHAUSTED,
    honouring the server's RetryInfo. Errors are modelgw.errors.GatewayError.
    """

    def __init__(
        self,
        target: str | None = None,
        token: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: int = 5,
    ) -> None:
        self._caller = Caller(Settings.resolve(target, token, timeout_s, retries))

    @classmethod
    def _over(cls, caller: Caller) -> Client:
        client = cls.__new__(cls)
        client._caller = caller
        return client

    @property
    def target(self) -> str:
        """The host:port this client talks to."""
        return self._caller.settings.target

    def with_token(self, token: str) -> Client:
        """A client for another caller on the same channel (closing it keeps the channel)."""
        return Client._over(self._caller.with_token(token))

    def close(self) -> None:
        """Closes the channel (unless this client came from with_token)."""
        self._caller.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: Any, request: Any) -> Any:
        return self._caller.call(method, request)

    # Models

    def search_models(
        self,
        query: str,
        *,
        tags: Sequence[str] = (),
        owner: str = "",
        backend_kind: str = "",
        limit: int = 20,
    ) -> list[SearchHit]:
        """The models the caller may read that match ``query``, best first, at most ``limit``."""
        limit = _requests.positive(limit, "limit")
        hits: list[SearchHit] = []
        token = ""
        while len(hits) < limit:
            request = _requests.search(query, tags, owner, backend_kind, limit - len(hits), token)
            reply = self._call(self._caller.registry.SearchModels, request)
            hits.extend(_convert.search_hit(h) for h in reply.hits)
            token = reply.next_page_token
            if not token:
                break
        return hits[:limit]

    def get_model(self, name: str) -> Model:
        """One model's metadata; NotFound when it is missing or not readable."""
        request = registry_pb2.GetModelRequest(name=_requests.text(name, "name", 200))
        return _convert.model(self._call(self._caller.registry.GetModel, request).model)

    def list_models(self, *, tag: str = "") -> list[Model]:
        """Every model the caller may read (all pages), by name; only those tagged ``tag``."""
        models: list[Model] = []
        token = ""
        while True:
            request = registry_pb2.ListModelsRequest(
                page_size=_requests.MAX_PAGE, page_token=token, tag=_requests.text(tag, "tag", 200)
            )
            reply = self._call(self._caller.registry.ListModels, request)
            models.extend(_convert.model(m) for m in reply.models)
            token = reply.next_page_token
            if not token:
                return models

    def list_versions(self, name: str) -> list[Version]:
        """Every version of a model, oldest first."""
        versions: list[Version] = []
        token = ""
        while True:
            request = registry_pb2.ListModelVersionsRequest(
                model=_requests.text(name, "name", 200),
                page_size=_requests.MAX_PAGE,
                page_token=token,
            )
            reply = self._call(self._caller.registry.ListModelVersions, request)
            versions.extend(_convert.version(v) for v in reply.versions)
            token = reply.next_page_token
            if not token:
                return versions

    def get_version(self, name: str, version: str = "") -> Version:
        """One version; with no version, the one a job naming no version would run."""
        request = registry_pb2.GetModelVersionRequest(
            model=_requests.text(name, "name", 200), version=_requests.text(version, "version", 200)
        )
        return _convert.version(self._call(self._caller.registry.GetModelVersion, request).version)

    def verify_consensus_model(self, document: str, *, name: str = "") -> ConsensusCheck:
        """Checks an Algorithm 1 YAML consensus definition without storing anything."""
        request = _requests.verify_consensus(document, name)
        return _convert.consensus_check(
            self._call(self._caller.registry.VerifyConsensusModel, request)
        )

    def create_consensus_model(self, document: str) -> Model:
        """Registers a consensus model and its first version from Algorithm 1 YAML."""
        request = registry_pb2.ImportConsensusModelRequest(
            yaml=_requests.text(document, "document", 1_000_000)
        )
        return _convert.model(self._call(self._caller.registry.ImportConsensusModel, request).model)

    # Jobs

    def submit(
        self,
        model: str,
        records: list[dict[str, Any]],
        *,
        version: str = "",
        idempotency_key: str | None = None,
        routing_key: str = "",
    ) -> Job:
        """Queues one job running ``model`` on ``records``; safe to retry (idempotency key)."""
        request = _requests.submit(model, records, version, idempotency_key, routing_key)
        job = self._call(self._caller.execution.SubmitJob, request).job
        return Job(self._caller, job.id, job.model, job.version)

    def submit_many(
        self,
        model: str,
        batches: Iterable[list[dict[str, Any]]],
        *,
        version: str = "",
        routing_key: str = "",
    ) -> list[Job]:
        """One job per batch, queued by SubmitJobs calls of up to 1,000 jobs each;
        every batch is checked before the first is sent. Returns the jobs' handles,
        in batch order.

        Each job is accepted or refused on its own. Jobs refused for a reason that
        passes (RESOURCE_EXHAUSTED over a rate limit or a full queue, UNAVAILABLE)
        are sent again, after the delay the server asks for, up to ``retries``
        times within ``timeout_s``; every job has an idempotency key of its own,
        so sending one again never queues it twice. If jobs are still refused
        then (a bad record, a model that is not found, a limit that did not pass
        in time), JobsRefused is raised: its ``jobs`` holds the handle of every
        queued job (None for a refused one) and its ``errors`` each refused
        batch's error, by index.
        """
        plan = _batch.Submissions(model, batches, version, routing_key, self._caller.settings)
        while True:
            for indexes, request in plan.calls():
                try:
                    reply = self._call(self._caller.execution.SubmitJobs, request)
                except GatewayError as error:
                    reply = error
                plan.take(indexes, reply)
            delay = plan.next_round()
            if delay is None:
                return plan.handles(lambda j: Job(self._caller, j.id, j.model, j.version))
            time.sleep(delay)

    def watch_many(
        self, jobs: Iterable[Job | str], *, timeout_s: float | None = None
    ) -> Iterator[tuple[Job, JobInfo]]:
        """(job, info) at each status change of any of these jobs (handles or ids, at
        most 10,000), each job's current state first; ends once all are final. One
        WatchJobs stream for them all, reconnected when it breaks; NotFound for a job
        that is missing or not yours, TimeoutError after timeout_s."""
        return many.watch(self._caller, jobs, self._handle, many.deadline_of(timeout_s))

    def wait_all(self, jobs: Iterable[Job | str], timeout_s: float | None = None) -> list[JobInfo]:
        """The final state of every job (handles or ids, any number), in the order
        given, over one WatchJobs stream per 10,000 jobs; TimeoutError when they have
        not all finished within timeout_s."""
        return many.wait_all(self._caller, jobs, self._handle, timeout_s)

    def _handle(self, info: JobInfo) -> Job:
        return Job(self._caller, info.id, info.model, info.version)

    def job(self, job_id: str) -> Job:
        """The handle of an existing job, read once (NotFound when it is not yours)."""
        info = self._read_job(job_id)
        return Job(self._caller, info.id, info.model, info.version)

    def _read_job(self, job_id: str) -> JobInfo:
        request = execution_pb2.GetJobRequest(id=_requests.text(job_id, "job id", 200))
        return _convert.job_info(self._call(self._caller.execution.GetJob, request).job)

    def list_jobs(self, *, model: str = "", status: str = "", limit: int = 100) -> list[JobInfo]:
        """The caller's jobs (an owner's, with ``model``), newest first, at most ``limit``."""
        limit = _requests.positive(limit, "limit")
        found: list[JobInfo] = []
        token = ""
        while len(found) < limit:
            request = _requests.list_jobs(model, status, limit - len(found), token)
            reply = self._call(self._caller.execution.ListJobs, request)
            found.extend(_convert.job_info(j) for j in reply.jobs)
            token = reply.next_page_token
            if not token:
                break
        return found[:limit]
