"""A job's audit record says why it runs its version (audit.records.job_record)."""

from __future__ import annotations

from audit.records import job_record


def test_the_queued_record_carries_the_route_and_rollout() -> None:
    fields = {"job": "j1", "model": "m", "version": "2.0", "status": "QUEUED",
              "time": "1795348800.5", "route": "rollout", "rollout": "r-1"}  # fmt: skip
    record = job_record("m", "1-0", fields)
    assert (record["version"], record["route"], record["rollout"]) == ("2.0", "rollout", "r-1")


def test_a_record_of_an_earlier_release_has_no_route() -> None:
    record = job_record("m", "1-0", {"job": "j1", "status": "QUEUED", "time": "1795348800.5"})
    assert "route" not in record and "rollout" not in record
