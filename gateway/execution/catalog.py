"""Which version a submission runs and what its records must look like.

Versions are immutable, so a resolved version and its compiled input-schema
validator are cached for the life of the process. Which version a model
resolves to (its default, else its latest) can change, so that answer is
cached only for a short time (MODELGW_RESOLUTION_CACHE seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import jsonschema

from gateway.errors import InvalidArgument
from gateway.registry import store
from gateway.registry.resolution import no_versions, resolve_version

DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class RunnableVersion:
    model: str
    version: str
    spec: dict[str, Any]
    validator: jsonschema.protocols.Validator

    def check(self, records: list[dict[str, Any]]) -> None:
        """Raises InvalidArgument naming the first bad record and field."""
        for index, record in enumerate(records):
            error = jsonschema.exceptions.best_match(self.validator.iter_errors(record))
            if error is not None:
                where = "/" + "/".join(str(p) for p in error.absolute_path)
                raise InvalidArgument(
                    f"records[{index}] does not match the input schema of {self.model} "
                    f"{self.version}: at {where}: {error.message}"
                )


class ModelCatalog:
    def __init__(
        self, pool: asyncpg.Pool, *, resolution_ttl_s: float, acquire_timeout_s: float
    ) -> None:
        self._pool = pool
        self._ttl = resolution_ttl_s
        self._acquire_timeout_s = acquire_timeout_s
        self._versions: dict[tuple[str, str], RunnableVersion] = {}
        self._resolved: dict[str, tuple[float, str]] = {}

    async def runnable(self, model: str, requested: str) -> RunnableVersion:
        version = requested or self._fresh_resolution(model)
        cached = self._versions.get((model, version)) if version else None
        if cached is not None:
            return cached
        async with self._pool.acquire(timeout=self._acquire_timeout_s) as conn:
            row = await store.get_model(conn, model)
            resolution = resolve_version(requested, row.default_version, row.latest_version)
            if resolution is None:
                raise no_versions(model)
            version_row = await store.get_version(conn, model, resolution.version)
        if not requested:
            self._resolved[model] = (time.monotonic() + self._ttl, resolution.version)
        runnable = _runnable(version_row)
        self._versions[(model, runnable.version)] = runnable
        return runnable

    def _fresh_resolution(self, model: str) -> str:
        entry = self._resolved.get(model)
        if entry is None or entry[0] < time.monotonic():
            return ""
        return entry[1]


def _runnable(row: store.VersionRow) -> RunnableVersion:
    validator_class = jsonschema.validators.validator_for(
        row.input_schema, jsonschema.Draft202012Validator
    )
    config = dict(row.backend_config)
    timeout = float(config.pop("timeout_s", DEFAULT_TIMEOUT_S))
    spec = {"kind": row.backend_kind, "config": config, "timeout_s": timeout}
    return RunnableVersion(row.model, row.version, spec, validator_class(row.input_schema))
