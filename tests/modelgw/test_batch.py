"""submit_many's plan without a server: calls cut by count and size, each job's
outcome in order, the rounds that send refused jobs again, and what is raised."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from modelgateway.v1 import execution_pb2
from modelgw import _batch
from modelgw._channel import Settings
from modelgw.errors import InvalidInput, JobsRefused, ResourceExhausted, Unavailable

SETTINGS = Settings("x:1", None, timeout_s=30.0, retries=2)


def _plan(count: int, records: list[dict[str, Any]] | None = None) -> _batch.Submissions:
    return _batch.Submissions("m", [records or [{"i": i}] for i in range(count)], "", "", SETTINGS)


def _reply(*outcomes: Any) -> execution_pb2.SubmitJobsResponse:
    reply = execution_pb2.SubmitJobsResponse()
    for outcome in outcomes:
        result = reply.results.add()
        if isinstance(outcome, status_pb2.Status):
            result.error.CopyFrom(outcome)
        else:
            result.job.id = outcome
    return reply


def _limited(seconds: float) -> status_pb2.Status:
    status = status_pb2.Status(
        code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="slow down"
    )
    status.details.add().Pack(
        error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=int(seconds * 1e9)))
    )
    return status


def test_calls_are_cut_by_count_and_by_size() -> None:
    calls = list(_plan(2_500).calls())
    assert [len(indexes) for indexes, _ in calls] == [1_000, 1_000, 500]
    assert [len(call.jobs) for _, call in calls] == [1_000, 1_000, 500]
    big = list(_plan(10, [{"text": "x" * 1_000_000}]).calls())
    assert [indexes for indexes, _ in big] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # 4 MiB each
    keys = {call.jobs[0].idempotency_key for _, call in calls}
    assert len(keys) == 3 and all(keys)  # every job its own key


def test_refusals_that_pass_are_sent_again_after_the_delay_asked() -> None:
    plan = _plan(3)
    [(indexes, _)] = plan.calls()
    plan.take(indexes, _reply("a", _limited(0.2), status_pb2.Status(code=3, message="bad record")))
    assert isinstance(plan._errors[1], ResourceExhausted) and plan._errors[
        1
    ].retry_after_s == pytest.approx(0.2)
    delay = plan.next_round()
    assert delay is not None and 0.2 <= delay < 0.3
    [(again, call)] = plan.calls()
    assert again == [1] and len(call.jobs) == 1
    plan.take(again, _reply("b"))
    assert plan.next_round() is None  # the bad record does not pass
    with pytest.raises(JobsRefused) as refused:
        plan.handles(lambda job: job.id)
    assert refused.value.jobs == ["a", "b", None] and refused.value.accepted == ["a", "b"]
    assert (
        isinstance(refused.value.errors[2], InvalidInput)
        and refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "1 of 3 jobs were refused" in str(refused.value)


def test_a_failed_call_is_each_of_its_jobs_error_and_retries_end() -> None:
    plan = _plan(2)
    for _ in range(SETTINGS.retries):
        for indexes, _call in plan.calls():
            plan.take(indexes, Unavailable("down"))
        assert plan.next_round() is not None
    assert plan.next_round() is None
    with pytest.raises(JobsRefused) as refused:
        plan.handles(lambda job: job)
    assert set(refused.value.errors) == {0, 1} and refused.value.jobs == [None, None]


def test_all_accepted_gives_the_handles_in_order() -> None:
    plan = _plan(2)
    [(indexes, _)] = plan.calls()
    plan.take(indexes, _reply("x", "y"))
    assert plan.next_round() is None
    assert plan.handles(lambda job: job.id) == ["x", "y"]
