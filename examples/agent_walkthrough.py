"""What an agent does with Model Gateway's MCP server, with no LLM: search by the
words of a task, pick the best model, describe it, run it on its example input,
print the result.

    MODELGW_TOKEN=$(modelgw token create --user alice) \\
        python examples/agent_walkthrough.py "octanol water partition" [http://127.0.0.1:8080/mcp]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(task: str, url: str, token: str) -> int:
    """Runs the walk; 1 when no model fits or a tool fails."""
    headers = {"authorization": f"Bearer {token}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        found = await client.call_tool("search_models", {"query": task, "limit": 3})
        hits = (found.structured_content or {}).get("hits", [])
        if found.is_error or not hits:
            print(f"no model for {task!r}: {found.content}")
            return 1
        name = hits[0]["model"]["name"]
        print(f"picked {name}: {hits[0]['snippet']}")
        described = (await client.call_tool("describe_model", {"name": name})).structured_content
        record = (described or {})["example_input"]
        print(f"example input: {json.dumps(record)}")
        job = (await client.call_tool("submit_job", {"model": name, "records": [record]}))
        job_id = (job.structured_content or {})["job_id"]

        async def progress(value: float, total: float | None, message: str | None) -> None:
            print(f"  {value:5.1f}/{total} s  {message}")

        done = await client.call_tool(
            "wait_for_job", {"job_id": job_id, "timeout_s": 60}, progress_callback=progress
        )
        print(json.dumps(done.structured_content, indent=2))
        return 0 if not done.is_error else 1


if __name__ == "__main__":
    words = sys.argv[1] if len(sys.argv) > 1 else "aqueous solubility"
    endpoint = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8080/mcp"
    sys.exit(asyncio.run(main(words, endpoint, os.environ["MODELGW_TOKEN"])))
