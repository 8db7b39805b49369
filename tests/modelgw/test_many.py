"""What watch_many knows between messages (modelgw.many._Following): pure logic, no
servers. The drivers run against real servers in test_client, test_aio and test_retries."""

from __future__ import annotations

import pytest
from google.rpc import status_pb2

import modelgw
from modelgateway.v1 import execution_pb2, job_pb2
from modelgw.many import MAX_JOBS, _Following, check_count
from modelgw.models import JobInfo

Q, R, S = job_pb2.JOB_STATUS_QUEUED, job_pb2.JOB_STATUS_RUNNING, job_pb2.JOB_STATUS_SUCCEEDED
IDS = [f"0190a4b2-0000-8000-8000-00000000000{n}" for n in range(3)]


class Handle:
    def __init__(self, job_id: str) -> None:
        self.id = job_id


def message(*states: tuple[str, int]) -> execution_pb2.WatchJobsResponse:
    reply = execution_pb2.WatchJobsResponse()
    for job_id, status in states:
        reply.jobs.add(id=job_id, job=job_pb2.Job(id=job_id, model="m", version="1", status=status))
    return reply


def following(jobs: list[Handle | str]) -> _Following[Handle]:
    return _Following(jobs, lambda info: Handle(f"made:{info.id}"))


def test_changes_once_per_status_and_final_jobs_leave_the_next_request() -> None:
    given = Handle(IDS[0])
    state = following([given, IDS[1].upper(), IDS[2], IDS[1]])  # a duplicate, in capitals
    assert list(state.request().ids) == IDS
    first = state.feed(message((IDS[0], Q), (IDS[1], R), (IDS[2], Q)))
    assert [(h.id, i.status) for h, i in first] == [
        (IDS[0], "QUEUED"), (f"made:{IDS[1]}", "RUNNING"), (f"made:{IDS[2]}", "QUEUED"),
    ]  # fmt: skip
    assert first[0][0] is given  # the caller's own handle comes back
    # After a reconnection the server shows the same states again: no news.
    assert state.feed(message((IDS[0], Q), (IDS[1], R))) == []
    done = state.feed(message((IDS[1], S)))
    assert [(i.id, i.status, i.done) for _, i in done] == [(IDS[1], "SUCCEEDED", True)]
    assert done[0][0] is first[1][0]  # one handle per job
    assert list(state.request().ids) == [IDS[0], IDS[2]]  # what a reconnection names
    assert state.feed(message((IDS[1], S))) == []  # a final job says nothing more
    assert state.saw(IDS[0], JobInfo(IDS[0], "m", "1", "SUCCEEDED")) != []
    assert list(state.pending) == [IDS[2]]


def test_a_jobs_error_and_a_streams_error_raise_their_typed_errors() -> None:
    state = following([IDS[0], IDS[1]])
    reply = message((IDS[0], Q))
    reply.jobs.add(id=IDS[1], error=status_pb2.Status(code=5, message=f"job {IDS[1]} not found"))
    with pytest.raises(modelgw.NotFound, match="not found"):
        state.feed(reply)
    broken = execution_pb2.WatchJobsResponse(
        error=status_pb2.Status(code=14, message="redis went away")
    )
    with pytest.raises(modelgw.Unavailable, match="redis went away"):
        state.feed(broken)


def test_bounds_are_checked_before_calling() -> None:
    with pytest.raises(modelgw.InvalidInput, match="at least one job"):
        following([])
    with pytest.raises(modelgw.InvalidInput, match="at most 10,000 jobs"):
        check_count(following([f"{n}" for n in range(MAX_JOBS + 1)]))
