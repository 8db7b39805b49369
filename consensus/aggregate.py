"""The last step of a consensus job: the formula, record by record, over the children's results.

Each child ran on the same input records, so record i of every child belongs
to record i of the parent. A record fails alone: when a child failed it, or
when the formula cannot be evaluated on its values. A successful record
carries its provenance:

    {"output": {"consensus": 6.0,
                "children": {"A": {"model": "rdkit.logp", "version": "1.0.0", "value": 2.0}, ...}}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consensus.definition import PROVENANCE_KEY, Child, ConsensusDefinition
from consensus.errors import EvaluationError
from consensus.formula import Formula

Record = dict[str, Any]


def combine(
    definition: ConsensusDefinition,
    formula: Formula,
    child_results: Mapping[str, Sequence[Mapping[str, Any]]],
    versions: Mapping[str, str],
    *,
    fields: Mapping[str, str] | None = None,
) -> list[Record]:
    """One parent record per input record: {"output": {...}} or {"error": "..."}.

    `child_results` and `versions` are keyed by child alias. `fields` gives the
    output field chosen for a child whose `output` is "" (verify's
    choose_output_field); without it, such a child's record must hold exactly
    one number. Raises ValueError when the results do not line up with the
    definition, which is a bug in the caller rather than a failed record.
    """
    binding = formula.bind(child.alias for child in definition.children)
    count = _record_count(definition, child_results)
    chosen = {c.alias: c.output or (fields or {}).get(c.alias, "") for c in definition.children}
    return [
        _combine_record(
            definition,
            formula,
            binding,
            chosen,
            versions,
            {c.alias: child_results[c.alias][i] for c in definition.children},
        )
        for i in range(count)
    ]


def _record_count(
    definition: ConsensusDefinition, child_results: Mapping[str, Sequence[Mapping[str, Any]]]
) -> int:
    counts = {}
    for child in definition.children:
        if child.alias not in child_results:
            raise ValueError(f"no results for child {child.alias!r}")
        counts[child.alias] = len(child_results[child.alias])
    if len(set(counts.values())) > 1:
        raise ValueError(f"children returned different numbers of records: {counts}")
    return next(iter(counts.values()))


def _combine_record(
    definition: ConsensusDefinition,
    formula: Formula,
    binding: Mapping[str, str],
    chosen: Mapping[str, str],
    versions: Mapping[str, str],
    records: Mapping[str, Mapping[str, Any]],
) -> Record:
    values: dict[str, float] = {}
    errors: list[str] = []
    for child in definition.children:
        value = _child_value(child, chosen[child.alias], records[child.alias])
        if isinstance(value, str):
            errors.append(value)
        else:
            values[child.alias] = value
    if errors:
        return {"error": "; ".join(errors)}
    try:
        result = formula.evaluate({name: values[alias] for name, alias in binding.items()})
    except EvaluationError as error:
        return {"error": f"formula: {error}"}
    provenance = {
        child.alias: {
            "model": child.model,
            "version": versions.get(child.alias, ""),
            "value": values[child.alias],
        }
        for child in definition.children
    }
    return {"output": {definition.output: result, PROVENANCE_KEY: provenance}}


def _child_value(child: Child, field: str, record: Mapping[str, Any]) -> float | str:
    """The child's number for this record, or why there is none."""
    name = f"child {child.alias} ({child.model})"
    if record.get("error") is not None:
        return f"{name} failed: {record['error']}"
    output = record.get("output")
    if not isinstance(output, Mapping):
        return f"{name} returned no output"
    if not field:
        numbers = [k for k, v in output.items() if _is_number(v)]
        if len(numbers) != 1:
            return f"{name} output does not hold exactly one number: {sorted(output)}"
        field = numbers[0]
    value = output.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} output has no number {field!r}"
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
