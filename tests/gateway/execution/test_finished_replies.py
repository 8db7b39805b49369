"""A finished job's GetJob reply is built once and served from memory for
MODELGW_FINISHED_REPLY_SECONDS, still checking the caller's permission on every
call; a job that is not finished is read from Redis on every call."""

from __future__ import annotations

import grpc
import redis

from modelgateway.v1 import execution_pb2
from scheduler import keys

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

