"""Each status the gateway sends arrives as its typed error, with its details."""

from __future__ import annotations

import time
import uuid

import pytest
from google.protobuf import field_mask_pb2

import modelgw
from modelgateway.v1 import model_pb2, registry_pb2
from tests.gateway.conftest import create_model
from tests.gateway.edge.conftest import Edge


def test_not_found(alice: modelgw.Client, gateway: Edge) -> None:
    with pytest.raises(modelgw.NotFound) as failure:
        alice.get_model("no.such-model")
    assert "not found" in failure.value.message and failure.value.code.name == "NOT_FOUND"
    # Another user's job is not alice's to know of.
    bobs = alice.with_token(gateway.mesh.token(f"bob-{uuid.uuid4().hex[:8]}")).submit(
        "rdkit.logp", [{"smiles": "C"}]
    )
    with pytest.raises(modelgw.NotFound):
        alice.job(bobs.id)


def test_unauthenticated(gateway: Edge) -> None:
    for token in ("not-a-jwt", None):
        with (
            modelgw.Client(gateway.address, token, retries=0) as client,
            pytest.raises(modelgw.Unauthenticated),
        ):
            client.get_model("rdkit.logp")


def test_permission_denied(alice: modelgw.Client) -> None:
    document = "mine.consensus:\n  CHILDMODELS:\n    A: rdkit.logp\n  FORMULA: A\n"
    with pytest.raises(modelgw.PermissionDenied) as failure:
        alice.create_consensus_model(document)
    assert "superuser" in failure.value.message


def test_invalid_input_names_the_record_and_the_field(gateway: Edge) -> None:
    fixture = create_model(gateway.mesh)
    with modelgw.Client(gateway.address, gateway.mesh.token(fixture.reader)) as reader:
        with pytest.raises(modelgw.InvalidInput) as failure:
            reader.submit(fixture.name, [{"smiles": "C"}] * 3 + [{"smiles": 5}])
        assert (failure.value.record_index, failure.value.field_path) == (3, "/smiles")
        assert failure.value.message.startswith("records[3] does not match the input schema")
        with pytest.raises(modelgw.InvalidInput) as missing:
            reader.submit(fixture.name, [{"smiles": "C"}, {"other": 1}])
        assert (missing.value.record_index, missing.value.field_path) == (1, "")


def test_the_message_is_parsed_when_no_detail_came() -> None:
    error = modelgw.errors.from_status(
        modelgw.InvalidInput.code,
        "records[12] does not match the input schema of 'm' 1.0.0: at /a/0: 5 is not a string",
    )
    assert isinstance(error, modelgw.InvalidInput)
    assert (error.record_index, error.field_path) == (12, "/a/0")


def test_failed_precondition_on_a_reused_idempotency_key(alice: modelgw.Client) -> None:
    key = f"key-{time.time_ns()}"
    first = alice.submit("rdkit.logp", [{"smiles": "C"}], idempotency_key=key)
    assert alice.submit("rdkit.logp", [{"smiles": "C"}], idempotency_key=key).id == first.id
    with pytest.raises(modelgw.FailedPrecondition):
        alice.submit("rdkit.logp", [{"smiles": "CC"}], idempotency_key=key)


def test_resource_exhausted_carries_retry_after(gateway: Edge) -> None:
    fixture = create_model(gateway.mesh)
    owner_md = gateway.mesh.metadata(fixture.owner)
    gateway.mesh.registry().UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=model_pb2.Model(
                name=fixture.name, limits=model_pb2.ModelLimits(user_jobs_per_second=0.01)
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["limits.user_jobs_per_second"]),
        ),
        metadata=owner_md,
    )
    # A retry_after of about 100 s is beyond the deadline: the client gives up at once.
    with modelgw.Client(
        gateway.address, gateway.mesh.token(fixture.reader), timeout_s=10
    ) as reader:
        deadline = time.monotonic() + 15
        while True:
            started = time.monotonic()
            try:
                reader.submit(fixture.name, [{"smiles": "C"}])
            except modelgw.ResourceExhausted as exc:
                assert exc.retry_after_s is not None and 10 < exc.retry_after_s <= 101
                assert time.monotonic() - started < 5
                break
            assert time.monotonic() < deadline, "the model's rate limit never applied"
            time.sleep(0.3)
