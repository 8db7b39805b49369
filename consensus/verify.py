"""VerifyConsensusModel as pure logic: every problem with a kind and a location.

The registry is reached through a ChildLookup, so the same checks run in the
gateway (with the caller's rights) and in tests (with an in-memory fake).

Problem kinds and their locations:
    syntax_error          formula:LINE:COL
    unknown_alias         formula:LINE:COL of the identifier
    unused_child          children.ALIAS
    missing_child_model   children.ALIAS.model  (absent, or hidden from the caller)
    child_not_readable    children.ALIAS.model  (the lookup says it exists but may not be read)
    missing_version       children.ALIAS.version
    no_versions           children.ALIAS.model
    non_numeric_output    children.ALIAS.output
    cycle                 the path, "a -> b -> a"
    too_deep              the path of consensus models nested deeper than MAX_NESTING
    evaluation_error      formula, or sample.KEY
    invalid_definition    name
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from consensus.definition import (
    MODEL_NAME,
    MODEL_NAME_MAX,
    Child,
    ConsensusDefinition,
)
from consensus.errors import ConsensusError, EvaluationError, FormulaError
from consensus.formula import Formula, parse

MAX_NESTING = 16
NUMERIC_TYPES = frozenset({"number", "integer"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a consensus model: its kind, a message and where."""

    kind: str
    message: str
    location: str


@dataclass(frozen=True)
class ChildInfo:
    """What the registry says about one child, as the caller may see it."""

    exists: bool
    readable: bool
    version: str = ""  # the pinned version, or the one resolved now; "" if none
    version_exists: bool = False
    output_schema: Mapping[str, Any] = field(default_factory=dict)
    consensus: ConsensusDefinition | None = None  # set when the child is a consensus model


class ChildLookup(Protocol):
    """How verify() finds a consensus model's children (in the registry, as one caller)."""

    async def child(self, model: str, version: str) -> ChildInfo:
        """The child `model` at `version` ("" resolves its default version)."""
        ...


@dataclass(frozen=True)
class Report:
    """What verification found: the problems, the versions resolved, a sample's value."""

    problems: tuple[Problem, ...]
    resolved: Mapping[str, str]  # alias -> the child version it resolved to
    sample_value: float | None = None

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return not self.problems


class OutputFieldError(ConsensusError):
    """A child's output schema has no numeric field the formula can take."""


