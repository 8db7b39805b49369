"""schemathesis against the generated OpenAPI document, through Envoy, with a
superuser token: no 5xx and no response that breaks the document's schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import Edge

# The st command, in a process of its own with a deep recursion limit and big
# thread stacks: schemathesis recurses deeply through nested schemas, and near
# the default limit CPython 3.11 can raise "SystemError: AST constructor
# recursion depth mismatch" (its AST recursion-counter bug) at random.
ST = [
    sys.executable,
    "-c",
    "import sys, threading; sys.setrecursionlimit(20_000); "
    "threading.stack_size(256 * 1024 * 1024); "
    "from schemathesis.cli import schemathesis; sys.argv[0] = 'st'; sys.exit(schemathesis())",
]
# Every REST route of the registry and the jobs.
OPERATIONS = "^/v1/(models|jobs)"
# Except the watches (WatchJob, WatchJobs): schemathesis reuses job ids from
# earlier responses, and the stream of a job that never finishes (a model nobody
# serves) rightly never ends, which no request timeout covers.
# tests/gateway/edge/test_jobs_rest.py covers those routes.
ENDLESS = ":watch$"
# And the calls that take things away from the session's shared models (the
# built-in models other tests run): deleting, revoking, hiding. Those routes'
# errors are covered by tests/gateway/edge/test_rest.py.
DESTRUCTIVE = ":(revokeAccess|setVisibility)$"


def test_no_server_errors_and_responses_match_the_schema(edge: Edge, tmp_path: Path) -> None:
    token = edge.mesh.token("schemathesis", superuser=True)
    result = subprocess.run(
        [
            *ST, "run", f"{edge.url}/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--mode", "all",
            "--phases", "examples,coverage,fuzzing",
            # Per operation, in the fuzzing phase: most of its bodies fail validation
            # alike; the coverage phase (boundaries of every field) runs in full.
            "--max-examples", "20",
            "--seed", "5",
            "--workers", "1",  # one thread: the same requests in the same order every run
            "--include-path-regex", OPERATIONS,
            "--exclude-path-regex", f"({ENDLESS})|({DESTRUCTIVE})",
            "--exclude-method", "DELETE",
            "--request-timeout", "10",
            "--report-dir", str(tmp_path),
        ],
        cwd=tmp_path,  # st keeps its example database in ./.schemathesis
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    print(result.stdout[-1500:])  # the summary, with pytest -s
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
