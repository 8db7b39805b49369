"""The tools: each one call (or a few) of the client library, as the caller.

Every tool declares whether it only reads (readOnlyHint) or may destroy
(destructiveHint); every argument is bounded so that a hostile or confused
agent gets a clear validation error, not a stuck server.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from mcpserver import views
from mcpserver.caller import Callers
from mcpserver.cards import describe
from mcpserver.errors import as_tool_result

MAX_WAIT_S = 120.0
"""The longest wait_for_job blocks; an agent calls it again for longer jobs."""
POLL_INTERVAL_S = 0.5
MAX_RECORDS = 10_000
READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DESTROY = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)

Name = Annotated[str, Field(min_length=1, max_length=200, description="A model's name.")]
JobId = Annotated[str, Field(min_length=1, max_length=200, description="A job id.")]
VersionArg = Annotated[
    str, Field(max_length=100, description="A version; empty: the model's resolved version.")
]
Document = Annotated[
    str, Field(min_length=1, max_length=1_000_000, description="An Algorithm 1 YAML document.")
]


def register(server: MCPServer, callers: Callers) -> None:
    """Adds every tool to `server`."""
    _model_tools(server, callers)
    _job_tools(server, callers)
    _wait_tool(server, callers)
    _consensus_tools(server, callers)


def _model_tools(server: MCPServer, callers: Callers) -> None:
    @server.tool(annotations=READ)
    async def search_models(
        query: Annotated[
            str, Field(max_length=500, description="Task words, e.g. 'aqueous solubility'.")
        ],
        tags: Annotated[list[str], Field(max_length=20)] = [],  # noqa: B006 (never mutated)
        owner: Annotated[str, Field(max_length=200)] = "",
        backend_kind: Annotated[str, Field(max_length=50)] = "",
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> views.SearchResult:
        """Finds models the caller may read by the words of a task, best first."""
        with as_tool_result():
            hits = await callers.client().search_models(
                query, tags=tuple(tags), owner=owner, backend_kind=backend_kind, limit=limit
            )
        return views.SearchResult(hits=[views.hit(h) for h in hits])

    @server.tool(annotations=READ)
    async def describe_model(name: Name, version: VersionArg = "") -> views.ModelDescription:
        """A model's metadata, the resolved version's input and output schemas and an
        example input record: everything needed to call submit_job."""
        with as_tool_result():
            return await describe(callers.client(), name, version)

    @server.tool(annotations=READ)
    async def list_versions(name: Name) -> views.VersionList:
        """Every version of a model, with its notes and schemas."""
        with as_tool_result():
            versions = await callers.client().list_versions(name)
        return views.VersionList(model=name, versions=[views.version_view(v) for v in versions])


def _job_tools(server: MCPServer, callers: Callers) -> None:
    @server.tool(annotations=WRITE)
    async def submit_job(
        model: Name,
        records: Annotated[
            list[dict[str, Any]],
            Field(min_length=1, max_length=MAX_RECORDS, description="Input records, one each."),
        ],
        version: VersionArg = "",
        idempotency_key: Annotated[str, Field(max_length=200)] = "",
    ) -> views.SubmittedJob:
        """Queues a job running `model` on `records`; returns its id and version at once."""
        with as_tool_result():
            job = await callers.client().submit(
                model, records, version=version, idempotency_key=idempotency_key or None
            )
        return views.SubmittedJob(job_id=job.id, model=job.model, version=job.version)

    @server.tool(annotations=READ)
    async def get_job(job_id: JobId) -> views.JobView:
        """A job's status now, with its results once it SUCCEEDED."""
        with as_tool_result():
            info = await (await callers.client().job(job_id)).info()
        return views.job_view(info)

    @server.tool(annotations=DESTROY)
    async def cancel_job(job_id: JobId) -> views.JobView:
        """Cancels a job that has not finished; its results, if any, are discarded."""
        with as_tool_result():
            info = await (await callers.client().job(job_id)).cancel()
        return views.job_view(info)

    @server.tool(annotations=READ)
    async def list_my_jobs(
        model: Annotated[str, Field(max_length=200)] = "",
        status: Annotated[str, Field(max_length=20, description="e.g. RUNNING; empty: any.")] = "",
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> views.JobList:
        """The caller's jobs, newest first (an owner's, with `model`: that model's)."""
        with as_tool_result():
            jobs = await callers.client().list_jobs(model=model, status=status, limit=limit)
        return views.JobList(jobs=[views.job_view(j) for j in jobs])


def _wait_tool(server: MCPServer, callers: Callers) -> None:
    @server.tool(annotations=READ)
    async def wait_for_job(
        job_id: JobId,
        ctx: Context,
        timeout_s: Annotated[
            float, Field(gt=0, le=MAX_WAIT_S, description=f"At most {MAX_WAIT_S:g} s.")
        ] = 60.0,
    ) -> views.JobView:
        """Waits until a job finishes or `timeout_s` passes, reporting progress while it
        waits; returns the job's state (with results if it SUCCEEDED). Not done yet:
        call it again."""
        with as_tool_result():
            job = await callers.client().job(job_id)
            start = time.monotonic()
            while True:
                info = await job.info()
                elapsed = time.monotonic() - start
                await ctx.report_progress(min(elapsed, timeout_s), timeout_s, _progress(info))
                if info.done or elapsed >= timeout_s:
                    return views.job_view(info)
                await anyio.sleep(max(min(POLL_INTERVAL_S, timeout_s - elapsed), 0.0))


def _progress(info: Any) -> str:
    text = f"job {info.id} is {info.status}"
    if info.jobs_ahead:
        text += f", {info.jobs_ahead} jobs ahead"
    return text + (f" ({info.queue_warning})" if info.queue_warning else "")


def _consensus_tools(server: MCPServer, callers: Callers) -> None:
    @server.tool(annotations=READ)
    async def verify_consensus_model(document: Document) -> views.ConsensusCheckView:
        """Checks a consensus model definition (its owner's YAML) without storing it:
        every problem, with where it is, and the version each child resolves to."""
        with as_tool_result():
            check = await callers.client().verify_consensus_model(document)
        return views.consensus_check(check)

    @server.tool(annotations=WRITE)
    async def create_consensus_model(document: Document) -> views.ModelSummary:
        """Registers a consensus model and its first version; the caller becomes its owner."""
        with as_tool_result():
            model = await callers.client().create_consensus_model(document)
        return views.model_summary(model)
