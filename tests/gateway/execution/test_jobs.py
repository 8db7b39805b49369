"""Submitting, polling, watching, cancelling and listing jobs through real servers and workers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import redis

from modelgateway.v1 import execution_pb2, job_pb2, model_pb2, registry_pb2
from scheduler import keys

from .conftest import Jobs, rpc_error, status_name

Q, R, S, F, C = (
    job_pb2.JOB_STATUS_QUEUED,
    job_pb2.JOB_STATUS_RUNNING,
    job_pb2.JOB_STATUS_SUCCEEDED,
    job_pb2.JOB_STATUS_FAILED,
    job_pb2.JOB_STATUS_CANCELLED,
)


def test_submit_returns_at_once_and_poll_gets_results(jobs: Jobs) -> None:
    started = time.monotonic()
    job = jobs.submit("echo", [{"smiles": "CCO"}, {"smiles": "c1ccccc1"}])
    assert time.monotonic() - started < 1.0
    assert (job.status, job.model, job.version, job.record_count) == (
        Q,
        jobs.model("echo"),
        "1.0.0",
        2,
    )
    done = jobs.wait(job.id)
    assert status_name(done) == "JOB_STATUS_SUCCEEDED"
    assert [dict(r.output["echo"]) for r in done.results] == [
        {"smiles": "CCO"},
        {"smiles": "c1ccccc1"},
    ]
    assert [t.status for t in done.transitions] == [Q, R, S]
    times = [t.time.ToNanoseconds() for t in done.transitions]
    assert times == sorted(times)
    assert done.attempts == 1 and done.run_seconds >= 0 and done.queue_seconds >= 0


def test_watch_streams_every_transition_then_ends(jobs: Jobs) -> None:
    job = jobs.submit("sleep", [{"seconds": 1.5}])
    stream = jobs.stub().WatchJob(
        execution_pb2.WatchJobRequest(id=job.id), metadata=jobs.mesh.metadata("alice"), timeout=30
    )
    statuses, heartbeats = [], 0
    for message in stream:
        if message.heartbeat:
            heartbeats += 1
            continue
        statuses.append(message.job.status)
        last = message.job
    assert statuses[-1] == S and statuses[0] in (Q, R)
    assert R in statuses
    assert statuses == sorted(statuses)
    assert heartbeats >= 1  # the test mesh sends one per idle second
    assert last.results[0].output["slept"] == 1.5


def test_watch_of_a_finished_job_gives_its_state_and_ends(jobs: Jobs) -> None:
    job = jobs.wait(jobs.submit("echo", [{"x": 1}]).id)
    messages = list(
        jobs.stub().WatchJob(
            execution_pb2.WatchJobRequest(id=job.id),
            metadata=jobs.mesh.metadata("alice"),
            timeout=10,
        )
    )
    assert len(messages) == 1 and messages[0].job.status == S


def test_a_record_fails_alone(jobs: Jobs) -> None:
    done = jobs.wait(jobs.submit("picky", [{"n": 0}, {"n": 1, "bad": True}, {"n": 2}]).id)
    assert done.status == S
    assert [r.error for r in done.results] == ["", "record 1 is bad", ""]
    assert [r.output["n"] for r in (done.results[0], done.results[2])] == [0, 2]


def test_a_failing_model_fails_the_job(jobs: Jobs) -> None:
    done = jobs.wait(jobs.submit("fail", [{"x": 1}]).id)
    assert done.status == F
    assert done.error.reason == "model_error" and "blew up on purpose" in done.error.message
    assert not done.results


def test_version_timeout(jobs: Jobs) -> None:
    done = jobs.wait(jobs.submit("timeout", [{"seconds": 5}]).id, timeout_s=20)
    assert (done.status, done.error.reason) == (F, "timeout")


def _queued_entry(jobs: Jobs, suffix: str, job_id: str) -> bool:
    """Whether the model's queue stream still holds an entry of the job."""
    with redis.Redis.from_url(jobs.mesh.env["MODELGW_REDIS_URL"], decode_responses=True) as client:
        entries = client.xrange(keys.queue(jobs.model(suffix), "1.0.0"))
    return any(values.get("job") == job_id for _, values in entries)


