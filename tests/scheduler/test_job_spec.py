"""The job spec and its stored form (scheduler.job): round trips, and the JSON
the code before JobSpec wrote still reads the same. No servers."""

from __future__ import annotations

import json

from scheduler.job import DEFAULT_TIMEOUT_S, ChildSpec, JobRecord, JobSpec

# The "spec" field exactly as the code before JobSpec stored it: json.dumps of
# {"kind", "config", "timeout_s"} and, for a consensus job, "children" by alias.
OLD_PLAIN = '{"kind": "python", "config": {"callable": "pkg.mod:fn"}, "timeout_s": 60.0}'
OLD_CONSENSUS = (
    '{"kind": "consensus", "config": {"formula": "a + b", "children": []}, "timeout_s": 300.0, '
    '"children": {"a": {"model": "m.a", "version": "1.0.0", "output": "score", "spec": '
    '{"kind": "python", "config": {"callable": "pkg.a:fn"}, "timeout_s": 30.0}}, '
    '"b": {"model": "m.b", "version": "2.0.0", "output": "value", "spec": '
    '{"kind": "http", "config": {"url": "http://b"}, "timeout_s": 300.0}}}}'
)


def test_a_plain_spec_round_trips() -> None:
    spec = JobSpec("python", {"callable": "pkg.mod:fn", "args": [1, 2]}, 12.5)
    assert JobSpec.from_json(spec.to_json()) == spec
    assert JobSpec.from_dict(spec.to_dict()) == spec
    assert "children" not in spec.to_dict()  # what a backend reads: kind, config, timeout_s


def test_a_consensus_spec_round_trips_with_its_children_in_order() -> None:
    child = ChildSpec("m.z", "3.1.0", "score", JobSpec("python", {"callable": "p:f"}))
    nested = ChildSpec("m.nested", "1.0.0", "mean", JobSpec("consensus", {}, children={"z": child}))
    spec = JobSpec("consensus", {"formula": "z + y"}, children={"z": child, "y": nested})
    again = JobSpec.from_json(spec.to_json())
    assert again == spec and again.consensus
    assert list(again.children) == ["z", "y"]
    assert again.children["y"].spec.children["z"] == child


def test_the_default_timeout_applies_when_none_is_stored() -> None:
    assert JobSpec("python").timeout_s == DEFAULT_TIMEOUT_S == 300.0
    assert JobSpec.from_json('{"kind": "python", "config": {}}').timeout_s == DEFAULT_TIMEOUT_S
    assert JobSpec.from_json(None) == JobSpec.from_json("{}") == JobSpec("")


def test_specs_stored_before_jobspec_read_and_are_written_back_unchanged() -> None:
    plain = JobSpec.from_json(OLD_PLAIN)
    assert plain == JobSpec("python", {"callable": "pkg.mod:fn"}, 60.0)
    assert plain.to_json() == OLD_PLAIN
    consensus = JobSpec.from_json(OLD_CONSENSUS)
    assert consensus.consensus and consensus.config["formula"] == "a + b"
    assert consensus.children["a"] == ChildSpec(
        "m.a", "1.0.0", "score", JobSpec("python", {"callable": "pkg.a:fn"}, 30.0)
    )
    assert consensus.children["b"].spec.kind == "http"
    assert json.loads(consensus.to_json()) == json.loads(OLD_CONSENSUS)


def test_a_job_record_reads_its_spec_field() -> None:
    values = {
        "id": "j", "model": "m", "version": "1", "submitter": "ann", "status": "QUEUED",
        "created": "1.5", "record_count": "1", "spec": OLD_PLAIN,
    }  # fmt: skip
    assert JobRecord.from_hash(values).spec == JobSpec("python", {"callable": "pkg.mod:fn"}, 60.0)
    del values["spec"]
    assert JobRecord.from_hash(values).spec == JobSpec("")
