"""The subprocess backend: a command that reads the batch as JSON on stdin and answers on stdout.

config: {"command": ["prog", "arg", ...], "env": {"NAME": "value"}, "cwd": "/dir"}
(env and cwd optional; env is added to the worker's environment).

Protocol, one process per batch:
  stdin:  {"records": [{...}, ...]}
  stdout: {"results": [{"output": {...}} | {"error": "message"}, ...]}
A non-zero exit fails the batch with the tail of stderr. The command runs in
its own process group, which is killed when the run is cancelled (the
worker's timeout), so helpers the tool started die with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

from workers.backends.base import (
    BackendError,
    RecordOutcome,
    check_result_length,
    output_outcome,
    reject_unknown_keys,
    require_mapping,
)

STDERR_TAIL_CHARS = 2000


class SubprocessBackend:
    kind = "subprocess"

    def check_config(self, config: dict[str, Any]) -> None:
        config = require_mapping(config)
        reject_unknown_keys(self.kind, config, ("command", "env", "cwd"))
        command = config.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str) for part in command)
            or not command[0]
        ):
            raise ValueError(
                "subprocess backend config key 'command' is required: a non-empty list of "
                "strings, program first, for example ['/opt/tools/pka', '--json']"
            )
        env = config.get("env", {})
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and k and "=" not in k and isinstance(v, str) for k, v in env.items()
        ):
            raise ValueError(
                "subprocess backend config key 'env' must map variable names (no '=') "
                "to string values"
            )
        cwd = config.get("cwd")
        if cwd is not None and (not isinstance(cwd, str) or not cwd):
            raise ValueError("subprocess backend config key 'cwd' must be a non-empty path string")

    async def run(
        self, records: list[dict[str, Any]], config: dict[str, Any]
    ) -> list[RecordOutcome]:
        payload = json.dumps({"records": records}).encode()
        stdout, stderr, returncode = await _communicate(config, payload)
        if returncode != 0:
            raise BackendError("model_error", _exit_message(config, returncode, stderr))
        return _parse_results(stdout, len(records))

    async def aclose(self) -> None:
        return None


async def _communicate(config: dict[str, Any], payload: bytes) -> tuple[bytes, bytes, int]:
    command: list[str] = config["command"]
    env = {**os.environ, **config["env"]} if config.get("env") else None
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=config.get("cwd"),
            start_new_session=True,  # its own process group, killed as a whole
        )
    except OSError as exc:
        raise BackendError("model_error", f"cannot start {command[0]!r}: {exc}") from exc
    try:
        stdout, stderr = await process.communicate(payload)
    except BaseException:
        # Cancelled (the worker's timeout) or failed mid-way: no orphan may outlive the run.
        await _kill_group(process)
        raise
    assert process.returncode is not None  # communicate() waits for the exit
    return stdout, stderr, process.returncode


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    # Reap the child so it leaves no zombie; shielded because we may be mid-cancellation.
    await asyncio.shield(process.wait())


def _exit_message(config: dict[str, Any], returncode: int, stderr: bytes) -> str:
    program = config["command"][0]
    how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with {returncode}"
    tail = stderr.decode(errors="replace").strip()[-STDERR_TAIL_CHARS:]
    return f"{program} {how}" + (f": {tail}" if tail else " and wrote nothing to stderr")


def _parse_results(stdout: bytes, expected: int) -> list[RecordOutcome]:
    try:
        document = json.loads(stdout)
    except ValueError as exc:
        preview = stdout[:200].decode(errors="replace")
        raise BackendError(
            "invalid_output", f"stdout is not JSON ({exc}); it began with {preview!r}"
        ) from exc
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise BackendError(
            "invalid_output",
            'stdout must be a JSON object {"results": [...]} with one entry per record',
        )
    check_result_length(results, expected)
    return [_result_outcome(item, index) for index, item in enumerate(results)]


def _result_outcome(item: object, index: int) -> RecordOutcome:
    if isinstance(item, dict) and set(item) == {"error"} and isinstance(item["error"], str):
        return RecordOutcome(error=item["error"] or "record failed")
    if isinstance(item, dict) and set(item) == {"output"}:
        return output_outcome(item["output"], index)
    raise BackendError(
        "invalid_output",
        f'result {index} must be {{"output": {{...}}}} or {{"error": "message"}}',
    )
