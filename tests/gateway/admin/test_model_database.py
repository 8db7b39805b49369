"""RefreshModelDatabase, ResetModelDatabase and QueryModelDatabase against a
registry and an admin server of their own, on a database of their own (these
RPCs rewrite the whole registry, which the session mesh shares)."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import json_format

from mesh import LocalPostgres
from mesh.postgres import QUERY_ROLE
from modelgateway.v1 import admin_pb2 as A
from modelgateway.v1 import (
    admin_pb2_grpc,
    execution_pb2,
    execution_pb2_grpc,
    model_pb2,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.conftest import create_database
from tests.harness import Mesh, own_servers

ANY = {"type": "object"}
CATALOG: dict[str, Any] = {
    "models": [
        {
            "name": "cat.alpha",
            "display_name": "Alpha",
            "description": "first",
            "tags": ["demo"],
            "backend": "demo",
            "visibility": "public",
            "owners": ["olga"],
            "readers": ["rita"],
            "default_version": "1.0.0",
            "versions": [
                {"version": v, "backend": {"kind": "python", "config": {"callable": "workers.builtin.demo:echo"}},
                 "input_schema": ANY, "output_schema": ANY, "notes": f"v{v}"}
                for v in ("1.0.0", "1.1.0")
            ],
        },
        {
            "name": "cat.panel",
            "description": "a consensus of alpha with itself",
            "versions": [
                {"version": "1.0.0", "backend": {"kind": "consensus", "config": {
                    "children": [{"alias": "A", "model": "cat.alpha", "version": "1.0.0", "output": "x"}],
                    "formula": "A", "output": "consensus"}}}
            ],
        },
    ]
}


@dataclass
class Registry:
    mesh: Mesh
    catalog: Path

    def admin(self) -> admin_pb2_grpc.AdminServiceStub:
        return admin_pb2_grpc.AdminServiceStub(self.mesh.channel("admin"))

    def registry(self) -> registry_pb2_grpc.RegistryServiceStub:
        return self.mesh.registry()

    @property
    def su(self) -> tuple[tuple[str, str], ...]:
        return self.mesh.metadata("root", superuser=True)

    def write_catalog(self, document: dict[str, Any]) -> None:
        self.catalog.write_text(yaml.safe_dump(document))

    def refresh(self, **kwargs: Any) -> list[dict[str, Any]]:
        reply = self.admin().RefreshModelDatabase(A.RefreshModelDatabaseRequest(**kwargs), metadata=self.su)
        return [_change(c) for c in reply.changes]

    def query(self, sql: str, **kwargs: Any) -> A.QueryModelDatabaseResponse:
        return self.admin().QueryModelDatabase(A.QueryModelDatabaseRequest(sql=sql, **kwargs), metadata=self.su)


def _change(change: A.CatalogChange) -> dict[str, Any]:
    as_dict = json_format.MessageToDict(change, preserving_proto_field_name=True)
    as_dict["action"] = A.ChangeAction.Name(change.action).removeprefix("CHANGE_ACTION_")
    return as_dict


def _summary(changes: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {(c["action"], c["model"], c["subject"], c.get("name", "")) for c in changes}


@pytest.fixture(scope="module")
def own_registry(
    postgres_server: LocalPostgres, mesh: Mesh, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    home = tmp_path_factory.mktemp("admin-db")
    catalog = home / "models.yaml"
    catalog.write_text(yaml.safe_dump(CATALOG))
    dsn = create_database(postgres_server, "admin_tests")
    settings = {
        "MODELGW_DATABASE_URL": dsn,
        "MODELGW_QUERY_DATABASE_URL": postgres_server.dsn_for("admin_tests", QUERY_ROLE),
        "MODELGW_CATALOG": str(catalog),
        "MODELGW_QUERY_TIMEOUT": "1",
    }
    with own_servers(mesh, home, ("registry", "admin", "execution"), **settings) as own:
        yield Registry(own, catalog)


def test_refresh_shows_the_diff_then_applies_it(own_registry: Registry) -> None:
    reg = own_registry
    planned = reg.refresh(dry_run=True)
    expected = {
        ("CREATE", "cat.alpha", "model", ""),
        ("CREATE", "cat.alpha", "version", "1.0.0"),
        ("CREATE", "cat.alpha", "version", "1.1.0"),
        ("UPDATE", "cat.alpha", "default_version", ""),
        ("UPDATE", "cat.alpha", "visibility", ""),
        ("CREATE", "cat.alpha", "owner", "olga"),
        ("CREATE", "cat.alpha", "reader", "rita"),
        ("CREATE", "cat.panel", "model", ""),
        ("CREATE", "cat.panel", "version", "1.0.0"),
    }
    assert _summary(planned) == expected
    assert reg.query("SELECT count(*) AS n FROM models").rows[0].values[0].number_value == 0  # dry run

    applied = reg.refresh()
    assert _summary(applied) == expected
    model = reg.registry().GetModel(registry_pb2.GetModelRequest(name="cat.alpha"), metadata=reg.mesh.metadata("rita")).model
    assert (model.resolved_version, list(model.owners), model.visibility) == ("1.0.0", ["olga"], model_pb2.VISIBILITY_PUBLIC)
    panel = reg.registry().GetModelVersion(
        registry_pb2.GetModelVersionRequest(model="cat.panel", version="1.0.0"), metadata=reg.su
    ).version
    assert panel.backend.kind == "consensus"
    assert reg.refresh() == []  # in sync: nothing to do

    # An edit to the catalog is reported field by field, before and after.
    edited = copy.deepcopy(CATALOG)
    edited["models"][0]["description"] = "first, improved"
    edited["models"][0]["versions"][0]["notes"] = "rewritten"  # versions are immutable
    reg.write_catalog(edited)
    changes = reg.refresh()
    assert {"action": "UPDATE", "model": "cat.alpha", "subject": "field", "name": "description",
            "before": "first", "after": "first, improved"} in changes
    assert ("CONFLICT", "cat.alpha", "version", "1.0.0") in _summary(changes)
    reg.write_catalog(CATALOG)


def test_deletes_only_with_the_flag(own_registry: Registry) -> None:
    reg = own_registry
    reg.refresh()
    reg.registry().CreateModel(
        registry_pb2.CreateModelRequest(model=model_pb2.Model(name="cat.stray")), metadata=reg.su
    )
    reg.registry().GrantAccess(
        registry_pb2.GrantAccessRequest(name="cat.alpha", user="newbie", role=model_pb2.ACCESS_ROLE_READER),
        metadata=reg.su,
    )
    assert reg.refresh() == []  # creates and updates only
    planned = _summary(reg.refresh(dry_run=True, delete_missing=True))
    assert planned == {("DELETE", "cat.stray", "model", ""), ("DELETE", "cat.alpha", "reader", "newbie")}
    reg.refresh(delete_missing=True)
    names = [r.values[0].string_value for r in reg.query("SELECT name FROM models ORDER BY name").rows]
    assert names == ["cat.alpha", "cat.panel"]


def test_reset_refuses_without_confirmation_then_reseeds(own_registry: Registry) -> None:
    reg = own_registry
    reg.refresh()
    reg.registry().CreateModel(
        registry_pb2.CreateModelRequest(model=model_pb2.Model(name="cat.doomed")), metadata=reg.su
    )
    for confirm in ("", "reset", "yes"):
        with pytest.raises(grpc.RpcError) as failure:
            reg.admin().ResetModelDatabase(A.ResetModelDatabaseRequest(confirm=confirm), metadata=reg.su)
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "RESET" in failure.value.details()
    assert reg.query("SELECT count(*) FROM models WHERE name = 'cat.doomed'").rows[0].values[0].number_value == 1

    reply = reg.admin().ResetModelDatabase(A.ResetModelDatabaseRequest(confirm="RESET"), metadata=reg.su)
    assert reply.models_dropped == 3
    assert ("CREATE", "cat.alpha", "model", "") in _summary([_change(c) for c in reply.changes])
    names = [r.values[0].string_value for r in reg.query("SELECT name FROM models ORDER BY name").rows]
    assert names == ["cat.alpha", "cat.panel"]
    # The console's role reads the re-created tables as it read the old ones.
    for table in ("models", "model_versions", "casbin_rule", "policy_version", "schema_migrations",
                  "modelgw_audit.outbox", "model_history"):
        assert reg.query(f"SELECT count(*) FROM {table}").rows[0].values[0].number_value > 0, table
    # The other server sees the new tables and the re-seeded grants.
    model = reg.registry().GetModel(registry_pb2.GetModelRequest(name="cat.alpha"), metadata=reg.mesh.metadata("rita")).model
    assert list(model.readers) == ["rita"]
    with pytest.raises(grpc.RpcError) as failure:
        reg.registry().GetModel(registry_pb2.GetModelRequest(name="cat.doomed"), metadata=reg.su)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def test_after_a_reset_the_execution_server_runs_only_what_the_catalog_holds(
    own_registry: Registry,
) -> None:
    reg = own_registry
    reg.refresh()
    doomed = "cat.doomed-run"
    reg.registry().CreateModel(
        registry_pb2.CreateModelRequest(model=model_pb2.Model(name=doomed)), metadata=reg.su
    )
    version = model_pb2.ModelVersion(version="1.0.0")
    version.backend.kind = "python"
    version.backend.config.update({"callable": "workers.builtin.demo:echo"})
    version.input_schema.update(ANY)
    reg.registry().CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=doomed, version=version), metadata=reg.su
    )
    execution = execution_pb2_grpc.ExecutionServiceStub(reg.mesh.channel("execution"))

    def submit(model: str, version: str) -> str:
        request = execution_pb2.SubmitJobRequest(model=model, version=version)
        request.records.add().update({"x": 1})
        return str(execution.SubmitJob(request, metadata=reg.su, timeout=10).job.version)

    assert submit(doomed, "1.0.0") == "1.0.0"  # cached by the execution server now
    assert submit("cat.alpha", "") == "1.0.0"
    reg.admin().ResetModelDatabase(A.ResetModelDatabaseRequest(confirm="RESET"), metadata=reg.su)
    time.sleep(0.1)  # the NOTIFY's way to the execution server's process
    for requested in ("1.0.0", ""):
        with pytest.raises(grpc.RpcError) as failure:
            submit(doomed, requested)
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND, failure.value.details()
    assert submit("cat.alpha", "") == "1.0.0"


def test_registry_and_admin_changes_reach_the_outbox(own_registry: Registry) -> None:
    reg = own_registry
    reg.refresh()
    reg.registry().UpdateModel(
        registry_pb2.UpdateModelRequest(
            model=model_pb2.Model(name="cat.alpha", display_name="Alpha 2"),
            update_mask={"paths": ["display_name"]},
        ),
        metadata=reg.mesh.metadata("olga"),
    )
    rows = reg.query(
        "SELECT actor, operation, before->>'display_name', after->>'display_name'"
        " FROM modelgw_audit.outbox WHERE subject = 'models' ORDER BY id DESC LIMIT 1"
    ).rows
    assert [v.string_value for v in rows[0].values] == ["olga", "UPDATE", "Alpha", "Alpha 2"]
    admin = reg.query(
        "SELECT actor, operation FROM modelgw_audit.outbox WHERE subject = 'admin' ORDER BY id"
    ).rows
    assert ["root", "RefreshModelDatabase"] in [[v.string_value for v in r.values] for r in admin]


def test_query_reads_and_postgres_refuses_writes(own_registry: Registry) -> None:
    reg = own_registry
    reg.refresh()
    reply = reg.query("SELECT name, tags, create_time FROM models ORDER BY name", max_rows=1)
    assert list(reply.columns) == ["name", "tags", "create_time"]
    assert len(reply.rows) == 1 and reply.truncated
    row = json_format.MessageToDict(reply.rows[0])
    assert row[0] == "cat.alpha" and row[1] == ["demo"] and row[2].startswith("20")

    for sql in (
        "DELETE FROM models",
        "UPDATE models SET description = 'x' RETURNING name",
        "CREATE TABLE evil (x int)",
        "WITH gone AS (DELETE FROM casbin_rule RETURNING 1) SELECT count(*) FROM gone",
    ):
        with pytest.raises(grpc.RpcError) as failure:
            reg.query(sql)
        assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION, sql
        assert "READ ONLY" in failure.value.details()
    for sql, code in (
        ("SELECT nextval('model_versions_seq_seq')", grpc.StatusCode.PERMISSION_DENIED),
        ("SELECT pg_sleep(5)", grpc.StatusCode.DEADLINE_EXCEEDED),
        ("SELEC 1", grpc.StatusCode.INVALID_ARGUMENT),
        ("SELECT 1; DELETE FROM models", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.RpcError) as failure:
            reg.query(sql)
        assert failure.value.code() == code, sql
    assert reg.query("SELECT count(*) FROM models").rows[0].values[0].number_value == 2