def test_cancel_queued_and_running_jobs(jobs: Jobs) -> None:
    queued = jobs.submit("unserved", [{"x": 1}])
    cancelled = (
        jobs.stub()
        .CancelJob(
            execution_pb2.CancelJobRequest(id=queued.id), metadata=jobs.mesh.metadata("alice")
        )
        .job
    )
    assert cancelled.status == C and cancelled.error.reason == "cancelled"
    assert [t.status for t in cancelled.transitions] == [Q, C]

    running = jobs.submit("sleep", [{"seconds": 20}])
    deadline = time.monotonic() + 10
    while jobs.get(running.id).status != R:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    jobs.stub().CancelJob(
        execution_pb2.CancelJobRequest(id=running.id), metadata=jobs.mesh.metadata("alice")
    )
    # The worker notices within its poll interval, stops the model and acknowledges
    # the entry: it leaves the queue, and nothing moves the job after that.
    deadline = time.monotonic() + 10
    while _queued_entry(jobs, "sleep", running.id):
        assert time.monotonic() < deadline, "the worker did not let go of the cancelled job"
        time.sleep(0.1)
    after = jobs.get(running.id)
    assert after.status == C and [t.status for t in after.transitions] == [Q, R, C]
    again = rpc_error(
        lambda: jobs.stub().CancelJob(
            execution_pb2.CancelJobRequest(id=jobs.wait(jobs.submit("echo", [{}]).id).id),
            metadata=jobs.mesh.metadata("alice"),
        )
    )
    assert (
        again.code() == grpc.StatusCode.FAILED_PRECONDITION
        and "already finished as SUCCEEDED" in again.details()
    )


def test_idempotent_submission_under_a_race_of_100(jobs: Jobs) -> None:
    barrier = threading.Barrier(100)

    def submit(_: int) -> tuple[str, bool]:
        barrier.wait()
        request = execution_pb2.SubmitJobRequest(
            model=jobs.model("echo"), records=[_record()], idempotency_key="race-1"
        )
        reply = jobs.stub().SubmitJob(request, metadata=jobs.mesh.metadata("bob"), timeout=20)
        return reply.job.id, reply.deduplicated

    with ThreadPoolExecutor(100) as pool:
        replies = list(pool.map(submit, range(100)))
    assert len({job_id for job_id, _ in replies}) == 1
    assert sum(1 for _, dedup in replies if not dedup) == 1
    other_user = jobs.submit("echo", [{"n": 1}], user="carol", key="race-1")
    assert other_user.id != replies[0][0]
    conflict = rpc_error(lambda: jobs.submit("echo", [{"n": 2}], user="bob", key="race-1"))
    assert (
        conflict.code() == grpc.StatusCode.FAILED_PRECONDITION
        and "different records" in conflict.details()
    )


def _record():  # type: ignore[no-untyped-def]
    from google.protobuf import struct_pb2

    record = struct_pb2.Struct()
    record.update({"n": 1})
    return record


