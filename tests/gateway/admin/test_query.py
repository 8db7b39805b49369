"""QueryModelDatabase under attack, against a registry and an admin server of their
own: the SQL console runs as a role of its own (modelgw_query) on a connection of
its own, so a superuser's statement cannot lock the registry's tables, signal the
gateway's sessions, wake its policy listeners, swell the admin server's memory or
outlive its time limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import grpc
import pytest
from google.protobuf import json_format

from mesh import LocalPostgres
from modelgateway.v1 import admin_pb2 as A
from modelgateway.v1 import admin_pb2_grpc, model_pb2, registry_pb2
from tests.conftest import create_database
from tests.harness import Mesh, own_servers, unique_name

DATABASE = "query_tests"
QUERY_TIMEOUT_S = 3.0
MAX_BYTES = 1 << 20
GATEWAY_SESSIONS = "FROM pg_stat_activity WHERE usename = 'modelgw' AND datname = current_database()"
T = TypeVar("T")


@dataclass
class Console:
    mesh: Mesh
    model: str

    def query(self, sql: str, **kwargs: Any) -> A.QueryModelDatabaseResponse:
        stub = admin_pb2_grpc.AdminServiceStub(self.mesh.channel("admin"))
        request = A.QueryModelDatabaseRequest(sql=sql, **kwargs)
        return stub.QueryModelDatabase(request, metadata=self.mesh.metadata("root", superuser=True), timeout=60)

    def refused(self, sql: str) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as failure:
            self.query(sql)
        return failure.value

    def values(self, sql: str) -> list[Any]:
        return json_format.MessageToDict(self.query(sql).rows[0])

    def get_model(self) -> None:
        request = registry_pb2.GetModelRequest(name=self.model)
        self.mesh.registry().GetModel(request, metadata=self.mesh.metadata("root", superuser=True), timeout=10)


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def kib(pid: int, field: str) -> int:
    """A figure from /proc/PID/status, in KiB (VmRSS: resident now; VmHWM: the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


@pytest.fixture(scope="module")
def console(postgres_server: LocalPostgres, mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("query-console")
    settings = {
        "MODELGW_DATABASE_URL": create_database(postgres_server, DATABASE),
        "MODELGW_QUERY_DATABASE_URL": postgres_server.dsn_for(DATABASE, "modelgw_query"),
        "MODELGW_QUERY_TIMEOUT": str(QUERY_TIMEOUT_S),
        "MODELGW_QUERY_MAX_BYTES": str(MAX_BYTES),
        # Shorter than the statement timeout: the pool's limits must not decide how
        # a console statement ends.
        "MODELGW_DATABASE_TIMEOUT": "2",
    }
    with own_servers(mesh, home, ("registry", "admin"), **settings) as own:
        name = unique_name("query")
        own.registry().CreateModel(
            registry_pb2.CreateModelRequest(model=model_pb2.Model(name=name)),
            metadata=own.metadata("root", superuser=True),
        )
        yield Console(own, name)


def test_the_console_is_a_role_of_its_own_on_a_fresh_connection(console: Console) -> None:
    user, session_user, signals, gateway, _ = console.values(
        "SELECT current_user, session_user, pg_has_role('pg_signal_backend', 'MEMBER'),"
        " pg_has_role('modelgw', 'MEMBER'), pg_backend_pid()"
    )
    assert (user, session_user, signals, gateway) == ("modelgw_query", "modelgw_query", False, False)
    # Nothing a statement leaves in its session reaches the next one.
    console.query("SELECT set_config('modelgw.left_behind', 'yes', false)")
    assert console.values("SELECT current_setting('modelgw.left_behind', true)") in ([None], [""])
    pids = {console.values("SELECT pg_backend_pid()")[0] for _ in range(3)}
    assert len(pids) == 3


def test_a_lock_is_refused_at_once_and_the_registry_keeps_answering(console: Console) -> None:
    attack = "DO $$ BEGIN LOCK TABLE models IN ACCESS EXCLUSIVE MODE; PERFORM pg_sleep(5); END $$"
    with ThreadPoolExecutor(1) as pool:
        refused = pool.submit(timed, lambda: console.refused(attack))
        time.sleep(0.5)  # had the lock been taken, it would be held by now
        _, get_model_s = timed(console.get_model)
        error, attack_s = refused.result(timeout=30)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert "permission denied" in error.details()
    assert attack_s < 2 and get_model_s < 1, (attack_s, get_model_s)
    # Nor may it hold the advisory locks that serialise migrations and catalog syncs.
    for sql in (
        "LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE",
        "SELECT pg_advisory_xact_lock(30803249450477411)",  # the catalog sync lock
        "SELECT pg_try_advisory_lock(1)",
    ):
        error = console.refused(sql)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (sql, error.details())


async def test_a_statement_waits_a_second_at_most_for_a_lock(console: Console, postgres_server: LocalPostgres) -> None:
    gateway = await asyncpg.connect(postgres_server.dsn_for(DATABASE))
    try:
        async with gateway.transaction():
            await gateway.execute("LOCK TABLE models IN ACCESS EXCLUSIVE MODE")  # as a reset does
            error, took = await asyncio.to_thread(timed, lambda: console.refused("SELECT count(*) FROM models"))
    finally:
        await gateway.close()
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
    assert "lock" in error.details() and took < 2.5


def test_the_gateway_s_sessions_cannot_be_signalled(console: Console) -> None:
    def gateway_pids() -> set[int]:
        return {int(r.values[0].number_value) for r in console.query(f"SELECT pid {GATEWAY_SESSIONS}").rows}

    before = gateway_pids()
    assert before, "the servers' pools hold connections"
    for function in ("pg_terminate_backend", "pg_cancel_backend"):
        error = console.refused(f"SELECT {function}(pid) {GATEWAY_SESSIONS} AND pid <> pg_backend_pid()")
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
    assert before <= gateway_pids()
    for _ in range(3):
        console.get_model()


@pytest.mark.parametrize("channel", ["modelgw_policy", "modelgw_registry"])
async def test_notifications_never_reach_the_gateway_s_listeners(
    console: Console, postgres_server: LocalPostgres, channel: str
) -> None:
    heard: list[str] = []
    control = asyncio.Event()

    def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        heard.append(payload)
        if payload == "control":
            control.set()

    listener = await asyncpg.connect(postgres_server.dsn_for(DATABASE))
    await listener.add_listener(channel, on_notify)
    try:
        error = await asyncio.to_thread(console.refused, f"SELECT pg_notify('{channel}', 'function')")
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
        assert "pg_notify" in error.details()
        # NOTIFY as a statement needs no privilege, but the console never commits.
        for sql in (f"NOTIFY {channel}, 'statement'", f"DO $$ BEGIN NOTIFY {channel}, 'do'; END $$"):
            await asyncio.to_thread(console.query, sql)
        await listener.execute(f"NOTIFY {channel}, 'control'")  # delivered after any earlier one
        await asyncio.wait_for(control.wait(), 10)
        assert heard == ["control"]
    finally:
        await listener.close()


def test_a_huge_result_is_cut_without_swelling_the_admin_server(console: Console) -> None:
    pid = console.mesh.processes["admin"].pid
    before = kib(pid, "VmRSS")
    try:
        reply: A.QueryModelDatabaseResponse | grpc.RpcError = console.query(
            "SELECT repeat('x', 50000000) AS blob FROM generate_series(1, 8)", max_rows=10
        )
    except grpc.RpcError as exc:
        reply = exc
    grown_mb = (kib(pid, "VmHWM") - before) / 1024
    assert grown_mb < 300, f"the admin server grew by {grown_mb:.0f} MB"
    assert isinstance(reply, A.QueryModelDatabaseResponse), reply
    assert reply.truncated and not reply.rows  # one row alone is past the cap


def test_many_rows_are_cut_at_the_byte_cap(console: Console) -> None:
    reply = console.query("SELECT i, repeat('x', 1000) AS filler FROM generate_series(1, 5000) i", max_rows=5000)
    assert reply.truncated
    assert 500 < len(reply.rows) < MAX_BYTES // 1000
    assert reply.ByteSize() <= MAX_BYTES
    assert [int(r.values[0].number_value) for r in reply.rows] == list(range(1, len(reply.rows) + 1))


def test_a_long_statement_is_deadline_exceeded(console: Console) -> None:
    error, took = timed(lambda: console.refused("SELECT pg_sleep(30)"))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
    assert "MODELGW_QUERY_TIMEOUT" in error.details()
    assert QUERY_TIMEOUT_S - 0.5 < took < QUERY_TIMEOUT_S + 3


def test_without_a_console_role_the_query_is_a_failed_precondition(console: Console, tmp_path: Path) -> None:
    with own_servers(console.mesh, tmp_path, ("admin",), MODELGW_QUERY_DATABASE_URL="") as bare:
        stub = admin_pb2_grpc.AdminServiceStub(bare.channel("admin"))
        with pytest.raises(grpc.RpcError) as failure:
            stub.QueryModelDatabase(
                A.QueryModelDatabaseRequest(sql="SELECT 1"), metadata=bare.metadata("root", superuser=True)
            )
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION, failure.value.details()
    assert "MODELGW_QUERY_DATABASE_URL" in failure.value.details()
