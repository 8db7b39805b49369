"""Describing a model: what describe_model returns, and the model cards
`model://{name}`, one markdown page an agent (or a person) reads to decide
whether a model fits a task and how to call it."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer

from mcpserver import views
from mcpserver.caller import Callers
from mcpserver.errors import as_resource_error
from mcpserver.examples import example_input
from modelgw import AsyncClient

MAX_SCHEMA_CHARS = 20_000


def register(server: MCPServer, callers: Callers) -> None:
    """Adds the model card template to `server`."""

    @server.resource(
        "model://{name}",
        name="model card",
        description="A model's description, versions, schemas and an example input.",
        mime_type="text/markdown",
    )
    async def model_card(name: str) -> str:
        """The card of a model the caller may read."""
        with as_resource_error():
            client = callers.client()
            description = await describe(client, name)
            versions = await client.list_versions(name)
        return card(description, [views.version_view(v) for v in versions])


async def describe(client: AsyncClient, name: str, version: str = "") -> views.ModelDescription:
    """A model, its chosen (or resolved) version and an example input for it;
    raises the client's GatewayError."""
    model = await client.get_model(name)
    chosen = version or model.resolved_version
    found = await client.get_version(name, chosen) if chosen else None
    if found is None:
        return views.ModelDescription(
            model=views.model_summary(model), how_to_run="this model has no version to run yet"
        )
    return views.ModelDescription(
        model=views.model_summary(model),
        version=views.version_view(found),
        example_input=example_input(found.input_schema),
        how_to_run=(
            f"submit_job(model={name!r}, records=[<records like example_input>]), "
            "then wait_for_job(job_id)"
        ),
    )


def card(description: views.ModelDescription, versions: list[views.VersionView]) -> str:
    """The markdown card."""
    model = description.model
    lines = [f"# {model.display_name or model.name} (`{model.name}`)", "", model.description, ""]
    if model.tags:
        lines += [f"Tags: {', '.join(model.tags)}", ""]
    lines += [
        f"Resolved version: {model.resolved_version or 'none'}",
        "",
        "## Versions",
        "",
        *(f"- {v.version}: {v.notes or 'no notes'}" for v in versions),
        "",
    ]
    chosen = description.version
    if chosen is not None:
        lines += [
            f"## Input schema ({chosen.version})",
            "",
            _json_block(chosen.input_schema),
            "## Output schema",
            "",
            _json_block(chosen.output_schema),
            "## Example input record",
            "",
            _json_block(description.example_input),
            "## How to run",
            "",
            description.how_to_run,
            "",
        ]
    return "\n".join(lines)


def _json_block(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_SCHEMA_CHARS:
        text = text[:MAX_SCHEMA_CHARS] + "\n... (cut: describe_model returns it whole)"
    return f"```json\n{text}\n```\n"
