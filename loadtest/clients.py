"""The calls one simulated client makes in a loop, per scenario (gRPC and REST)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import struct_pb2

from loadtest.plan import RECORD, Share
from modelgateway.v1 import execution_pb2, execution_pb2_grpc, job_pb2

Call = Callable[[], Awaitable[Any]]
ECHO_METHOD = "/bench.Echo/Call"
TERMINAL = {job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED}


class CallFailed(Exception):
    """A call that answered, but not with success (HTTP status, job FAILED...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def channel_options() -> list[tuple[str, Any]]:
    # Without a local subchannel pool, channels to one target share one TCP
    # connection, and "many channels" would be one HTTP/2 connection.
    return [
        ("grpc.use_local_subchannel_pool", 1),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ]


def submit_request(model: str) -> execution_pb2.SubmitJobRequest:
    record = struct_pb2.Struct()
    record.update(RECORD)
    return execution_pb2.SubmitJobRequest(model=model, records=[record])


def submit_jobs_request(model: str, jobs: int) -> execution_pb2.SubmitJobsRequest:
    """A SubmitJobs call of `jobs` one-record jobs (submit_batch)."""
    return execution_pb2.SubmitJobsRequest(jobs=[submit_request(model)] * jobs)


async def submit_batch(
    stub: execution_pb2_grpc.ExecutionServiceStub,
    request: execution_pb2.SubmitJobsRequest,
    md: tuple[tuple[str, str], ...],
    call_timeout_s: float,
) -> None:
    """One SubmitJobs call; a call any of whose jobs was refused counts as failed."""
    reply = await stub.SubmitJobs(request, metadata=md, timeout=call_timeout_s)
    for result in reply.results:
        if result.HasField("error"):
            raise CallFailed(f"job refused: code {result.error.code}")


def metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def grpc_call(share: Share, channel: grpc.aio.Channel, client: int) -> Call:
    """The coroutine factory one gRPC client awaits in its loop."""
    timeout = share.call_timeout_s
    if share.scenario == "echo":
        echo = channel.unary_unary(ECHO_METHOD)
        payload = submit_request(share.model).SerializeToString()
        return lambda: echo(payload, timeout=timeout)
    stub = execution_pb2_grpc.ExecutionServiceStub(channel)
    user = client % len(share.tokens)
    md = metadata(share.tokens[user])
    if share.scenario in ("submit", "submit_rollout"):  # the model says which
        request = submit_request(share.model)
        return lambda: stub.SubmitJob(request, metadata=md, timeout=timeout)
    if share.scenario == "submit_batch":
        batch = submit_jobs_request(share.model, int(share.options["jobs_per_call"]))
        return lambda: submit_batch(stub, batch, md, timeout)
    if share.scenario == "get":
        ids = share.job_ids[user]
        return lambda: stub.GetJob(
            execution_pb2.GetJobRequest(id=random.choice(ids)), metadata=md, timeout=timeout
        )
    if share.scenario == "e2e":
        return lambda: end_to_end(stub, submit_request(share.model), md, share)
    if share.scenario == "e2e_watch":
        return lambda: end_to_end_watch(stub, submit_request(share.model), md, share)
    raise ValueError(f"no gRPC scenario {share.scenario!r}")


async def end_to_end(
    stub: execution_pb2_grpc.ExecutionServiceStub,
    request: execution_pb2.SubmitJobRequest,
    md: tuple[tuple[str, str], ...],
    share: Share,
) -> None:
    """Submit, then poll GetJob every poll_s until the job is final (SUCCEEDED or a failure)."""
    reply = await stub.SubmitJob(request, metadata=md, timeout=share.call_timeout_s)
    get = execution_pb2.GetJobRequest(id=reply.job.id)
    while True:
        await asyncio.sleep(share.poll_s)
        job = (await stub.GetJob(get, metadata=md, timeout=share.call_timeout_s)).job
        if job.status in TERMINAL:
            if job.status != job_pb2.JOB_STATUS_SUCCEEDED:
                raise CallFailed(f"job {job_pb2.JobStatus.Name(job.status)}")
            return


async def end_to_end_watch(
    stub: execution_pb2_grpc.ExecutionServiceStub,
    request: execution_pb2.SubmitJobRequest,
    md: tuple[tuple[str, str], ...],
    share: Share,
) -> None:
    """Submit, then WatchJob until the stream brings the final status (and ends)."""
    reply = await stub.SubmitJob(request, metadata=md, timeout=share.call_timeout_s)
    watch = execution_pb2.WatchJobRequest(id=reply.job.id)
    final = None
    async for message in stub.WatchJob(watch, metadata=md, timeout=share.call_timeout_s):
        if message.HasField("error"):
            raise CallFailed(f"stream error {message.error.code}")
        if message.HasField("job") and message.job.status in TERMINAL:
            final = message.job.status  # the server ends the stream after it
    if final is None:
        raise CallFailed("stream ended before the job finished")
    if final != job_pb2.JOB_STATUS_SUCCEEDED:
        raise CallFailed(f"job {job_pb2.JobStatus.Name(final)}")


def rest_call(share: Share, client: Any, index: int) -> Call:
    """REST submit through Envoy: POST /v1/jobs with a JSON body, 200 expected (aiohttp)."""
    body = json.dumps({"model": share.model, "records": [RECORD]}).encode()
    headers = {
        "authorization": f"Bearer {share.tokens[index % len(share.tokens)]}",
        "content-type": "application/json",
    }

    async def call() -> None:
        async with client.post("/v1/jobs", data=body, headers=headers) as reply:
            await reply.read()
            if reply.status != 200:
                raise CallFailed(f"http {reply.status}")

    return call


def failure_code(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return str(exc.code().name)
    if isinstance(exc, CallFailed):
        return exc.code
    return type(exc).__name__
