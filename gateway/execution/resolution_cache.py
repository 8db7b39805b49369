"""Which version a submission runs and what its records must look like.

What a model runs (which version it resolves to, and which version rows it has)
is read from the registry once and kept until the registry says it changed: a
committed change to a model is announced on `store.CHANNEL` (migration 0006),
and `forget` drops that model's entry on the notification, so the next
submission reads it again. Notifications are at most once, so an entry is also
trusted for only MODELGW_RESOLUTION_CACHE seconds (the TTL) since the read
began; after that, calls go on using it while one background read refreshes
it, so that thousands of concurrent submissions never wait on (or stampede)
the database together every TTL. That grace is short (STALE_GRACE_S): past it,
callers wait for the read under way (one per model) instead, so no cached
answer older than the TTL plus STALE_GRACE_S is ever served, and a caller that
waits gets the answer of a read begun at most one read's duration before it called.

The model's effective admission limits (gateway.registry.limits) and its
active rollout (migration 0009) are part of that entry: read in the same
transaction, announced by the same notification, so a submission checks its
limits and splits its traffic (rollouts.routing) without a query of its own.

A version row and its compiled input-schema validator are cached by the row's
identity (`store.VersionIdentity`), never by its name: a version deleted and
created again under the same name is another row, with its own schema. A
consensus version is resolved with its children: each child's version is
resolved now and recorded in the job, and every record must satisfy every
child's schema.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import asyncpg

from authz.enforcer import Subscription
from consensus.definition import ConsensusDefinition
from consensus.verify import OutputFieldError, choose_output_field
from gateway.errors import ApiError, FailedPrecondition, InvalidArgument
from gateway.execution.record_check import RecordCheck
from gateway.registry import store
from gateway.registry.limits import EffectiveLimits, PlatformLimits, effective
from gateway.registry.resolution import no_versions, resolve_version
from rollouts.routing import Choice, RolloutRoute, choose
from scheduler.job import DEFAULT_TIMEOUT_S, ChildSpec, JobSpec

log = logging.getLogger("modelgw.catalog")

STALE_GRACE_S = 0.25
"""How long past its TTL an entry may still answer while its refresh is under way."""
MAX_CONSENSUS_DEPTH = 8


@dataclass(frozen=True)
class RunnableVersion:
    """A version a submission may run: its job spec, its schemas' validators and
    its model's limits."""

    model: str
    version: str
    spec: JobSpec
    output_schema: dict[str, Any]
    checks: tuple[tuple[str, RecordCheck], ...]
    """(whose schema, its validator): the version's own, and for a consensus
    version every child's too, since the children run on the same records."""
    limits: EffectiveLimits
    """The model's admission limits, as its catalog entry holds them."""
    choice: Choice
    """Why this version: named, the default, or the model's rollout."""

    def check(self, records: list[dict[str, Any]]) -> None:
        """Raises InvalidArgument naming the first bad record and field."""
        for whose, validator in self.checks:
            for index, record in enumerate(records):
                error = validator.error(record)
                if error is not None:
                    where = "/" + "/".join(str(p) for p in error.absolute_path)
                    raise InvalidArgument(
                        f"records[{index}] does not match the input schema of {whose}: "
                        f"at {where}: {error.message}",
                        field=f"records[{index}]{where.rstrip('/')}",
                    )


@dataclass(frozen=True)
class _Known:
    """What a model runs, as read from the registry from clock time `at` on."""

    at: float
    resolved: str | None  # its default version, else its latest; None: it has none
    versions: Mapping[str, store.VersionIdentity]
    limits: EffectiveLimits
    rollout: RolloutRoute | None


