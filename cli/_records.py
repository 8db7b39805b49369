"""Input records for `modelgw jobs submit`: --record JSON, or a CSV, JSONL, SDF or SMILES file."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 512 * 1024 * 1024


def from_options(records: list[str], file: Path | None, column: str | None) -> list[dict[str, Any]]:
    """The records the options give; ValueError naming what is wrong with them."""
    if records and file is not None:
        raise ValueError("give --record or --file, not both")
    if file is not None:
        found = from_file(file, column)
    else:
        found = [_json_object(text, f"--record {i + 1}") for i, text in enumerate(records)]
    if not found:
        raise ValueError("no records: give --record '{...}' or --file with at least one record")
    return found


def _json_object(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def from_file(path: Path, column: str | None) -> list[dict[str, Any]]:
    """Records from a .csv, .jsonl (or .ndjson), .sdf or .smi file, by its suffix."""
    if not path.is_file():
        raise ValueError(f"{path} is not a readable file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv(path, column)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl(path, column)
    if suffix in (".sdf", ".sd", ".mol"):
        return _sdf(path, column or "smiles")
    if suffix in (".smi", ".smiles"):
        return _smiles(path, column or "smiles")
    raise ValueError(f"{path}: unknown file type {suffix!r}; use .csv, .jsonl, .sdf or .smi")


def _pick(row: dict[str, Any], column: str | None, where: str) -> dict[str, Any]:
    if column is None:
        return row
    if column not in row:
        raise ValueError(f"{where} has no column {column!r} (it has {', '.join(map(str, row))})")
    return {column: row[column]}


def _csv(path: Path, column: str | None) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.DictReader(source)
        if column is not None and column not in (reader.fieldnames or ()):
            raise ValueError(f"{path} has no column {column!r}")
        return [
            _pick({k: v for k, v in row.items() if k is not None}, column, f"{path} row {n}")
            for n, row in enumerate(reader, start=2)
        ]


def _jsonl(path: Path, column: str | None) -> list[dict[str, Any]]:
    found = []
    with path.open(encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if line.strip():
                where = f"{path} line {number}"
                found.append(_pick(_json_object(line, where), column, where))
    return found


def _sdf(path: Path, column: str) -> list[dict[str, Any]]:
    """One record per molecule: its SMILES (RDKit's canonical) under ``column``."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # a bad molecule is reported below, by number
    found = []
    for number, molecule in enumerate(Chem.SDMolSupplier(str(path)), start=1):
        if molecule is None:
            raise ValueError(f"{path}: molecule {number} cannot be read")
        found.append({column: Chem.MolToSmiles(molecule)})
    return found


def _smiles(path: Path, column: str) -> list[dict[str, Any]]:
    """One record per line, its first word the SMILES (a name may follow, as in the
    SMILES file format); blank lines and lines starting with # are skipped."""
    with path.open(encoding="utf-8") as source:
        words = (line.split(maxsplit=1) for line in source if not line.startswith("#"))
        return [{column: parts[0]} for parts in words if parts]


def batches(records: list[dict[str, Any]], size: int | None) -> list[list[dict[str, Any]]]:
    """The records cut into jobs of ``size`` (one job when size is None)."""
    if size is None:
        return [records]
    if size < 1:
        raise ValueError(f"--batch must be at least 1, not {size}")
    return [records[i : i + size] for i in range(0, len(records), size)]
