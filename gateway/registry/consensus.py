"""Consensus models in the registry: verification against what the caller may
see, and the checks every consensus version passes before it is stored.

VerifyConsensusModel distinguishes a child that does not exist from one that
exists but that the caller may not read, as the verification report promises;
that tells the caller that such a name exists (nothing else about it). Every
other registry call answers NOT_FOUND for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import asyncpg

from authz.actions import Action
from authz.enforcer import AccessPolicy, Decision
from authz.principal import Principal
from consensus.definition import ConsensusDefinition, from_algorithm1_yaml
from consensus.errors import DefinitionError
from consensus.verify import ChildInfo, Report, verify
from gateway.errors import InvalidArgument, NotFound
from gateway.registry import store
from gateway.registry.resolution import resolve_version
from modelgateway.v1 import registry_pb2


class RegistryChildLookup:
    """ChildLookup over the registry, answering as one caller may see it."""

    def __init__(
        self, conn: asyncpg.Connection, access: AccessPolicy, principal: Principal
    ) -> None:
        self._conn = conn
        self._access = access
        self._principal = principal
        # verify() looks children up concurrently; one connection runs one query.
        self._lock = asyncio.Lock()

    async def child(self, model: str, version: str) -> ChildInfo:
        """The child as this caller may see it: missing, unreadable, or its resolved version."""
        async with self._lock:
            return await self._child(model, version)

    async def _child(self, model: str, version: str) -> ChildInfo:
        try:
            row = await store.get_model(self._conn, model)
        except NotFound:
            return ChildInfo(exists=False, readable=False)
        if self._access.decide(self._principal, Action.READ, model) is not Decision.ALLOW:
            return ChildInfo(exists=True, readable=False)
        resolution = resolve_version(version, row.default_version, row.latest_version)
        if resolution is None:
            return ChildInfo(exists=True, readable=True)
        try:
            version_row = await store.get_version(self._conn, model, resolution.version)
        except NotFound:
            return ChildInfo(exists=True, readable=True, version=resolution.version)
        consensus = None
        if version_row.backend_kind == "consensus":
            try:
                consensus = ConsensusDefinition.from_config(version_row.backend_config)
            except DefinitionError:
                consensus = None
        return ChildInfo(
            exists=True,
            readable=True,
            version=version_row.version,
            version_exists=True,
            output_schema=version_row.output_schema,
            consensus=consensus,
        )


def definition_from_request(
    request: registry_pb2.VerifyConsensusModelRequest, config: dict[str, Any]
) -> ConsensusDefinition:
    """The definition a verify request carries, as config or as Algorithm 1 YAML."""
    if bool(config) == bool(request.yaml):
        raise InvalidArgument("give exactly one of definition (a backend config) or yaml")
    try:
        if request.yaml:
            _, definition = from_algorithm1_yaml(request.yaml)
            return definition
        return ConsensusDefinition.from_config(config)
    except DefinitionError as exc:
        raise InvalidArgument(f"the consensus definition is not well formed: {exc}") from None


async def check(
    conn: asyncpg.Connection,
    access: AccessPolicy,
    principal: Principal,
    name: str,
    definition: ConsensusDefinition,
    sample: Mapping[str, float] | None = None,
) -> Report:
    """The verification report of a consensus definition, as principal may see its children."""
    return await verify(
        name, definition, RegistryChildLookup(conn, access, principal), sample=sample
    )


def refuse_unless_ok(report: Report) -> None:
    """A consensus version with problems is not stored: INVALID_ARGUMENT listing them."""
    if not report.ok:
        listed = "; ".join(f"{p.kind} at {p.location}: {p.message}" for p in report.problems)
        raise InvalidArgument(
            f"the consensus definition has {len(report.problems)} problem(s): {listed} "
            "(VerifyConsensusModel gives the same report)"
        )


def sample_values(sample: Mapping[str, Any]) -> dict[str, float] | None:
    """The sample's values per alias; INVALID_ARGUMENT naming a value that is not a number."""
    values = {}
    for alias, value in sample.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(f"sample.{alias} must be a number, not {value!r}")
        values[alias] = float(value)
    return values or None


def output_schema(definition: ConsensusDefinition) -> dict[str, Any]:
    """What a consensus version outputs: its value, and each child's (provenance)."""
    return {
        "type": "object",
        "properties": {
            definition.output: {"type": "number", "description": "The formula's value."},
            "children": {
                "type": "object",
                "description": "Per child alias: its model, version and value.",
            },
        },
        "required": [definition.output],
    }


def parse_config(config: Mapping[str, Any]) -> ConsensusDefinition:
    """A consensus version's backend config as a definition; INVALID_ARGUMENT if malformed."""
    runnable = {k: v for k, v in config.items() if k != "timeout_s"}
    try:
        return ConsensusDefinition.from_config(runnable)
    except DefinitionError as exc:
        raise InvalidArgument(f"version.backend.config: {exc}") from None


def report_message(report: Report) -> registry_pb2.VerifyConsensusModelResponse:
    """A verification report as the VerifyConsensusModel reply."""
    reply = registry_pb2.VerifyConsensusModelResponse(
        ok=report.ok, child_versions=dict(report.resolved)
    )
    for problem in report.problems:
        reply.problems.add(kind=problem.kind, message=problem.message, location=problem.location)
    if report.sample_value is not None:
        reply.sample_value = report.sample_value
        reply.has_sample_value = True
    return reply
