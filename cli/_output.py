"""Printing what the user commands return: a table, JSON or CSV on standard output."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

FORMATS = ("table", "json", "csv")


def plain(value: Any) -> Any:
    """A dataclass (or anything inside one) as JSON-ready data: datetimes as ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    """Indented JSON of value."""
    json.dump(plain(value), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(plain(value), ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def print_rows(rows: Sequence[dict[str, Any]], form: str, title: str = "") -> None:
    """Rows (dicts sharing keys, in the order first seen) as a table, JSON or CSV."""
    if form == "json":
        print_json(list(rows))
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if form == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(row.get(c)) for c in columns] for row in rows])
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, not markup: a snippet's "[word]" or a hostile name must print as it is.
    table = Table(title=Text(title) if title else None)
    for column in columns:
        table.add_column(Text(column))
    for row in rows:
        table.add_row(*(Text(_cell(row.get(c))) for c in columns))
    Console(soft_wrap=not sys.stdout.isatty()).print(table)