def test_bad_submissions_are_refused_precisely(jobs: Jobs) -> None:
    cases = [
        (lambda: jobs.submit("no-such-model", [{}]), grpc.StatusCode.NOT_FOUND, "not found"),
        (
            lambda: jobs.submit("echo", [{}], version="9.9.9"),
            grpc.StatusCode.NOT_FOUND,
            "no version '9.9.9'",
        ),
        (
            lambda: jobs.submit("echo", []),
            grpc.StatusCode.INVALID_ARGUMENT,
            "at least one input record",
        ),
        (
            lambda: jobs.submit("picky", [{"n": 1}, {"n": "two"}]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "records[1]",
        ),
        (
            lambda: jobs.submit("picky", [{"m": 1}]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "'n' is a required property",
        ),
        (
            lambda: jobs.submit("echo", [{}] * 10_001),
            grpc.StatusCode.INVALID_ARGUMENT,
            "at most 10000 records",
        ),
        (
            lambda: jobs.submit("echo", [{}], key="k" * 129),
            grpc.StatusCode.INVALID_ARGUMENT,
            "idempotency_key",
        ),
        (lambda: jobs.get("not-a-uuid"), grpc.StatusCode.INVALID_ARGUMENT, "not a job UUID"),
        (
            lambda: jobs.get("018f2b4e-1c2d-8000-8000-000000000000"),
            grpc.StatusCode.NOT_FOUND,
            "not found",
        ),
    ]
    for call, code, words in cases:
        error = rpc_error(call)
        assert error.code() == code, (words, error.details())
        assert words in error.details(), error.details()
    assert "at /n" in rpc_error(lambda: jobs.submit("picky", [{"n": "x"}])).details()


def test_only_submitter_owner_or_superuser_see_a_job(jobs: Jobs) -> None:
    job = jobs.submit("echo", [{"x": 1}], user="dave")
    assert jobs.get(job.id, user="dave").id == job.id
    assert jobs.get(job.id.upper(), user="dave").id == job.id
    jobs.mesh.registry().GrantAccess(
        registry_pb2.GrantAccessRequest(
            name=jobs.model("echo"), user="oscar", role=model_pb2.ACCESS_ROLE_OWNER
        ),
        metadata=jobs.mesh.metadata("root", superuser=True),
    )
    assert jobs.get(job.id, user="oscar").submitter == "dave"  # an owner of the job's model
    stranger = rpc_error(lambda: jobs.get(job.id, user="eve"))
    assert stranger.code() == grpc.StatusCode.NOT_FOUND
    watch = rpc_error(
        lambda: list(
            jobs.stub().WatchJob(
                execution_pb2.WatchJobRequest(id=job.id),
                metadata=jobs.mesh.metadata("eve"),
                timeout=5,
            )
        )
    )
    assert watch.code() == grpc.StatusCode.NOT_FOUND
    cancel = rpc_error(
        lambda: jobs.stub().CancelJob(
            execution_pb2.CancelJobRequest(id=job.id), metadata=jobs.mesh.metadata("eve")
        )
    )
    assert cancel.code() == grpc.StatusCode.NOT_FOUND
    su = (
        jobs.stub()
        .GetJob(
            execution_pb2.GetJobRequest(id=job.id),
            metadata=jobs.mesh.metadata("root", superuser=True),
        )
        .job
    )
    assert su.submitter == "dave"


def test_list_jobs_by_role(jobs: Jobs) -> None:
    mine = [jobs.submit("echo", [{"i": i}], user="frank").id for i in range(5)]
    jobs.submit("echo", [{"i": 9}], user="gina")
    listed = jobs.stub().ListJobs(
        execution_pb2.ListJobsRequest(page_size=3), metadata=jobs.mesh.metadata("frank")
    )
    second = jobs.stub().ListJobs(
        execution_pb2.ListJobsRequest(page_size=3, page_token=listed.next_page_token),
        metadata=jobs.mesh.metadata("frank"),
    )
    assert [j.id for j in listed.jobs] + [j.id for j in second.jobs] == mine[::-1]
    assert second.next_page_token == ""
    assert all(j.submitter == "frank" for j in listed.jobs)
    everyone = jobs.stub().ListJobs(
        execution_pb2.ListJobsRequest(model=jobs.model("echo"), page_size=1000),
        metadata=jobs.mesh.metadata("root", superuser=True),
    )
    assert {"frank", "gina"} <= {j.submitter for j in everyone.jobs}
    for job_id in mine:
        jobs.wait(job_id, user="frank")
    done = jobs.stub().ListJobs(
        execution_pb2.ListJobsRequest(status=S), metadata=jobs.mesh.metadata("frank")
    )
    assert {j.id for j in done.jobs} == set(mine)
    hidden = rpc_error(
        lambda: jobs.stub().ListJobs(
            execution_pb2.ListJobsRequest(model="private-nothing"),
            metadata=jobs.mesh.metadata("frank"),
        )
    )
    assert hidden.code() == grpc.StatusCode.NOT_FOUND
