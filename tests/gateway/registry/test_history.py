"""ListModelHistory against the real registry: the changes of a model's default
version, visibility, grants and rollouts, each with who made it and from what to
what, newest first and paged; who may read it; and a change made in SQL."""

from __future__ import annotations

import asyncio

import asyncpg
import grpc

from gateway import paging
from modelgateway.v1 import model_pb2, rollout_pb2, rollout_pb2_grpc
from modelgateway.v1 import registry_pb2 as R
from tests.gateway.conftest import Fixture, Mesh, create_model
from tests.gateway.registry._calls import INVALID, NOT_FOUND, expect, su

READER = model_pb2.ACCESS_ROLE_READER
PUBLIC = model_pb2.VISIBILITY_PUBLIC


def kind(name: str) -> int:
    return R.ModelHistoryKind.Value(f"MODEL_HISTORY_KIND_{name}")


def events(mesh: Mesh, name: str, who: str = "root", *, page_size: int = 0) -> list[R.ModelHistoryEvent]:
    """Every event of the model's history, page after page, newest first."""
    metadata = mesh.metadata(who, superuser=who == "root")
    found: list[R.ModelHistoryEvent] = []
    token = ""
    while True:
        request = R.ListModelHistoryRequest(name=name, page_size=page_size, page_token=token)
        reply = mesh.registry().ListModelHistory(request, metadata=metadata)
        found += reply.events
        token = reply.next_page_token
        if not token:
            return found


def summary(found: list[R.ModelHistoryEvent]) -> list[tuple[str, str, str, str, str, str]]:
    return [
        (R.ModelHistoryKind.Name(e.kind).removeprefix("MODEL_HISTORY_KIND_"), e.actor,
         e.from_value, e.to_value, e.user, e.detail)
        for e in found
    ]  # fmt: skip


def test_every_change_is_recorded_with_its_actor_newest_first(mesh: Mesh, model: Fixture) -> None:
    stub, owner = mesh.registry(), mesh.metadata(model.owner)
    stub.SetDefaultVersion(R.SetDefaultVersionRequest(name=model.name, version="2.0.0"), metadata=owner)
    stub.SetDefaultVersion(R.SetDefaultVersionRequest(name=model.name, version="1.0.0"), metadata=owner)
    stub.SetVisibility(R.SetVisibilityRequest(name=model.name, visibility=PUBLIC), metadata=owner)
    stub.GrantAccess(R.GrantAccessRequest(name=model.name, user="newbie", role=READER), metadata=owner)
    stub.RevokeAccess(R.RevokeAccessRequest(name=model.name, user="newbie", role=READER), metadata=owner)
    rollouts = rollout_pb2_grpc.RolloutServiceStub(mesh.channel("admin"))
    rollouts.StartRollout(
        rollout_pb2.StartRolloutRequest(
            model=model.name, candidate_version="2.0.0", strategy=rollout_pb2.ROLLOUT_STRATEGY_CANARY
        ),
        metadata=owner,
    )
    rollouts.PromoteRollout(rollout_pb2.PromoteRolloutRequest(model=model.name), metadata=su(mesh))

    found = events(mesh, model.name, model.owner)
    assert summary(found) == [
        ("ROLLOUT_PROMOTED", "root", "1.0.0", "2.0.0", "", "promoted by hand"),
        ("DEFAULT_VERSION", "root", "1.0.0", "2.0.0", "", ""),
        ("ROLLOUT_STARTED", model.owner, "1.0.0", "2.0.0", "", "canary"),
        ("REVOKE", model.owner, "reader", "", "newbie", ""),
        ("GRANT", model.owner, "", "reader", "newbie", ""),
        ("VISIBILITY", model.owner, "private", "public", "", ""),
        ("DEFAULT_VERSION", model.owner, "2.0.0", "1.0.0", "", ""),
        ("DEFAULT_VERSION", model.owner, "", "2.0.0", "", ""),
        # What create_model did, as the superuser.
        ("GRANT", "root", "", "reader", model.reader, ""),
        ("GRANT", "root", "", "owner", model.owner, ""),
        ("VERSION_ADDED", "root", "", "2.0.0", "", "python"),
        ("VERSION_ADDED", "root", "", "1.0.0", "", "python"),
        ("MODEL_CREATED", "root", "", "", "", ""),
    ]
    times = [e.time.ToDatetime() for e in found]
    assert times == sorted(times, reverse=True)
    assert summary(events(mesh, model.name, page_size=2)) == summary(found)  # 7 pages of 2


