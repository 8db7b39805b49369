"""schemathesis against the generated OpenAPI document, through Envoy, with a
superuser token: no 5xx and no response that breaks the document's schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import Edge

ST = shutil.which("st") or str(Path(sys.executable).parent / "st")
# Every REST route of the registry and the jobs.
OPERATIONS = "^/v1/(models|jobs)"


def test_no_server_errors_and_responses_match_the_schema(edge: Edge, tmp_path: Path) -> None:
    token = edge.mesh.token("root", superuser=True)
    result = subprocess.run(
        [
            ST, "run", f"{edge.url}/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--mode", "all",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "40",
            "--seed", "5",
            "--workers", "2",
            "--include-path-regex", OPERATIONS,
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
