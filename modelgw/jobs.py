"""Handles on submitted jobs: `Job` (blocking) and `AsyncJob` (asyncio).

A handle knows only the job's id, model and version; every method asks the
server. `watch` follows WatchJob and reconnects when the stream breaks; `wait`
falls back to polling GetJob when the stream is not served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc

from modelgateway.v1 import execution_pb2
from modelgw import _convert
from modelgw._channel import RETRYABLE, AsyncCaller, Caller, backoff_s
from modelgw.errors import GatewayError, JobFailed, from_rpc_error, from_status
from modelgw.models import JobInfo, RecordResult

POLL_S = 0.5
"""Seconds between GetJob calls when WatchJob cannot be used."""


def _from_message(message: execution_pb2.WatchJobResponse) -> JobInfo | None:
    """The job state a stream message carries; None on heartbeats."""
    if message.HasField("error"):
        code = grpc.StatusCode.UNKNOWN
        for candidate in grpc.StatusCode:
            if candidate.value[0] == message.error.code:
                code = candidate
        raise from_status(code, message.error.message or "the stream failed")
    if message.heartbeat or not message.HasField("job"):
        return None
    return _convert.job_info(message.job)


def _deadline(timeout_s: float | None) -> float | None:
    if timeout_s is not None and not timeout_s >= 0:
        raise ValueError(f"timeout_s must be 0 or more seconds, not {timeout_s}")
    return None if timeout_s is None else time.monotonic() + timeout_s


def _remaining(deadline: float | None, job_id: str) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"job {job_id} did not finish in time")
    return left


def _stream_error(exc: grpc.RpcError, deadline: float | None, job_id: str) -> Exception:
    """What a broken WatchJob stream raises: TimeoutError when it was the caller's
    deadline that ended it, else the typed error of its status."""
    error = from_rpc_error(exc)
    if error.code == grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None:
        return TimeoutError(f"job {job_id} did not finish in time")
    return error


def _polls_instead(error: GatewayError, attempt: int, retries: int) -> bool:
    """After a broken stream: True to poll instead (WatchJob is not served), False to
    reconnect; raises the error when retrying cannot change it."""
    if error.code == grpc.StatusCode.UNIMPLEMENTED:
        return True
    if error.code not in RETRYABLE or attempt >= retries:
        raise error
    return False


def _final(info: JobInfo) -> list[RecordResult]:
    if info.status in ("FAILED", "CANCELLED"):
        reason = f": {info.error_reason}" if info.error_reason else ""
        detail = f": {info.error_message}" if info.error_message else ""
        raise JobFailed(f"job {info.id} {info.status}{reason}{detail}", info)
    return list(info.results)


class _Handle:
    def __init__(self, job_id: str, model: str, version: str) -> None:
        self.id = job_id
        self.model = model
        self.version = version

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(id={self.id!r}, model={self.model!r}, version={self.version!r})"
        )


class Job(_Handle):
    """A submitted job: ask its status, wait for it, read its results or cancel it."""

    def __init__(self, caller: Caller, job_id: str, model: str, version: str) -> None:
        super().__init__(job_id, model, version)
        self._caller = caller

    def info(self) -> JobInfo:
        """The job's current state (GetJob)."""
        reply = self._caller.call(
            self._caller.execution.GetJob, execution_pb2.GetJobRequest(id=self.id)
        )
        return _convert.job_info(reply.job)

    def status(self) -> str:
        """QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED."""
        return self.info().status

    def cancel(self) -> JobInfo:
        """Cancels the job unless it has finished; returns its state after (CancelJob)."""
        request = execution_pb2.CancelJobRequest(id=self.id)
        return _convert.job_info(self._caller.call(self._caller.execution.CancelJob, request).job)

    def watch(self) -> Iterator[JobInfo]:
        """One JobInfo per status change, the current one first; ends after a final
        status. Reconnects when the stream breaks."""
        return self._follow(None)

    def wait(self, timeout_s: float | None = None) -> JobInfo:
        """The job's final state; TimeoutError when it has not finished within timeout_s."""
        deadline = _deadline(timeout_s)
        last: JobInfo | None = None
        for info in self._follow(deadline):
            last = info
        assert last is not None and last.done
        return last

    def result(self, timeout_s: float | None = None) -> list[RecordResult]:
        """Waits, then one result per record; JobFailed when the job FAILED or was CANCELLED."""
        return _final(self.wait(timeout_s))

    def _follow(self, deadline: float | None) -> Iterator[JobInfo]:
        last_status = ""
        attempt = 0
        while True:
            try:
                for info in self._stream(deadline):
                    attempt = 0
                    if info.status != last_status:
                        last_status = info.status
                        yield info
                    if info.done:
                        return
            except GatewayError as error:
                if _polls_instead(error, attempt, self._caller.settings.retries):
                    yield from self._poll(deadline, last_status)
                    return
            _remaining(deadline, self.id)
            time.sleep(backoff_s(attempt))
            attempt += 1

    def _stream(self, deadline: float | None) -> Iterator[JobInfo]:
        request = execution_pb2.WatchJobRequest(id=self.id)
        call = self._caller.execution.WatchJob(
            request, metadata=self._caller.settings.metadata, timeout=_remaining(deadline, self.id)
        )
        try:
            for message in call:
                info = _from_message(message)
                if info is not None:
                    yield info
        except grpc.RpcError as exc:
            raise _stream_error(exc, deadline, self.id) from None
        finally:
            call.cancel()

    def _poll(self, deadline: float | None, last_status: str) -> Iterator[JobInfo]:
        while True:
            info = self.info()
            if info.status != last_status:
                last_status = info.status
                yield info
            if info.done:
                return
            _remaining(deadline, self.id)
            time.sleep(POLL_S)


