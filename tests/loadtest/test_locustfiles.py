"""The locustfiles import, and a short headless locust run against the live session mesh
completes with no failed request (over gRPC directly, and over REST through Envoy).

Locust patches the process with gevent when imported, so it always runs in a
child process here, never inside pytest.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.harness import Mesh

ROOT = Path(__file__).resolve().parents[2]
LOCUST = [sys.executable, "-m", "locust"]


def test_locustfiles_import() -> None:
    code = "import loadtest.locust_grpc, loadtest.locust_rest; print('ok')"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def _headless(locustfile: str, host: str, env: dict[str, str], csv_prefix: Path) -> dict[str, Any]:
    argv = [
        *LOCUST,
        "-f",
        f"loadtest/{locustfile}",
        "--headless",
        "-u",
        "5",
        "-r",
        "5",
        "-t",
        "5s",
        "--host",
        host,
        "--model",
        "demo.echo",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "SubmitUser",
        "ResultUser",
    ]
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    with open(f"{csv_prefix}_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    return rows


def test_grpc_locust_run_has_no_failures(mesh: Mesh, builtin_worker: Any, tmp_path: Path) -> None:
    rows = _headless("locust_grpc.py", mesh.addresses["execution"], mesh.env, tmp_path / "grpc")
    assert int(rows["Aggregated"]["Request Count"]) > 0
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert {"SubmitJob", "GetJob"} <= set(rows)


def test_rest_locust_run_has_no_failures(edge: Any, builtin_worker: Any, tmp_path: Path) -> None:
    rows = _headless("locust_rest.py", edge.url, edge.mesh.env, tmp_path / "rest")
    assert int(rows["Aggregated"]["Request Count"]) > 0
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert {"POST /v1/jobs", "GET /v1/jobs/{id}"} <= set(rows)
