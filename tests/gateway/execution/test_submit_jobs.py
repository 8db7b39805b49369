"""SubmitJobs through real servers and workers: every job of a call accepted or
refused on its own, with what SubmitJob answers that job, in order; accepted
jobs run like any other; the call itself is bounded."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_status import rpc_status

from modelgateway.v1 import execution_pb2, job_pb2
from tests.harness import unique_name

from .conftest import Jobs, register_backend, rpc_error

E = execution_pb2


def _request(model: str, records: list[dict[str, Any]], **fields: str) -> E.SubmitJobRequest:
    structs = []
    for record in records:
        struct = struct_pb2.Struct()
        struct.update(record)
        structs.append(struct)
    return E.SubmitJobRequest(model=model, records=structs, **fields)


def _submit_jobs(jobs: Jobs, requests: list[E.SubmitJobRequest], user: str = "alice") -> Any:
    call = E.SubmitJobsRequest(jobs=requests)
    return jobs.stub().SubmitJobs(call, metadata=jobs.mesh.metadata(user), timeout=30).results


def _submit_job_status(jobs: Jobs, request: E.SubmitJobRequest, user: str = "alice") -> Any:
    """The google.rpc.Status SubmitJob answers for the same job."""
    error = rpc_error(
        lambda: jobs.stub().SubmitJob(request, metadata=jobs.mesh.metadata(user), timeout=10)
    )
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    return status or rpc_status.status_pb2.Status(
        code=error.code().value[0], message=error.details()
    )


def test_each_job_of_a_mixed_call_gets_what_submit_job_gives_it(jobs: Jobs) -> None:
    private = unique_name("private")
    register_backend(
        jobs.mesh, private, "python", {"callable": "workers.builtin.demo:echo"}, public=False
    )
    key, earlier_key = f"k-{uuid.uuid4()}", f"e-{uuid.uuid4()}"
    earlier = jobs.submit("echo", [{"i": "earlier"}], key=earlier_key)
    echo, picky = jobs.model("echo"), jobs.model("picky")
    requests = [
        _request(echo, [{"i": 0}]),
        _request(picky, [{"n": 1}, {"n": "two"}]),
        _request("no-such-model", [{}]),
        _request(private, [{}]),
        _request(echo, [{}], version="9.9.9"),
        _request(echo, [{"i": 1}], idempotency_key=key),
        _request(echo, [{"i": 1}], idempotency_key=key),
        _request(echo, [{"i": "other"}], idempotency_key=key),
        _request(echo, [{"i": "earlier"}], idempotency_key=earlier_key),
        _request("", [{}]),
        _request(echo, []),
        _request(picky, [{"n": 3}]),
        _request(echo, [{}], idempotency_key="k" * 129),
    ]
    results = _submit_jobs(jobs, requests)
    assert len(results) == len(requests)
    accepted = {0, 5, 11}
    for index in {1, 2, 3, 4, 7, 9, 10, 12}:
        assert results[index].WhichOneof("outcome") == "error", index
        assert results[index].error == _submit_job_status(jobs, requests[index]), index
    assert (
        results[3].error.code == grpc.StatusCode.NOT_FOUND.value[0]
        and private in results[3].error.message
    )
    assert "records[1]" in results[1].error.message and results[1].error.details  # the BadRequest
    assert str(results[5].job.id) in results[7].error.message  # the key's job, a conflict
    for index in accepted:
        assert results[index].WhichOneof("outcome") == "job" and not results[index].deduplicated
    assert (results[6].job.id, results[6].deduplicated) == (results[5].job.id, True)
    assert (results[8].job.id, results[8].deduplicated) == (earlier.id, True)
    assert len({results[i].job.id for i in accepted}) == 3
    done = {i: jobs.wait(results[i].job.id) for i in accepted}
    assert all(d.status == job_pb2.JOB_STATUS_SUCCEEDED for d in done.values())
    assert dict(done[0].results[0].output["echo"]) == {"i": 0}
    assert dict(done[5].results[0].output["echo"]) == {"i": 1}
    assert done[11].results[0].output["n"] == 3
    assert (done[5].idempotency_key, done[11].model) == (key, picky)


def test_a_queued_job_is_shown_as_get_job_shows_it(jobs: Jobs) -> None:
    unserved = jobs.model("unserved")
    requests = [_request(unserved, [{"i": i}] * (i + 1)) for i in range(3)]
    results = _submit_jobs(jobs, requests)
    for result, request in zip(results, requests, strict=True):
        job = result.job
        assert job.status == job_pb2.JOB_STATUS_QUEUED and job.record_count == len(request.records)
        assert job == jobs.get(job.id)  # its place, its warning, its times: all alike
    ahead = [r.job.queue_place.jobs_ahead for r in results]
    assert ahead == [ahead[0], ahead[0] + 1, ahead[0] + 2]
    assert "no worker serving model" in results[0].job.queue_place.warning
    listed = (
        jobs.stub()
        .ListJobs(
            E.ListJobsRequest(model=unserved, page_size=3), metadata=jobs.mesh.metadata("alice")
        )
        .jobs
    )
    assert [j.id for j in listed] == [r.job.id for r in reversed(results)]  # newest first
    for result in results:
        jobs.stub().CancelJob(
            E.CancelJobRequest(id=result.job.id), metadata=jobs.mesh.metadata("alice")
        )


def test_jobs_of_several_models_and_versions_in_one_call(jobs: Jobs) -> None:
    requests = [_request(jobs.model(("echo", "fifo")[i % 2]), [{"i": i}]) for i in range(40)]
    requests.append(_request(jobs.model("echo"), [{"i": 40}], version="1.0.0"))
    results = _submit_jobs(jobs, requests)
    assert [r.job.model for r in results] == [r.model for r in requests]
    for index in (1, 40):  # a job of each model
        done = jobs.wait(results[index].job.id)
        assert done.status == job_pb2.JOB_STATUS_SUCCEEDED
        assert done.results[0].output["echo"]["i"] == index


def test_naming_the_default_or_no_version_keeps_each_job_its_own_key(jobs: Jobs) -> None:
    """Jobs that name the default's number and jobs that name none run the same
    version (one group of the script), yet a key stays bound to what its job
    named: the same key and records under the other naming is a conflict."""
    echo, key = jobs.model("echo"), f"v-{uuid.uuid4()}"
    requests = [
        _request(echo, [{"i": 0}], idempotency_key=key),
        _request(echo, [{"i": 0}], idempotency_key=key, version="1.0.0"),
        _request(echo, [{"i": 1}], version="1.0.0"),
        _request(echo, [{"i": 0}], idempotency_key=key),
    ]
    results = _submit_jobs(jobs, requests)
    assert [r.WhichOneof("outcome") for r in results] == ["job", "error", "job", "job"]
    assert results[1].error == _submit_job_status(jobs, requests[1])
    assert results[1].error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "different records or version" in results[1].error.message
    assert (results[3].job.id, results[3].deduplicated) == (results[0].job.id, True)
    assert {results[0].job.version, results[2].job.version} == {"1.0.0"}
    assert jobs.wait(results[2].job.id).results[0].output["echo"]["i"] == 1


@pytest.mark.parametrize(
    ("count", "words"),
    [(0, "jobs is required"), (10_001, "at most 10,000 jobs; 10,001 were given")],
)
def test_the_call_is_bounded(jobs: Jobs, count: int, words: str) -> None:
    requests = [_request(jobs.model("echo"), [{}])] * count
    error = rpc_error(lambda: _submit_jobs(jobs, requests))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and words in error.details()
