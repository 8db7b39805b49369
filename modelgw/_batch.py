"""What `submit_many` does, for both clients: one job per batch, sent as SubmitJobs
calls of at most MAX_JOBS_PER_CALL jobs (and MAX_CALL_BYTES), each job's outcome
kept in order, and rounds that send again the jobs refused for a reason that
passes (a rate limit, a full queue, an unavailable store).

Every job carries an idempotency key of its own (a new uuid4), so a job sent
again after a lost answer is the same job, never a second one. The clients only
make the calls and wait between rounds; everything else happens here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from modelgateway.v1 import execution_pb2, job_pb2
from modelgw import _requests
from modelgw._channel import RETRYABLE, Settings, backoff_s
from modelgw.errors import GatewayError, JobsRefused, from_status_message

MAX_JOBS_PER_CALL = 1_000
"""Jobs of one SubmitJobs call the client sends (the server takes up to 10,000): an
answer every few hundred milliseconds, and a refusal of the whole call costs little."""
MAX_CALL_BYTES = 4 * 2**20
"""Bytes of one call's jobs, far below the gateway's message limit (16 MiB by default)."""

Handle = TypeVar("Handle")


class Submissions:
    """The jobs of one submit_many: what each became, and what to send next."""

    def __init__(
        self,
        model: str,
        batches: Iterable[list[dict[str, Any]]],
        version: str,
        routing_key: str,
        settings: Settings,
    ) -> None:
        self._requests = [
            _requests.submit(model, batch, version, None, routing_key) for batch in batches
        ]
        self._settings = settings
        self._jobs: list[job_pb2.Job | None] = [None] * len(self._requests)
        self._errors: dict[int, GatewayError] = {}
        self._pending = list(range(len(self._requests)))
        self._round = 0
        self._deadline = time.monotonic() + settings.timeout_s

    def calls(self) -> Iterator[tuple[list[int], execution_pb2.SubmitJobsRequest]]:
        """This round's calls: the jobs still to send, in order, in chunks; with the
        index of each job of a call."""
        chunk: list[int] = []
        size = 0
        for index in self._pending:
            job_size = self._requests[index].ByteSize()
            if chunk and (len(chunk) == MAX_JOBS_PER_CALL or size + job_size > MAX_CALL_BYTES):
                yield chunk, self._call(chunk)
                chunk, size = [], 0
            chunk.append(index)
            size += job_size
        if chunk:
            yield chunk, self._call(chunk)

    def _call(self, indexes: list[int]) -> execution_pb2.SubmitJobsRequest:
        return execution_pb2.SubmitJobsRequest(jobs=[self._requests[i] for i in indexes])

    def take(
        self, indexes: list[int], reply: execution_pb2.SubmitJobsResponse | GatewayError
    ) -> None:
        """A call's answer: each job's result, or the error of the whole call for each."""
        if isinstance(reply, GatewayError):
            self._errors.update(dict.fromkeys(indexes, reply))
            return
        for index, result in zip(indexes, reply.results, strict=True):
            if result.HasField("error"):
                self._errors[index] = from_status_message(result.error)
            else:
                self._jobs[index] = result.job
                self._errors.pop(index, None)

    def next_round(self) -> float | None:
        """Seconds to wait before sending the jobs refused for a passing reason again,
        or None when none is left to send (or the retries or the time are spent)."""
        again = [i for i, error in self._errors.items() if error.code in RETRYABLE]
        if not again or self._round >= self._settings.retries:
            return None
        hints = [getattr(self._errors[i], "retry_after_s", None) for i in again]
        delay = max(backoff_s(self._round, hint) for hint in hints)
        if time.monotonic() + delay >= self._deadline:
            return None
        self._pending, self._round = sorted(again), self._round + 1
        return delay

    def handles(self, handle: Callable[[job_pb2.Job], Handle]) -> list[Handle]:
        """A handle per batch, in order; JobsRefused (with the accepted ones) if any
        job was refused."""
        jobs = [None if job is None else handle(job) for job in self._jobs]
        if not self._errors:
            return [job for job in jobs if job is not None]
        raise JobsRefused(
            _summary(self._errors, len(jobs)), jobs, dict(sorted(self._errors.items()))
        )


def _summary(errors: dict[int, GatewayError], count: int) -> str:
    first = min(errors)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return (
        f"{len(errors)} of {count} jobs were refused, the others queued; batch {first}: "
        f"{errors[first].code.name} {errors[first].message}{more}"
    )
