"""Syncing the registry to the model catalog: the plan (what differs) and its
application, in the caller's transaction.

The plan is a list of changes in the order they are applied; a dry run
returns it without applying it. Deletions (models, versions and grants the
catalog does not list) are planned only when asked for. Versions are
immutable, so a version whose content differs from the catalog is reported
as a conflict and left alone.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg

from authz.actions import Role
from authz.enforcer import AccessPolicy
from authz.grants import EVERYONE
from authz.store import load_grants
from gateway.admin.catalog import CatalogModel, CatalogVersion
from gateway.registry import store


class Action(enum.StrEnum):
    """What a catalog change does."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CONFLICT = "CONFLICT"


@dataclass(frozen=True)
class Change:
    """One difference between the catalog and the registry, and how to apply it."""

    action: Action
    model: str
    subject: str  # model, version, field, owner, reader, visibility, default_version
    name: str = ""
    before: Any = None
    after: Any = None
    apply: Callable[[], Awaitable[Any]] | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The change as JSON, for the audit record."""
        return {
            "action": self.action.value,
            "model": self.model,
            "subject": self.subject,
            "name": self.name,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class _State:
    """What the registry holds now: models, versions and grants."""

    models: dict[str, dict[str, Any]]
    versions: dict[str, dict[str, dict[str, Any]]]
    owners: dict[str, set[str]]
    readers: dict[str, set[str]]
    public: set[str]


async def _state(conn: asyncpg.Connection) -> _State:
    models = {
        r["name"]: dict(r)
        for r in await conn.fetch(
            "SELECT name, display_name, description, tags, backend, default_version FROM models"
        )
    }
    versions: dict[str, dict[str, dict[str, Any]]] = {}
    for r in await conn.fetch(
        "SELECT model, version, backend_kind, backend_config, input_schema, output_schema, notes"
        " FROM model_versions ORDER BY seq"
    ):
        versions.setdefault(r["model"], {})[r["version"]] = {
            "backend": {"kind": r["backend_kind"], "config": r["backend_config"]},
            "input_schema": r["input_schema"],
            "output_schema": r["output_schema"],
            "notes": r["notes"],
        }
    state = _State(models, versions, {}, {}, set())
    for grant in await load_grants(conn):
        if grant.user == EVERYONE:
            state.public.add(grant.model)
        elif grant.role == Role.OWNER:
            state.owners.setdefault(grant.model, set()).add(grant.user)
        else:
            state.readers.setdefault(grant.model, set()).add(grant.user)
    return state


class Sync:
    """Plans the changes that bring the registry to the catalog, on one connection."""

    def __init__(self, conn: asyncpg.Connection, access: AccessPolicy) -> None:
        self._conn = conn
        self._access = access

    async def plan(self, catalog: list[CatalogModel], *, delete_missing: bool) -> list[Change]:
        """The changes that bring the registry to the catalog; writes nothing."""
        state = await _state(self._conn)
        changes: list[Change] = []
        for model in catalog:
            changes += self._model(model, state, delete_missing)
        if delete_missing:
            listed = {m.name for m in catalog}
            for name in sorted(set(state.models) - listed):
                changes.append(
                    Change(Action.DELETE, name, "model", before=name, apply=self._deleter(name))
                )
        return changes

    async def apply(self, changes: list[Change]) -> None:
        """Applies planned changes, in order, on the sync's connection."""
        for change in changes:
            if change.apply is not None:
                await change.apply()

    def _model(self, model: CatalogModel, state: _State, delete_missing: bool) -> list[Change]:
        name = model.name
        changes: list[Change] = []
        row = state.models.get(name)
        if row is None:
            changes.append(
                Change(
                    Action.CREATE,
                    name,
                    "model",
                    after=model.fields(),
                    apply=lambda: store.insert_model(self._conn, name, model.fields()),
                )
            )
        else:
            changes += self._fields(model, row)
        have = state.versions.get(name, {})
        changes += self._versions(model, have, delete_missing)
        changes += self._default(model, None if row is None else row["default_version"])
        changes += self._visibility(model, name in state.public)
        for role, wanted, held in (
            (Role.OWNER, model.owners, state.owners.get(name, set())),
            (Role.READER, model.readers, state.readers.get(name, set())),
        ):
            changes += self._grants(name, role, set(wanted), held, delete_missing)
        return changes

    def _fields(self, model: CatalogModel, row: dict[str, Any]) -> list[Change]:
        changes = []
        for column, wanted in model.fields().items():
            current = list(row[column]) if column == "tags" else row[column]
            if current != wanted:
                changes.append(
                    Change(
                        Action.UPDATE,
                        model.name,
                        "field",
                        column,
                        current,
                        wanted,
                        partial(store.update_model, self._conn, model.name, {column: wanted}),
                    )
                )
        return changes

    def _versions(
        self, model: CatalogModel, have: dict[str, dict[str, Any]], delete_missing: bool
    ) -> list[Change]:
        changes = []
        for version in model.versions:
            current = have.get(version.version)
            wanted = version.as_dict()
            if current is None:
                changes.append(
                    Change(
                        Action.CREATE,
                        model.name,
                        "version",
                        version.version,
                        after=wanted,
                        apply=partial(self._insert_version, model.name, version),
                    )
                )
            elif _canonical(current) != _canonical(wanted):
                changes.append(
                    Change(Action.CONFLICT, model.name, "version", version.version, current, wanted)
                )
        if delete_missing:
            listed = {v.version for v in model.versions}
            for gone in [v for v in have if v not in listed]:
                changes.append(
                    Change(
                        Action.DELETE,
                        model.name,
                        "version",
                        gone,
                        before=have[gone],
                        apply=partial(self._delete_version, model.name, gone),
                    )
                )
        return changes

    def _default(self, model: CatalogModel, current: str | None) -> list[Change]:
        wanted = model.default_version
        if wanted is None or wanted == current:
            return []
        return [
            Change(
                Action.UPDATE,
                model.name,
                "default_version",
                before=current,
                after=wanted,
                apply=lambda: store.set_default_version(self._conn, model.name, wanted),
            )
        ]

    def _visibility(self, model: CatalogModel, public: bool) -> list[Change]:
        if model.public == public:
            return []
        return [
            Change(
                Action.UPDATE,
                model.name,
                "visibility",
                before=_visibility(public),
                after=_visibility(model.public),
                apply=lambda: self._access.set_public(self._conn, model.name, model.public),
            )
        ]

    def _grants(
        self, model: str, role: Role, wanted: set[str], held: set[str], delete_missing: bool
    ) -> list[Change]:
        changes = [
            Change(
                Action.CREATE,
                model,
                role.value,
                user,
                after=user,
                apply=partial(self._access.grant, self._conn, model, user, role),
            )
            for user in sorted(wanted - held)
        ]
        if delete_missing:
            changes += [
                Change(
                    Action.DELETE,
                    model,
                    role.value,
                    user,
                    before=user,
                    apply=partial(self._access.revoke, self._conn, model, user, role),
                )
                for user in sorted(held - wanted)
            ]
        return changes

    async def _insert_version(self, model: str, version: CatalogVersion) -> None:
        await store.insert_version(
            self._conn,
            model,
            version.version,
            version.backend_kind,
            version.backend_config,
            version.input_schema,
            version.output_schema,
            version.notes,
        )

    async def _delete_version(self, model: str, version: str) -> None:
        # A default version that goes away leaves the model resolving to its latest.
        await self._conn.execute(
            "UPDATE models SET default_version = NULL WHERE name = $1 AND default_version = $2",
            model,
            version,
        )
        await self._conn.execute(
            "DELETE FROM model_versions WHERE model = $1 AND version = $2", model, version
        )

    def _deleter(self, name: str) -> Callable[[], Awaitable[None]]:
        async def delete() -> None:
            await self._access.forget_model(self._conn, name)
            await store.delete_model(self._conn, name)

        return delete


def _visibility(public: bool) -> str:
    return "public" if public else "private"


def _canonical(value: Any) -> str:
    """One spelling per JSON value. Versions registered through the API pass
    through protobuf Structs, where every number is a double (60 arrives as
    60.0), so integral numbers are compared as integers."""
    return json.dumps(_integral(value), sort_keys=True, separators=(",", ":"))


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value
