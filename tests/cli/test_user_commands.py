"""`modelgw login|models|jobs` as the real command, against the mesh through Envoy."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rdkit import Chem
from rdkit.Chem import Crippen

from tests.gateway.edge.conftest import Edge

MOLECULES = [
    "CCO",
    "c1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CCN(CC)CC",
]


def modelgw(*argv: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(edge: Edge, builtin_worker: object, tmp_path: Path) -> dict[str, str]:
    return {
        "MODELGW_TARGET": edge.address,
        "MODELGW_TOKEN": edge.mesh.token("carol"),
        "MODELGW_CONFIG_DIR": str(tmp_path / "config"),
    }


def expected_logp(smiles: str) -> float:
    return float(Crippen.MolLogP(Chem.MolFromSmiles(smiles)))


def _check_results(done: subprocess.CompletedProcess[str], smiles: list[str]) -> None:
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [r["index"] for r in report["results"]] == [0, 1, 0, 1, 0]
    for row, molecule in zip(report["results"], smiles, strict=True):
        assert row["smiles"] == molecule and row["error"] is None
        assert row["logp"] == pytest.approx(expected_logp(molecule), abs=1e-9)
    assert {j["status"] for j in report["jobs"]} == {"SUCCEEDED"} and len(report["jobs"]) == 3


def test_a_csv_of_five_molecules(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "molecules.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "smiles"])
        writer.writerows([[f"m{i}", s] for i, s in enumerate(MOLECULES)])
    done = modelgw(
        "jobs", "submit", "rdkit.logp", "--file", str(path), "--column", "smiles",
        "--batch", "2", "--wait", "-o", "json", env=env,
    )  # fmt: skip
    _check_results(done, MOLECULES)


def test_an_sdf_of_five_molecules(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "molecules.sdf"
    writer = Chem.SDWriter(str(path))
    for smiles in MOLECULES:
        writer.write(Chem.MolFromSmiles(smiles))
    writer.close()
    done = modelgw(
        "jobs", "submit", "rdkit.logp", "--file", str(path), "--column", "smiles",
        "--batch", "2", "--wait", "-o", "json", env=env,
    )  # fmt: skip
    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in MOLECULES]
    _check_results(done, canonical)


def test_a_smiles_file_one_job_per_line_refusals_on_their_own_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "molecules.smi"
    too_long = "C" * 2001  # past the model's maxLength: that job alone is refused
    path.write_text(f"# a SMILES and a name per line\nCCO ethanol\n\n{too_long} wax\nc1ccccc1\n")
    done = modelgw(
        "jobs", "submit", "rdkit.logp", "--file", str(path), "--each", "-o", "csv", env=env
    )
    assert done.returncode == 1, done.stderr
    rows = list(csv.DictReader(done.stdout.splitlines()))
    assert [bool(r["id"]) for r in rows] == [True, False, True]
    assert rows[1]["error"].startswith("INVALID_ARGUMENT: records[0]") and not rows[0]["error"]
    assert {r["model"] for r in (rows[0], rows[2])} == {"rdkit.logp"}


def test_records_get_list_and_csv_output(env: dict[str, str]) -> None:
    done = modelgw(
        "jobs", "submit", "rdkit.logp", "--record", '{"smiles": "CCO"}', "-o", "json", env=env
    )
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)[0]["id"]
    watched = modelgw("jobs", "watch", job_id, env=env)
    assert watched.returncode == 0 and watched.stdout.strip().endswith("SUCCEEDED"), watched
    got = modelgw("jobs", "get", job_id, "-o", "csv", env=env)
    rows = list(csv.DictReader(got.stdout.splitlines()))
    assert float(rows[0]["logp"]) == pytest.approx(expected_logp("CCO"))
    listed = modelgw("jobs", "list", "-o", "json", env=env)
    assert job_id in {j["id"] for j in json.loads(listed.stdout)}
    shown = modelgw("models", "show", "rdkit.logp", "-o", "json", env=env)
    assert json.loads(shown.stdout)["model"]["name"] == "rdkit.logp"
    table = modelgw("models", "show", "rdkit.logp", env=env)
    assert table.returncode == 0 and "rdkit.logp" in table.stdout


def test_login_stores_the_token_owner_only_and_it_is_used(
    env: dict[str, str], edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = edge.mesh.token("dave")
    without = {k: v for k, v in env.items() if k != "MODELGW_TOKEN"}
    monkeypatch.delenv("MODELGW_TOKEN", raising=False)
    done = modelgw("login", "--token", "-", env=without, stdin=token + "\n")
    assert done.returncode == 0, done.stderr
    path = Path(env["MODELGW_CONFIG_DIR"]) / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text().strip() == token
    shown = modelgw("models", "show", "rdkit.logp", "-o", "json", env=without)
    assert shown.returncode == 0, shown.stderr
    bad = modelgw("login", "--token", "two words", env=without)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["models", "show", "no.such-model"], 1, "not found"),
        (["jobs", "submit", "rdkit.logp", "--record", "[1, 2]"], 2, "must be a JSON object"),
        (["jobs", "submit", "rdkit.logp", "--record", "{"], 2, "is not JSON"),
        (
            ["jobs", "submit", "rdkit.logp", "--record", '{"smiles": 5}'],
            2,
            "records[0] does not match",
        ),
        (["jobs", "submit", "rdkit.logp", "--file", "/nonexistent.csv"], 2, "not a readable file"),
        (["jobs", "list", "--status", "BOGUS"], 2, "unknown job status"),
        (["jobs", "get", "x" * 5000], 2, "at most 200"),
        (["jobs", "submit", "rdkit.logp", "--batch", "0", "--record", "{}"], 2, "--batch"),
        (
            ["jobs", "submit", "rdkit.logp", "--batch", "2", "--each", "--record", "{}"],
            2,
            "--each or --batch",
        ),
    ],
)
def test_an_error_prints_the_message_and_exits_non_zero(
    env: dict[str, str], argv: list[str], code: int, message: str
) -> None:
    done = modelgw(*argv, env=env)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_bad_token_is_unauthenticated(env: dict[str, str]) -> None:
    done = modelgw("jobs", "list", env={**env, "MODELGW_TOKEN": "forged"})
    assert done.returncode == 1 and "UNAUTHENTICATED" in done.stderr
    assert "Traceback" not in done.stderr


def test_models_search(env: dict[str, str]) -> None:
    done = modelgw("models", "search", "logp", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert "rdkit.logp" in [hit["model"]["name"] for hit in json.loads(done.stdout)]
    table = modelgw("models", "search", "logp [bold]", env=env)
    assert table.returncode == 0, table.stderr


def test_cancel_a_queued_job(env: dict[str, str], edge: Edge) -> None:
    from tests.gateway.conftest import create_model

    fixture = create_model(edge.mesh)  # no worker serves it: its jobs stay queued
    reader = {**env, "MODELGW_TOKEN": edge.mesh.token(fixture.reader)}
    done = modelgw(
        "jobs", "submit", fixture.name, "--record", '{"smiles": "C"}', "--record", '{"smiles": "CC"}',
        "--batch", "1", "-o", "json", env=reader,
    )  # fmt: skip
    job_id, other = (job["id"] for job in json.loads(done.stdout))
    cancelled = modelgw("jobs", "cancel", job_id, "-o", "json", env=reader)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)[0]["status"] == "CANCELLED"
    watched = modelgw("jobs", "watch", job_id, env=reader)
    assert watched.returncode == 1 and "CANCELLED" in watched.stdout
    assert modelgw("jobs", "cancel", other, env=reader).returncode == 0
    both = modelgw("jobs", "watch", job_id, other, env=reader)  # one WatchJobs stream
    assert both.returncode == 1, both.stderr
    assert sorted(both.stdout.split()) == sorted([job_id, other, "CANCELLED", "CANCELLED"])
