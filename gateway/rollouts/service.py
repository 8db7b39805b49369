"""RolloutService: start, read, list, promote and roll back a model's rollouts.

Authorization has already happened when a handler runs: every RPC needs
Action.UPDATE on the request's model (gateway.access_rules), which its owners
and superusers hold. Each change is one transaction that names its actor, so
the audit outbox records it with the change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import grpc

from gateway import paging
from gateway.errors import InvalidArgument, model_not_found
from gateway.interceptor import caller
from gateway.registry import validation
from gateway.registry.connections import Connections
from gateway.rollouts import lifecycle, messages, store
from gateway.rollouts.store import RolloutRow
from modelgateway.v1 import rollout_pb2, rollout_pb2_grpc
from rollouts.errors import PlanError
from rollouts.plan import Plan
from scheduler.connection import Client

MAX_REASON = 1000


class RolloutService(rollout_pb2_grpc.RolloutServiceServicer):  # type: ignore[misc]
    """The RolloutService RPCs over the rollouts table and the versions' job windows."""

    def __init__(self, pool: asyncpg.Pool, redis: Client, *, acquire_timeout_s: float) -> None:
        self._db = Connections(pool, acquire_timeout_s=acquire_timeout_s)
        self._redis = redis

    async def StartRollout(
        self, request: rollout_pb2.StartRolloutRequest, context: grpc.aio.ServicerContext
    ) -> rollout_pb2.StartRolloutResponse:
        """Starts a rollout of the candidate against the model's resolved version."""
        plan = _plan(request)
        candidate = validation.version_string(request.candidate_version, "candidate_version")
        async with self._db.transaction() as conn:
            versions = await store.model_versions(conn, request.model)
            baseline = _baseline(request.model, versions, candidate)
            row = await store.insert(conn, request.model, baseline, candidate, plan, caller().user)
        return rollout_pb2.StartRolloutResponse(rollout=await self._message(row))

    async def GetRollout(
        self, request: rollout_pb2.GetRolloutRequest, context: grpc.aio.ServicerContext
    ) -> rollout_pb2.GetRolloutResponse:
        """The rollout named, else the active one, else the latest, with live figures."""
        async with self._db.connection() as conn:
            await _require_model(conn, request.model)
            if request.rollout_id:
                row = await store.get(conn, request.model, request.rollout_id)
            else:
                row = await store.current(conn, request.model)
        return rollout_pb2.GetRolloutResponse(rollout=await self._message(row))

    async def ListRollouts(
        self, request: rollout_pb2.ListRolloutsRequest, context: grpc.aio.ServicerContext
    ) -> rollout_pb2.ListRolloutsResponse:
        """A page of the model's rollouts, newest first."""
        limit = validation.page_size(request.page_size)
        before = _cursor(paging.decode("rollouts", request.page_token, ""))
        async with self._db.connection() as conn:
            await _require_model(conn, request.model)
            rows = await store.history(conn, request.model, before=before, limit=limit + 1)
        page = rows[:limit]
        token = ""
        if len(rows) > limit:
            token = paging.encode("rollouts", f"{page[-1].start_time.isoformat()}|{page[-1].id}")
        return rollout_pb2.ListRolloutsResponse(
            rollouts=[messages.rollout_message(r) for r in page], next_page_token=token
        )

    async def PromoteRollout(
        self, request: rollout_pb2.PromoteRolloutRequest, context: grpc.aio.ServicerContext
    ) -> rollout_pb2.PromoteRolloutResponse:
        """Makes the active rollout's candidate the default version, now."""
        async with self._db.transaction() as conn:
            await _require_model(conn, request.model)
            row = await store.require_active(conn, request.model)
            figures = (await lifecycle.windows(self._redis, row)).figures()
            row = await lifecycle.promote(
                conn, row, actor=caller().user, reason="promoted by hand", figures=figures
            )
        return rollout_pb2.PromoteRolloutResponse(rollout=messages.rollout_message(row))

    async def RollBackRollout(
        self, request: rollout_pb2.RollBackRolloutRequest, context: grpc.aio.ServicerContext
    ) -> rollout_pb2.RollBackRolloutResponse:
        """Sends all traffic of the active rollout back to the baseline."""
        reason = validation.text(request.reason, "reason", MAX_REASON) or "rolled back by hand"
        async with self._db.transaction() as conn:
            await _require_model(conn, request.model)
            row = await store.require_active(conn, request.model)
            figures = (await lifecycle.windows(self._redis, row)).figures()
            row = await lifecycle.roll_back(
                conn, row, actor=caller().user, reason=reason, figures=figures
            )
        return rollout_pb2.RollBackRolloutResponse(rollout=messages.rollout_message(row))

    async def _message(self, row: RolloutRow) -> rollout_pb2.Rollout:
        """The rollout with live figures while it is active."""
        live: dict[str, Any] | None = None
        if row.state == store.ACTIVE:
            live = (await lifecycle.windows(self._redis, row)).figures()
        return messages.rollout_message(row, live)


def _plan(request: rollout_pb2.StartRolloutRequest) -> Plan:
    strategy = messages.strategy_of(request)
    try:
        return Plan.build(
            strategy, messages.given_parameters(request), messages.guardrails_of(request)
        )
    except PlanError as error:
        raise InvalidArgument(error.message, error.field) from None


def _baseline(model: str, versions: store.ModelVersions, candidate: str) -> str:
    """The version the rollout moves traffic from; INVALID_ARGUMENT when the
    candidate is missing or is that version itself."""
    if candidate not in versions.versions:
        raise InvalidArgument(
            f"model {model!r} has no version {candidate!r} to roll out: create it with "
            "CreateModelVersion first (ListModelVersions shows the versions)",
            "candidate_version",
        )
    baseline = versions.resolved
    if baseline == candidate:
        why = "its default version" if versions.default_version else "its latest version"
        raise InvalidArgument(
            f"candidate_version {candidate!r} is what model {model!r} runs now ({why}), so "
            "there is nothing to roll out: name another version, or make the version to roll "
            "from the default first (SetDefaultVersion)",
            "candidate_version",
        )
    assert baseline is not None  # the candidate exists, so the model has a version
    return baseline


async def _require_model(conn: asyncpg.Connection, model: str) -> None:
    # A superuser passes the access check for any name; the model must still exist.
    if await conn.fetchval("SELECT 1 FROM models WHERE name = $1", model) is None:
        raise model_not_found(model)


def _cursor(token: str) -> tuple[dt.datetime, uuid.UUID] | None:
    """(start_time, id) of the last rollout of the previous page; None on the first."""
    if not token:
        return None
    try:
        when, key = token.split("|")
        return dt.datetime.fromisoformat(when), uuid.UUID(key)
    except ValueError:
        raise InvalidArgument(
            "malformed page_token: pass next_page_token from the previous response unchanged",
            "page_token",
        ) from None
