"""Which version a submission runs and what its records must look like.

Versions are immutable, so a version's row and its compiled input-schema
validator are cached for the life of the process. Which version a model
resolves to (its default, else its latest) can change, so that answer is
cached only for a short time (MODELGW_RESOLUTION_CACHE seconds); once it is
older, calls go on using it while one background query refreshes it, so that
thousands of concurrent submissions never wait on (or stampede) the database
together every second. A resolution that cannot be refreshed is dropped after
STALE_LIMIT_S, and calls then query (and fail) themselves. A consensus
version is resolved with its children: each child's version is resolved now
and recorded in the job, and every record must satisfy every child's schema.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import jsonschema

from gateway.errors import ApiError, FailedPrecondition, InvalidArgument
from gateway.registry import store
from gateway.registry.resolution import no_versions, resolve_version
from workers.consensus.definition import ConsensusDefinition
from workers.consensus.verify import OutputFieldError, choose_output_field

log = logging.getLogger("modelgw.catalog")

DEFAULT_TIMEOUT_S = 300.0
STALE_LIMIT_S = 30.0
MAX_CONSENSUS_DEPTH = 8


@dataclass(frozen=True)
class RunnableVersion:
    model: str
    version: str
    spec: dict[str, Any]
    output_schema: dict[str, Any]
    checks: tuple[tuple[str, jsonschema.protocols.Validator], ...]
    """(whose schema, its validator): the version's own, and for a consensus
    version every child's too, since the children run on the same records."""

    def check(self, records: list[dict[str, Any]]) -> None:
        """Raises InvalidArgument naming the first bad record and field."""
        for whose, validator in self.checks:
            for index, record in enumerate(records):
                error = jsonschema.exceptions.best_match(validator.iter_errors(record))
                if error is not None:
                    where = "/" + "/".join(str(p) for p in error.absolute_path)
                    raise InvalidArgument(
                        f"records[{index}] does not match the input schema of {whose}: "
                        f"at {where}: {error.message}"
                    )


class ModelCatalog:
    def __init__(
        self, pool: asyncpg.Pool, *, resolution_ttl_s: float, acquire_timeout_s: float
    ) -> None:
        self._pool = pool
        self._ttl = resolution_ttl_s
        self._acquire_timeout_s = acquire_timeout_s
        self._rows: dict[tuple[str, str], store.VersionRow] = {}
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        # model -> (monotonic time it was resolved, version)
        self._resolved: dict[str, tuple[float, str]] = {}
        # One query per (model, requested version) at a time; others await it.
        self._loading: dict[tuple[str, str], asyncio.Task[store.VersionRow]] = {}

    async def runnable(self, model: str, requested: str, depth: int = 0) -> RunnableVersion:
        row = await self._version_row(model, requested)
        own = (f"{row.model} {row.version}", self._validator(row))
        if row.backend_kind != "consensus":
            return RunnableVersion(row.model, row.version, _spec(row), row.output_schema, (own,))
        if depth >= MAX_CONSENSUS_DEPTH:
            raise FailedPrecondition(
                f"consensus model {model!r} nests deeper than {MAX_CONSENSUS_DEPTH} levels "
                "(a cycle?): run VerifyConsensusModel on it"
            )
        definition = ConsensusDefinition.from_config(row.backend_config)
        children: dict[str, Any] = {}
        checks = [own]
        for child in definition.children:
            runnable = await self.runnable(child.model, child.version, depth + 1)
            try:
                output = choose_output_field(child, runnable.output_schema)
            except OutputFieldError as exc:
                raise FailedPrecondition(f"consensus model {model!r}: {exc}") from None
            children[child.alias] = {
                "model": runnable.model,
                "version": runnable.version,
                "output": output,
                "spec": runnable.spec,
            }
            checks += [(f"child {child.alias} ({whose})", v) for whose, v in runnable.checks]
        spec = {**_spec(row), "children": children}
        return RunnableVersion(row.model, row.version, spec, row.output_schema, tuple(checks))

    async def _version_row(self, model: str, requested: str) -> store.VersionRow:
        version = requested or self._resolution(model)
        cached = self._rows.get((model, version)) if version else None
        if cached is not None:
            return cached
        return await asyncio.shield(self._load(model, requested))

    def _resolution(self, model: str) -> str:
        """The version model resolves to, if known recently enough; starts a
        refresh when it is older than the TTL."""
        entry = self._resolved.get(model)
        if entry is None:
            return ""
        age = time.monotonic() - entry[0]
        if age >= STALE_LIMIT_S:
            return ""
        if age >= self._ttl and (model, "") not in self._loading:
            self._load(model, "").add_done_callback(lambda task: self._refreshed(model, task))
        return entry[1]

    def _load(self, model: str, requested: str) -> asyncio.Task[store.VersionRow]:
        key = (model, requested)
        task = self._loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._query(model, requested))
            self._loading[key] = task
            task.add_done_callback(lambda _: self._loading.pop(key, None))
        return task

    def _refreshed(self, model: str, task: asyncio.Task[store.VersionRow]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is None:
            return
        if isinstance(error, ApiError):  # deleted, or left without versions: say so now
            self._resolved.pop(model, None)
        log.warning(
            "refreshing a resolution failed",
            extra={"fields": {"model": model, "error": str(error)}},
        )

    async def _query(self, model: str, requested: str) -> store.VersionRow:
        async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
            row = await store.get_model(conn, model)
            resolution = resolve_version(requested, row.default_version, row.latest_version)
            if resolution is None:
                raise no_versions(model)
            version_row = await store.get_version(conn, model, resolution.version)
        if not requested:
            self._resolved[model] = (time.monotonic(), resolution.version)
        self._rows[(model, version_row.version)] = version_row
        return version_row

    def _validator(self, row: store.VersionRow) -> jsonschema.protocols.Validator:
        key = (row.model, row.version)
        validator = self._validators.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(
                row.input_schema, jsonschema.Draft202012Validator
            )
            validator = self._validators[key] = cls(row.input_schema)
        return validator


def _spec(row: store.VersionRow) -> dict[str, Any]:
    config = dict(row.backend_config)
    timeout = float(config.pop("timeout_s", DEFAULT_TIMEOUT_S))
    return {"kind": row.backend_kind, "config": config, "timeout_s": timeout}