def numeric_fields(schema: Mapping[str, Any]) -> list[str]:
    """The properties of an output schema whose type is number or integer."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    return [name for name, spec in properties.items() if _is_numeric(spec)]


def choose_output_field(child: Child, schema: Mapping[str, Any]) -> str:
    """The output field the formula takes from `child`; OutputFieldError if there is none."""
    numeric = numeric_fields(schema)
    listed = ", ".join(repr(name) for name in numeric) or "none"
    if child.output:
        if child.output in numeric:
            return child.output
        raise OutputFieldError(
            f"{child.model} has no numeric output field {child.output!r} (numeric fields: {listed})"
        )
    if len(numeric) == 1:
        return numeric[0]
    raise OutputFieldError(
        f"{child.model} does not have exactly one numeric output field (numeric fields: "
        f"{listed}); name the one to take in the child's output"
    )


def _is_numeric(spec: Any) -> bool:
    if not isinstance(spec, Mapping):
        return False
    kind = spec.get("type")
    if isinstance(kind, str):
        return kind in NUMERIC_TYPES
    return isinstance(kind, list) and bool(kind) and all(k in NUMERIC_TYPES for k in kind)


async def verify(
    name: str,
    definition: ConsensusDefinition,
    lookup: ChildLookup,
    *,
    sample: Mapping[str, float] | None = None,
) -> Report:
    """Check a consensus model before it is created or run; never raises for a bad model."""
    problems: list[Problem] = []
    if not isinstance(name, str) or len(name) > MODEL_NAME_MAX or not MODEL_NAME.fullmatch(name):
        problems.append(Problem("invalid_definition", f"{name!r} is not a model name", "name"))
    formula = _check_formula(definition, problems)
    cache = _CachedLookup(lookup)
    infos = await asyncio.gather(*(cache.child(c.model, c.version) for c in definition.children))
    resolved: dict[str, str] = {}
    for child, info in zip(definition.children, infos, strict=True):
        if _check_child(child, info, problems):
            resolved[child.alias] = info.version
    await _check_cycles(name, definition, cache, problems)
    sample_value = None
    if sample is not None and formula is not None and not _has(problems, "unknown_alias"):
        sample_value = _evaluate_sample(definition, formula, sample, problems)
    return Report(tuple(problems), resolved, sample_value)


def _has(problems: list[Problem], kind: str) -> bool:
    return any(problem.kind == kind for problem in problems)


def _check_formula(definition: ConsensusDefinition, problems: list[Problem]) -> Formula | None:
    try:
        formula = parse(definition.formula)
    except FormulaError as error:
        location = f"formula:{error.line}:{error.column}"
        problems.append(Problem("syntax_error", error.message, location))
        return None
    children = {child.alias.casefold() for child in definition.children}
    used: set[str] = set()
    for ref in formula.references:
        folded = ref.name.casefold()
        if folded not in children and folded not in used:
            problems.append(
                Problem(
                    "unknown_alias",
                    f"{ref.name!r} is not a child; children: "
                    f"{', '.join(c.alias for c in definition.children)}",
                    f"formula:{ref.line}:{ref.column}",
                )
            )
        used.add(folded)
    for child in definition.children:
        if child.alias.casefold() not in used:
            problems.append(
                Problem(
                    "unused_child",
                    f"the formula does not use child {child.alias!r}",
                    f"children.{child.alias}",
                )
            )
    return formula


def _check_child(child: Child, info: ChildInfo, problems: list[Problem]) -> bool:
    """Add the child's problems; True when it resolved to a usable version."""
    where = f"children.{child.alias}"
    if not info.exists:
        problems.append(
            Problem(
                "missing_child_model",
                f"no model {child.model!r} that you may read",
                f"{where}.model",
            )
        )
        return False
    if not info.readable:
        problems.append(
            Problem(
                "child_not_readable",
                f"you may not read model {child.model!r}",
                f"{where}.model",
            )
        )
        return False
    if child.version and not info.version_exists:
        problems.append(
            Problem(
                "missing_version",
                f"model {child.model!r} has no version {child.version!r}",
                f"{where}.version",
            )
        )
        return False
    if not info.version or not info.version_exists:
        problems.append(
            Problem(
                "no_versions",
                f"model {child.model!r} has no version to run",
                f"{where}.model",
            )
        )
        return False
    try:
        choose_output_field(child, info.output_schema)
    except OutputFieldError as error:
        problems.append(Problem("non_numeric_output", str(error), f"{where}.output"))
        return False
    return True


async def _check_cycles(
    name: str, definition: ConsensusDefinition, lookup: _CachedLookup, problems: list[Problem]
) -> None:
    """Depth-first through consensus children; a model repeated on one path is a cycle."""
    reported: set[str] = set()
    stack: list[tuple[tuple[str, ...], ConsensusDefinition]] = [((name,), definition)]
    while stack:
        path, current = stack.pop()
        for child in current.children:
            trail = (*path, child.model)
            if child.model in path:
                _report_once(
                    problems,
                    reported,
                    "cycle",
                    "a consensus model may not use itself, directly or not",
                    trail,
                )
                continue
            info = await lookup.child(child.model, child.version)
            if info.consensus is None:
                continue
            if len(trail) > MAX_NESTING:
                _report_once(
                    problems,
                    reported,
                    "too_deep",
                    f"consensus models nest deeper than {MAX_NESTING} levels",
                    trail,
                )
                continue
            stack.append((trail, info.consensus))


def _report_once(
    problems: list[Problem], reported: set[str], kind: str, message: str, trail: tuple[str, ...]
) -> None:
    location = " -> ".join(trail)
    if location not in reported:
        reported.add(location)
        problems.append(Problem(kind, message, location))


def _evaluate_sample(
    definition: ConsensusDefinition,
    formula: Formula,
    sample: Mapping[str, float],
    problems: list[Problem],
) -> float | None:
    known = {child.alias.casefold() for child in definition.children}
    unknown = [key for key in sample if str(key).casefold() not in known]
    for key in unknown:
        problems.append(Problem("evaluation_error", f"{key!r} is not a child", f"sample.{key}"))
    if unknown:
        return None
    try:
        return formula.evaluate(sample)
    except EvaluationError as error:
        problems.append(Problem("evaluation_error", str(error), "formula"))
        return None


class _CachedLookup:
    """One registry question per (model, version) in a verification."""

    def __init__(self, lookup: ChildLookup) -> None:
        self._lookup = lookup
        self._answers: dict[tuple[str, str], ChildInfo] = {}

    async def child(self, model: str, version: str) -> ChildInfo:
        key = (model, version)
        if key not in self._answers:
            self._answers[key] = await self._lookup.child(model, version)
        return self._answers[key]
