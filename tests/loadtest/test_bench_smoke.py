"""`make bench-smoke`: the load generator brings up its own mesh, runs every scenario at
1 and 10 clients for a quarter of a second, and tears everything down. It checks that
the bench works (every scenario completed calls, none failed), never the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
SMOKE = [
    "--levels",
    "1,10",
    "--duration",
    "0.25",
    "--drain",
    "10",
    "--processes",
    "0",
    "--server-processes",
    "1",
    "--pause",
    "0",
    "--settle",
    "0",
    "--watch-finish",
    "20",
    "--jobs-per-user",
    "4",
    "--cost-levels",
    "1",
    "--cost-duration",
    "0.25",
]


@pytest.mark.timeout(240)
def test_bench_smoke_runs_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    markdown = tmp_path / "benchmarks.md"
    markdown.write_text(
        "# Benchmarks\n\nprose kept\n<!-- bench:begin -->\nSTALE-TABLES\n<!-- bench:end -->\ntail kept\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.bench",
            *SMOKE,
            "--json",
            str(out),
            "--markdown",
            str(markdown),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results["runs"]) == set(SCENARIOS)
    for scenario, levels in results["runs"].items():
        assert set(levels) == {"1", "10"}, scenario
        for clients, figures in levels.items():
            if scenario in ("watch", "watch_many"):
                assert figures["terminal_received"] == int(clients), figures
            else:
                assert figures["ok"] > 0, (scenario, clients, figures)
            assert figures["failed"] == 0, (scenario, clients, figures)
    # The per-call cost phase ran on a one-process mesh of its own.
    assert results["cost"]["server_processes"] == 1
    for scenario in ("echo", "submit", "get"):
        figures = results["cost"]["runs"][scenario]["1"]
        assert figures["ok"] > 0 and figures["failed"] == 0, (scenario, figures)
    text = markdown.read_text()
    assert "### Per-call cost: one server process each" in text
    assert "prose kept" in text and "tail kept" in text and "STALE-TABLES" not in text
    assert "| clients | requests/s |" in text and "### Targets" in text