class ResolutionCache:
    """What each model runs, read from the registry and kept until it changes."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        resolution_ttl_s: float,
        acquire_timeout_s: float,
        model_limits: PlatformLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._model_limits = model_limits
        self._ttl = resolution_ttl_s
        self._acquire_timeout_s = acquire_timeout_s
        self._clock = clock
        self._known: dict[str, _Known] = {}
        # One read per model at a time; other callers await it.
        self._reading: dict[str, asyncio.Task[_Known]] = {}
        # Notifications heard, per model and for every model: a read begun
        # before one of its model's is answered, but not kept.
        self._changes: dict[str, int] = {}
        self._resets = 0
        self._rows: dict[store.VersionIdentity, store.VersionRow] = {}
        self._loading: dict[store.VersionIdentity, asyncio.Task[store.VersionRow]] = {}
        self._validators: dict[store.VersionIdentity, RecordCheck] = {}
        # Built once per row, so its JSON (JobSpec.to_json) is encoded once too.
        self._specs: dict[store.VersionIdentity, JobSpec] = {}

    def forget(self, model: str) -> None:
        """The registry changed what ``model`` runs ("*": any model may have changed)."""
        if model == "*":
            self.forget_all()
            return
        self._changes[model] = self._changes.get(model, 0) + 1
        self._known.pop(model, None)
        self._reading.pop(model, None)
        for identity in [i for i, row in self._rows.items() if row.model == model]:
            del self._rows[identity]
            self._validators.pop(identity, None)
            self._specs.pop(identity, None)

    def forget_all(self) -> None:
        """Anything may have changed (a reset, or notifications that may have been missed)."""
        self._resets += 1
        self._known.clear()
        self._reading.clear()
        self._rows.clear()
        self._validators.clear()
        self._specs.clear()

    def subscription(self) -> Subscription:
        """What `AccessPolicy.subscribe` needs to keep this catalog current on store.CHANNEL."""
        return Subscription(on_notify=self.forget, on_listening=self.forget_all)

    async def runnable(
        self, model: str, requested: str, key: str = "", depth: int = 0
    ) -> RunnableVersion:
        """The version a submission of model (at requested, or the version its
        rollout or default gives, split by `key` when one is given) runs; a
        consensus version with its children resolved by the same rule."""
        row, limits, choice = await self._version_row(model, requested, key)
        own = (f"{row.model} {row.version}", self._validator(row))
        if row.backend_kind != "consensus":
            return RunnableVersion(
                row.model, row.version, self._spec(row), row.output_schema, (own,), limits, choice
            )
        if depth >= MAX_CONSENSUS_DEPTH:
            raise FailedPrecondition(
                f"consensus model {model!r} nests deeper than {MAX_CONSENSUS_DEPTH} levels "
                "(a cycle?): run VerifyConsensusModel on it"
            )
        definition = ConsensusDefinition.from_config(row.backend_config)
        children: dict[str, ChildSpec] = {}
        checks = [own]
        for child in definition.children:
            runnable = await self.runnable(child.model, child.version, key, depth + 1)
            try:
                output = choose_output_field(child, runnable.output_schema)
            except OutputFieldError as exc:
                raise FailedPrecondition(f"consensus model {model!r}: {exc}") from None
            children[child.alias] = ChildSpec(
                runnable.model, runnable.version, output, runnable.spec,
                runnable.choice.route.value, runnable.choice.rollout_id,
            )  # fmt: skip
            checks += [(f"child {child.alias} ({whose})", v) for whose, v in runnable.checks]
        spec = replace(self._spec(row), children=children)
        return RunnableVersion(
            row.model, row.version, spec, row.output_schema, tuple(checks), limits, choice
        )

    async def _version_row(
        self, model: str, requested: str, key: str
    ) -> tuple[store.VersionRow, EffectiveLimits, Choice]:
        known = await self._known_now(model)
        version = requested or known.resolved
        if version is None or version not in known.versions:
            # Perhaps created since the entry was read: ask before saying no.
            known = await asyncio.shield(self._read(model))
            version = requested or known.resolved
        if version is None:
            raise no_versions(model)
        choice = choose(requested, version, known.rollout, key)
        version = choice.version
        identity = known.versions.get(version)
        if identity is None:
            raise store.no_such_version(model, version)
        row = self._rows.get(identity)
        if row is None:
            row = await asyncio.shield(self._load(model, version, identity))
        return row, known.limits, choice

    async def _known_now(self, model: str) -> _Known:
        """The model's entry: read less than the TTL ago, or less than the TTL plus
        STALE_GRACE_S ago while a refresh is under way; else a read awaited now."""
        known = self._known.get(model)
        if known is not None:
            age = self._clock() - known.at
            if age < self._ttl:
                return known
            if age < self._ttl + STALE_GRACE_S:
                self._read(model)
                return known
        return await asyncio.shield(self._read(model))

    def _read(self, model: str) -> asyncio.Task[_Known]:
        task = self._reading.get(model)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._query_model(model))
            self._reading[model] = task
            task.add_done_callback(partial(self._read_done, model))
        return task

    def _read_done(self, model: str, task: asyncio.Task[_Known]) -> None:
        current = self._reading.get(model) is task  # not superseded by a notification
        if current:
            del self._reading[model]
        error = None if task.cancelled() else task.exception()
        if isinstance(error, ApiError):  # deleted, say: say so from now on
            if current:
                self._known.pop(model, None)
        elif error is not None:
            log.warning(
                "reading a model failed",
                extra={"fields": {"model": model, "error": str(error)}},
            )

    def _generation(self, model: str) -> tuple[int, int]:
        return (self._resets, self._changes.get(model, 0))

    async def _query_model(self, model: str) -> _Known:
        generation = self._generation(model)
        started = self._clock()  # the answer is at least as new as this
        async with (
            self._pool.acquire(timeout=self._acquire_timeout_s) as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            row = await store.get_model(conn, model)
            versions = await store.version_identities(conn, model)
            rollout = await conn.fetchrow(_ACTIVE_ROLLOUT, model)
        latest = next(reversed(versions), None)
        resolution = resolve_version("", row.default_version, latest)
        known = _Known(
            started,
            None if resolution is None else resolution.version,
            versions,
            effective(row.limits, row.limit_caps, self._model_limits),
            None if rollout is None else RolloutRoute(*rollout),
        )
        if self._generation(model) == generation:
            self._known[model] = known
        return known

    def _load(
        self, model: str, version: str, identity: store.VersionIdentity
    ) -> asyncio.Task[store.VersionRow]:
        task = self._loading.get(identity)
        if task is None:
            query = self._query_version(model, version, identity)
            task = asyncio.get_running_loop().create_task(query)
            self._loading[identity] = task
            task.add_done_callback(lambda _: self._loading.pop(identity, None))
        return task

    async def _query_version(
        self, model: str, version: str, identity: store.VersionIdentity
    ) -> store.VersionRow:
        async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
            row = await store.get_version(conn, model, version)
        self._rows[row.identity] = row
        if row.identity != identity:  # re-created since the model's entry was read
            self._known.pop(model, None)
        return row

    def _spec(self, row: store.VersionRow) -> JobSpec:
        spec = self._specs.get(row.identity)
        if spec is None:
            spec = self._specs[row.identity] = _spec(row)
        return spec

    def _validator(self, row: store.VersionRow) -> RecordCheck:
        validator = self._validators.get(row.identity)
        if validator is None:
            validator = self._validators[row.identity] = RecordCheck(row.input_schema)
        return validator


_ACTIVE_ROLLOUT = """
SELECT id::text, baseline, candidate, percent FROM rollouts WHERE model = $1 AND state = 'active'
"""


def _spec(row: store.VersionRow) -> JobSpec:
    """The job spec of a version: its backend config's timeout_s is the job's."""
    config = dict(row.backend_config)
    timeout = float(config.pop("timeout_s", DEFAULT_TIMEOUT_S))
    return JobSpec(row.backend_kind, config, timeout)