class AsyncJob(_Handle):
    """A submitted job on the asyncio client: the methods of Job, awaited."""

    def __init__(self, caller: AsyncCaller, job_id: str, model: str, version: str) -> None:
        super().__init__(job_id, model, version)
        self._caller = caller

    async def info(self) -> JobInfo:
        """The job's current state (GetJob)."""
        request = execution_pb2.GetJobRequest(id=self.id)
        return _convert.job_info(
            (await self._caller.call(self._caller.execution.GetJob, request)).job
        )

    async def status(self) -> str:
        """QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED."""
        return (await self.info()).status

    async def cancel(self) -> JobInfo:
        """Cancels the job unless it has finished; returns its state after (CancelJob)."""
        request = execution_pb2.CancelJobRequest(id=self.id)
        reply = await self._caller.call(self._caller.execution.CancelJob, request)
        return _convert.job_info(reply.job)

    def watch(self) -> AsyncIterator[JobInfo]:
        """One JobInfo per status change, the current one first; ends after a final
        status. Reconnects when the stream breaks."""
        return self._follow(None)

    async def wait(self, timeout_s: float | None = None) -> JobInfo:
        """The job's final state; TimeoutError when it has not finished within timeout_s."""
        deadline = _deadline(timeout_s)
        last: JobInfo | None = None
        async for info in self._follow(deadline):
            last = info
        assert last is not None and last.done
        return last

    async def result(self, timeout_s: float | None = None) -> list[RecordResult]:
        """Waits, then one result per record; JobFailed when the job FAILED or was CANCELLED."""
        return _final(await self.wait(timeout_s))

    async def _follow(self, deadline: float | None) -> AsyncIterator[JobInfo]:
        last_status = ""
        attempt = 0
        while True:
            try:
                async for info in self._stream(deadline):
                    attempt = 0
                    if info.status != last_status:
                        last_status = info.status
                        yield info
                    if info.done:
                        return
            except GatewayError as error:
                if _polls_instead(error, attempt, self._caller.settings.retries):
                    async for info in self._poll(deadline, last_status):
                        yield info
                    return
            _remaining(deadline, self.id)
            await asyncio.sleep(backoff_s(attempt))
            attempt += 1

    async def _stream(self, deadline: float | None) -> AsyncIterator[JobInfo]:
        request = execution_pb2.WatchJobRequest(id=self.id)
        call: Any = self._caller.execution.WatchJob(
            request, metadata=self._caller.settings.metadata, timeout=_remaining(deadline, self.id)
        )
        try:
            async for message in call:
                info = _from_message(message)
                if info is not None:
                    yield info
        except grpc.RpcError as exc:
            raise _stream_error(exc, deadline, self.id) from None
        finally:
            call.cancel()

    async def _poll(self, deadline: float | None, last_status: str) -> AsyncIterator[JobInfo]:
        while True:
            info = await self.info()
            if info.status != last_status:
                last_status = info.status
                yield info
            if info.done:
                return
            _remaining(deadline, self.id)
            await asyncio.sleep(POLL_S)
