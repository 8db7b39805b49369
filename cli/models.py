"""`modelgw models search` and `modelgw models show`: finding a model for a task."""

from __future__ import annotations

import argparse
from typing import Any

from cli import _output
from cli._run import Commands
from cli.login import add_target_option, client, reports_errors


def add_command(commands: Commands) -> None:
    """Adds `models search` and `models show`."""
    models = commands.add_parser("models", help="find and read models")
    verbs = models.add_subparsers(dest="models_command", required=True)
    search = verbs.add_parser("search", help="models matching words, best first")
    search.add_argument("query", help='what the model should do, e.g. "aqueous solubility"')
    search.add_argument("--tag", action="append", default=[], help="only models with this tag")
    search.add_argument("--owner", default="", help="only models this user owns")
    search.add_argument("--backend-kind", default="", help="python, subprocess, http, consensus")
    search.add_argument("--limit", type=int, default=20, help="most hits (default 20)")
    search.set_defaults(run=reports_errors(run_search))
    show = verbs.add_parser("show", help="one model with its versions and schemas")
    show.add_argument("name")
    show.set_defaults(run=reports_errors(run_show))
    for verb in (search, show):
        verb.add_argument("-o", "--output", choices=("table", "json"), default="table")
        add_target_option(verb)


def run_search(args: argparse.Namespace) -> int:
    """Prints the hits of a search."""
    with client(args) as gateway:
        hits = gateway.search_models(
            args.query, tags=args.tag, owner=args.owner, backend_kind=args.backend_kind,
            limit=args.limit,
        )  # fmt: skip
    if args.output == "json":
        _output.print_json(hits)
        return 0
    rows = [
        {
            "model": h.model.name,
            "score": round(h.score, 3),
            "matched": ", ".join(h.matched_fields),
            "snippet": h.snippet,
        }
        for h in hits
    ]
    _output.print_rows(rows, "table", f"{len(hits)} models for {args.query!r}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Prints a model and the version a job naming none would run."""
    with client(args) as gateway:
        model = gateway.get_model(args.name)
        current = gateway.get_version(model.name) if model.resolved_version else None
    if args.output == "json":
        _output.print_json({"model": model, "resolved_version": current})
        return 0
    rows: list[dict[str, Any]] = [
        {"field": "name", "value": model.name},
        {"field": "display name", "value": model.display_name},
        {"field": "description", "value": model.description},
        {"field": "tags", "value": ", ".join(model.tags)},
        {"field": "visibility", "value": model.visibility},
        {"field": "versions", "value": ", ".join(model.versions)},
        {"field": "resolved version", "value": model.resolved_version},
    ]
    if current is not None:
        rows.append({"field": "backend", "value": current.backend_kind})
        rows.append({"field": "input schema", "value": current.input_schema})
        rows.append({"field": "output schema", "value": current.output_schema})
    _output.print_rows(rows, "table", model.name)
    return 0
