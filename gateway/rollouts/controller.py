"""The rollout controller: a background task of the admin server that moves every
active rollout along its schedule, promotes it when due, and rolls it back when
the guardrails see a breach.

Each tick takes each active rollout in a transaction of its own, its row locked
with FOR UPDATE SKIP LOCKED: several admin replicas (or a person's Promote or
RollBack under way) never act on one rollout twice, and one rollout that fails
does not hold up the others. A store that is down is logged and tried again at
the next tick; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import asyncpg

from audit import outbox
from gateway.rollouts import lifecycle, store
from gateway.rollouts.lifecycle import CONTROLLER
from gateway.rollouts.store import RolloutRow
from rollouts.guardrails import has_evidence, judge
from rollouts.plan import position
from scheduler.connection import Client, reraise_cancellation

log = logging.getLogger("modelgw.rollouts")


class RolloutController:
    """Steps, promotes and rolls back active rollouts every tick, until stopped."""

    def __init__(
        self, pool: asyncpg.Pool, redis: Client, *, tick_s: float, acquire_timeout_s: float
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._tick_s = tick_s
        self._acquire_timeout_s = acquire_timeout_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the ticks in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rollout-controller")

    async def stop(self) -> None:
        """Stops the ticks, waiting for the one under way to be cancelled; safe twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except Exception as exc:  # a store down: say so, try again next tick
                reraise_cancellation()
                log.warning("rollout tick failed; retrying", extra={"fields": {"error": repr(exc)}})
            await asyncio.sleep(max(self._tick_s - (time.monotonic() - started), 0.0))

    async def tick(self) -> None:
        """One pass over every active rollout."""
        async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
            ids = await store.active_ids(conn)
        for rollout_id in ids:
            try:
                await self._advance(rollout_id)
            except Exception as exc:
                reraise_cancellation()
                log.warning(
                    "rollout not advanced; retrying",
                    extra={"fields": {"rollout": str(rollout_id), "error": repr(exc)}},
                )

    async def _advance(self, rollout_id: uuid.UUID) -> None:
        async with (
            self._pool.acquire(timeout=self._acquire_timeout_s) as conn,
            conn.transaction(),
        ):
            row = await store.claim(conn, rollout_id)
            if row is None:
                return  # ended meanwhile, or another replica has it this tick
            await outbox.set_actor(conn, CONTROLLER)
            await self._decide(conn, row)

    async def _decide(self, conn: asyncpg.Connection, row: RolloutRow) -> None:
        """Rolls back on a breach, else steps along the schedule, else promotes when due."""
        plan = row.parsed_plan
        windows = await lifecycle.windows(self._redis, row)
        breach = judge(plan.guardrails, windows.baseline, windows.candidate)
        fields = {"model": row.model, "rollout": str(row.id)}
        if breach is not None:
            await lifecycle.roll_back(
                conn, row, actor=CONTROLLER, reason=breach.sentence, figures=windows.figures(breach)
            )
            log.warning("rollout rolled back", extra={"fields": {**fields, "why": breach.sentence}})
            return
        where = position(
            plan,
            percent=row.percent,
            start=row.start_time.timestamp(),
            step_time=row.step_time.timestamp(),
            now=time.time(),
        )
        if where.percent != row.percent:
            note = f"{plan.strategy.value} step to {where.percent:g}%"
            entry = store.step_entry(CONTROLLER, where.percent, note, windows.figures())
            await store.step(conn, row, where.percent, entry)
            log.info("rollout stepped", extra={"fields": {**fields, "percent": where.percent}})
        elif where.promote and has_evidence(plan.guardrails, windows.candidate):
            reason = (
                f"the {plan.strategy.value} schedule completed with {windows.candidate.jobs} "
                "finished jobs of the candidate and no guardrail breached"
            )
            await lifecycle.promote(
                conn, row, actor=CONTROLLER, reason=reason, figures=windows.figures()
            )
            log.info("rollout promoted", extra={"fields": fields})
