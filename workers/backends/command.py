"""The subprocess backend: a command that reads the batch as JSON on stdin and answers on stdout.

config: {"command": ["/abs/prog", "arg", ...], "env": {"NAME": "value"},
"limits": {"memory_mb": N, "cpu_seconds": N, "file_mb": N}} (env and limits optional).
command[0] must be listed in the operator's allow-list (backendspec.policy);
the run happens in the sandbox workers.backends.sandbox describes (scrubbed
environment plus env, a private working directory, resource limits that the
version's limits may lower).

Protocol, one process per batch:
  stdin:  {"records": [{...}, ...]}
  stdout: {"results": [{"output": {...}} | {"error": "message"}, ...]}
A non-zero exit fails the batch with the tail of stderr and the limits it ran
under. The command runs in its own process group, which is killed when the run
is cancelled (the worker's timeout), so helpers the tool started die with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
from pathlib import Path
from typing import Any

from backendspec import BackendNotAllowed, BackendPolicy, BackendSpecError
from backendspec.subprocess_kind import check_subprocess_config
from workers.backends.base import (
    BackendError,
    RecordOutcome,
    check_result_length,
    output_outcome,
)
from workers.backends.sandbox import (
    CPU_ENV,
    FILE_ENV,
    RunLimits,
    SubprocessLimits,
    private_directory,
    sandbox_env,
)

STDERR_TAIL_CHARS = 2000


class SubprocessBackend:
    kind = "subprocess"

    def __init__(
        self, policy: BackendPolicy | None = None, limits: SubprocessLimits | None = None
    ) -> None:
        self._policy = policy or BackendPolicy()
        self._limits = limits or SubprocessLimits()

    async def run(
        self, records: list[dict[str, Any]], config: dict[str, Any]
    ) -> list[RecordOutcome]:
        # Refused before anything starts: the operator's list, then the sandbox's rules
        # (a version stored before them may break them).
        try:
            self._policy.check_command(config.get("command"))
            check_subprocess_config({k: v for k, v in config.items() if k != "timeout_s"})
        except (BackendNotAllowed, BackendSpecError) as exc:
            raise BackendError("backend_not_allowed", _message(exc)) from None
        limits = self._limits.for_run(config.get("limits") or {}, config.get("timeout_s"))
        payload = json.dumps({"records": records}).encode()
        with private_directory() as run_dir:
            env = sandbox_env(config.get("env") or {}, run_dir)
            stdout, stderr, returncode = await _communicate(
                config["command"], env, run_dir, limits, payload
            )
        if returncode != 0:
            raise BackendError(
                "model_error", _exit_message(config["command"][0], returncode, stderr, limits)
            )
        return _parse_results(stdout, len(records))

    async def aclose(self) -> None:
        return None


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, BackendNotAllowed) else str(exc)


async def _communicate(
    command: list[str], env: dict[str, str], run_dir: Path, limits: RunLimits, payload: bytes
) -> tuple[bytes, bytes, int]:
    rlimits = limits.rlimits()  # computed here: the child only makes system calls

    def limit_child() -> None:
        # Runs in the child between fork and exec: setrlimit only, nothing that
        # could wait on a lock another worker thread held at fork time.
        for which, pair in rlimits:
            resource.setrlimit(which, pair)

    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=run_dir,
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=limit_child,
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


def _exit_message(program: str, returncode: int, stderr: bytes, limits: RunLimits) -> str:
    if returncode == -signal.SIGXCPU:
        how = (
            f"was killed by SIGXCPU: it used its CPU limit of {limits.cpu_seconds} s "
            f"({CPU_ENV} or the version's limits.cpu_seconds)"
        )
    elif returncode == -signal.SIGXFSZ:
        how = (
            f"was killed by SIGXFSZ: it wrote past its file size limit of {limits.file_mb} MB "
            f"({FILE_ENV} or the version's limits.file_mb)"
        )
    elif returncode < 0:
        how = f"was killed by {_signal_name(-returncode)}"
    else:
        how = f"exited with {returncode}"
    tail = stderr.decode(errors="replace").strip()[-STDERR_TAIL_CHARS:]
    said = f": {tail}" if tail else " and wrote nothing to stderr"
    return f"{program} {how}{said} (it ran under {limits.describe()})"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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
