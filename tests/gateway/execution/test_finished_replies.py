"""A finished job's GetJob reply is built once and served from memory for
MODELGW_FINISHED_REPLY_SECONDS (never past the job's expiry), still checking the caller's permission on every
call; a job that is not finished is read from Redis on every call."""

from __future__ import annotations

import time

import grpc
import redis

from gateway.execution.shared_replies import FinishedReplies
from modelgateway.v1 import execution_pb2, job_pb2
from scheduler import keys
from scheduler.job import JobRecord, JobStatus

from .conftest import Jobs, rpc_error


def _forget_in_redis(jobs: Jobs, job_id: str) -> None:
    shard = keys.shard_of_job(job_id)
    assert shard is not None
    with redis.Redis.from_url(jobs.mesh.env["MODELGW_REDIS_URL"]) as client:
        assert client.delete(keys.job(job_id, shard)) == 1


def test_a_finished_job_is_served_from_memory_to_whoever_may_see_it(jobs: Jobs) -> None:
    job = jobs.submit("echo", [{"x": 1}], user="dave")
    finished = jobs.wait(job.id, user="dave")  # the first read of it finished keeps the reply
    # Gone from Redis, as when it expires: the reply kept answers, byte for byte.
    _forget_in_redis(jobs, job.id)
    assert jobs.get(job.id, user="dave") == finished
    assert jobs.get(job.id.upper(), user="dave") == finished
    root = jobs.mesh.metadata("root", superuser=True)
    reply = jobs.stub().GetJob(execution_pb2.GetJobRequest(id=job.id), metadata=root, timeout=10)
    assert reply.job == finished
    # Permission is decided for every caller, not remembered with the reply.
    stranger = rpc_error(lambda: jobs.get(job.id, user="eve"))
    assert stranger.code() == grpc.StatusCode.NOT_FOUND
    assert "not found" in (stranger.details() or "")


def test_a_job_not_finished_is_read_again_on_every_call(jobs: Jobs) -> None:
    job = jobs.submit("unserved", [{"x": 1}], user="dave")  # no worker: stays QUEUED
    assert jobs.get(job.id, user="dave").id == job.id
    _forget_in_redis(jobs, job.id)
    gone = rpc_error(lambda: jobs.get(job.id, user="dave"))
    assert gone.code() == grpc.StatusCode.NOT_FOUND



def _finished(ended: float) -> JobRecord:
    return JobRecord(
        id="j1", model="m", version="1", submitter="dave", status=JobStatus.SUCCEEDED,
        created=ended - 1, record_count=1, ended=ended,
    )  # fmt: skip


def test_a_kept_reply_never_outlives_the_jobs_record_in_redis() -> None:
    replies = FinishedReplies(fresh_s=600, job_ttl_s=60)
    reply = execution_pb2.GetJobResponse(job=job_pb2.Job(id="j1"))
    # Finished 59.5 s ago: its record expires in half a second, and so does the reply.
    data = replies.keep(_finished(time.time() - 59.5), reply)
    assert data == reply.SerializeToString()
    assert replies.get("j1") is not None
    time.sleep(0.6)
    assert replies.get("j1") is None
    # Finished longer ago than the TTL (Redis has dropped it): served once, not kept.
    assert replies.keep(_finished(time.time() - 61), reply) == data
    assert replies.get("j1") is None
    # Finished just now: kept for fresh_s, well inside the TTL.
    replies.keep(_finished(time.time()), reply)
    kept = replies.get("j1")
    assert kept is not None and kept.data == data and kept.submitter == "dave"