def test_pages_and_their_tokens(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    first = stub.ListModelHistory(R.ListModelHistoryRequest(name=model.name, page_size=2), metadata=su(mesh))
    assert len(first.events) == 2 and first.next_page_token
    rest = R.ListModelHistoryRequest(name=model.name, page_size=1000, page_token=first.next_page_token)
    assert len(stub.ListModelHistory(rest, metadata=su(mesh)).events) == 3  # 5 events in all
    last = stub.ListModelHistory(R.ListModelHistoryRequest(name=model.name, page_size=5), metadata=su(mesh))
    assert len(last.events) == 5 and last.next_page_token == ""

    def listed(token: str, name: str = model.name) -> object:
        request = R.ListModelHistoryRequest(name=name, page_token=token)
        return stub.ListModelHistory(request, metadata=su(mesh))

    other = R.ListModelHistoryRequest(name=create_model(mesh).name, page_size=1)
    other_token = stub.ListModelHistory(other, metadata=su(mesh)).next_page_token
    tampered = [
        first.next_page_token[:-2],
        first.next_page_token + "x",
        "not a token",
        paging.encode("versions", 3),  # another listing's
        paging.encode("history", 3),  # the cursor without its model
        paging.encode("history", [model.name, True]),
        paging.encode("history", [model.name, -1]),
        paging.encode("history", [model.name, "3"]),
        other_token,  # another model's
    ]
    for token in tampered:
        expect(INVALID, lambda: listed(token), "malformed page_token")  # noqa: B023
    expect(INVALID, lambda: stub.ListModelHistory(
        R.ListModelHistoryRequest(name=model.name, page_size=1001), metadata=su(mesh)), "page_size")  # fmt: skip


def test_owners_and_superusers_only(mesh: Mesh, model: Fixture) -> None:
    stub, request = mesh.registry(), R.ListModelHistoryRequest(name=model.name)
    assert stub.ListModelHistory(request, metadata=mesh.metadata(model.owner)).events
    reader = expect(
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: stub.ListModelHistory(request, metadata=mesh.metadata(model.reader)),
    )
    assert model.name in reader
    expect(NOT_FOUND, lambda: stub.ListModelHistory(request, metadata=mesh.metadata("a-stranger")), model.name)
    unknown = R.ListModelHistoryRequest(name="no.such-model")
    expect(NOT_FOUND, lambda: stub.ListModelHistory(unknown, metadata=su(mesh)), "no.such-model")
    expect(NOT_FOUND, lambda: stub.ListModelHistory(unknown, metadata=mesh.metadata(model.owner)))


def test_a_change_in_sql_names_the_database_user(mesh: Mesh, model: Fixture) -> None:
    async def change() -> str:
        conn = await asyncpg.connect(mesh.env["MODELGW_DATABASE_URL"])
        try:
            await conn.execute("UPDATE models SET default_version = '2.0.0' WHERE name = $1", model.name)
            await conn.execute(
                "DELETE FROM casbin_rule WHERE ptype = 'g' AND v0 = $1 AND v2 = $2",
                f"user:{model.reader}",
                model.name,
            )
            return str(await conn.fetchval("SELECT current_user"))
        finally:
            await conn.close()

    user = asyncio.run(change())
    assert summary(events(mesh, model.name)[:2]) == [
        ("REVOKE", f"db:{user}", "reader", "", model.reader, ""),
        ("DEFAULT_VERSION", f"db:{user}", "", "2.0.0", "", ""),
    ]


def test_deleting_a_model_deletes_its_history(mesh: Mesh, model: Fixture) -> None:
    stub = mesh.registry()
    stub.DeleteModel(R.DeleteModelRequest(name=model.name), metadata=su(mesh))  # its grants go after it
    stub.CreateModel(R.CreateModelRequest(model=model_pb2.Model(name=model.name)), metadata=su(mesh))
    assert summary(events(mesh, model.name)) == [("MODEL_CREATED", "root", "", "", "", "")]
