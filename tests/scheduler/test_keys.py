"""Job ids and key names, with no servers."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from scheduler import keys
from scheduler.job import JobStatus, parse_transitions
from scheduler.queue import fingerprint

model_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,2}", fullmatch=True)


@given(model_names, st.integers(min_value=0, max_value=2**48 - 1))
def test_job_ids_are_uuid8_carrying_the_model_shard_and_time(model: str, ms: int) -> None:
    job_id = keys.new_job_id(model, now_ms=ms)
    parsed = uuid.UUID(job_id)
    assert parsed.version == 8 and parsed.variant == uuid.RFC_4122
    assert keys.shard_of_job(job_id) == keys.shard_of_model(model)
    assert keys.time_of_job(job_id) == ms / 1000


@given(model_names)
def test_every_key_of_a_model_shares_its_hash_tag(model: str) -> None:
    job_id = keys.new_job_id(model)
    tag = keys.tag(keys.shard_of_model(model))
    for key in (
        keys.job(job_id, keys.shard_of_job(job_id) or 0),
        keys.queue(model),
        keys.model_jobs(model),
        keys.start_counter(model),
        keys.idempotency(model, "user{with}braces", "key"),
        keys.counts(model),
        keys.waiting(model),
        keys.user_model_budget("user{with}braces", model),
    ):
        assert key.startswith(tag)
        assert key.count("{") == 1, "user input must not add a hash tag"


def test_foreign_ids_are_not_ours() -> None:
    assert keys.shard_of_job(str(uuid.uuid4())) is None
    assert keys.shard_of_job("not-a-uuid") is None
    assert keys.shard_of_job(keys.new_job_id("m").upper()) is None  # canonical form only


def test_job_ids_sort_by_time() -> None:
    ids = [keys.new_job_id("m", now_ms=t) for t in (5, 1_000, 1_000_000)]
    assert ids == sorted(ids)


def test_transitions_round_trip() -> None:
    parsed = parse_transitions("QUEUED@1.5;RUNNING@2.25;SUCCEEDED@3.0;")
    assert [(t.status, t.time) for t in parsed] == [
        (JobStatus.QUEUED, 1.5), (JobStatus.RUNNING, 2.25), (JobStatus.SUCCEEDED, 3.0)
    ]
    assert JobStatus.SUCCEEDED.terminal and not JobStatus.RUNNING.terminal


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint("", [{"a": 1, "b": 2}]) == fingerprint("", [{"b": 2, "a": 1}])
    assert fingerprint("", [{"a": 1}]) != fingerprint("", [{"a": 2}])
    assert fingerprint("1", [{"a": 1}]) != fingerprint("2", [{"a": 1}])
