"""The built-in models, checked against RDKit called directly and against Delaney's equation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

from tests.workers.conftest import MakeBackend
from workers.backends import RecordError, RecordOutcome
from workers.builtin import chemistry, demo

CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
ENE_RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"  # 5-benzylidene rhodanine, PAINS ene_rhod_A
CATECHOL = "Oc1ccccc1O"


def _caffeine() -> Chem.Mol:
    mol = Chem.MolFromSmiles(CAFFEINE)
    assert mol is not None
    return mol


def _single(function: Any, smiles: str = CAFFEINE) -> dict[str, Any]:
    (result,) = function([{"smiles": smiles}])
    assert isinstance(result, dict), result
    return result


def test_logp_is_crippen() -> None:
    assert _single(chemistry.logp) == {"logp": Crippen.MolLogP(_caffeine())}
    assert _single(chemistry.logp)["logp"] == pytest.approx(-1.0293)


def test_tpsa() -> None:
    assert _single(chemistry.tpsa) == {"tpsa": rdMolDescriptors.CalcTPSA(_caffeine())}
    assert _single(chemistry.tpsa)["tpsa"] == pytest.approx(61.82)


def test_mol_weight() -> None:
    assert _single(chemistry.mol_weight) == {"mol_weight": Descriptors.MolWt(_caffeine())}
    assert _single(chemistry.mol_weight)["mol_weight"] == pytest.approx(194.19, abs=0.01)


def test_qed() -> None:
    assert _single(chemistry.qed) == {"qed": QED.qed(_caffeine())}
    assert 0 < _single(chemistry.qed)["qed"] < 1


def test_esol_is_delaneys_equation() -> None:
    mol = _caffeine()
    heavy = mol.GetNumHeavyAtoms()
    aromatic = len([atom for atom in mol.GetAtoms() if atom.GetIsAromatic()])
    assert (heavy, aromatic) == (14, 9)  # the imidazole and pyrimidinedione rings are aromatic
    by_hand = (
        0.16
        - 0.63 * Crippen.MolLogP(mol)
        - 0.0062 * Descriptors.MolWt(mol)
        + 0.066 * Lipinski.NumRotatableBonds(mol)
        - 0.74 * aromatic / heavy
    )
    assert _single(chemistry.esol)["log_solubility"] == pytest.approx(by_hand, abs=1e-12)
    # Measured caffeine solubility is about 21.6 g/L, log S = -0.95: ESOL lands within a log unit.
    assert _single(chemistry.esol)["log_solubility"] == pytest.approx(-0.95, abs=1.0)


def test_pains_flags_known_interference_compounds_and_not_caffeine() -> None:
    assert _single(chemistry.pains) == {"pains_alerts": [], "pains_count": 0}
    assert _single(chemistry.pains, ENE_RHODANINE) == {
        "pains_alerts": ["ene_rhod_A(235)"],
        "pains_count": 1,
    }
    assert _single(chemistry.pains, CATECHOL)["pains_alerts"] == ["catechol_A(92)"]


@pytest.mark.parametrize(
    "function",
    [
        chemistry.logp,
        chemistry.tpsa,
        chemistry.mol_weight,
        chemistry.qed,
        chemistry.esol,
        chemistry.pains,
    ],
)
def test_an_invalid_smiles_fails_alone(function: Any) -> None:
    results = function([{"smiles": CAFFEINE}, {"smiles": "C1CC(N"}, {"smiles": "CCO"}, {}])
    assert isinstance(results[0], dict) and isinstance(results[2], dict)
    assert isinstance(results[1], RecordError) and str(results[1]) == "invalid SMILES: 'C1CC(N'"
    assert isinstance(results[3], RecordError) and "'smiles' is required" in str(results[3])


async def test_a_batch_through_the_python_backend(python_backend: MakeBackend) -> None:
    outcomes = await python_backend().run(
        [{"smiles": CAFFEINE}, {"smiles": "not a molecule"}],
        {"callable": "workers.builtin.chemistry:mol_weight"},
    )
    assert outcomes == [
        RecordOutcome(output={"mol_weight": Descriptors.MolWt(_caffeine())}),
        RecordOutcome(error="invalid SMILES: 'not a molecule'"),
    ]


async def test_sleep_sleeps_the_batch_concurrently_without_a_thread() -> None:
    started = time.perf_counter()
    results = await demo.sleep([{"seconds": 0.2}, {"seconds": 0.2}, {"seconds": 0}])
    elapsed = time.perf_counter() - started
    assert results == [{"slept": 0.2}, {"slept": 0.2}, {"slept": 0}]
    assert 0.19 < elapsed < 0.35


@pytest.mark.parametrize(
    "record", [{"seconds": -1}, {"seconds": 601}, {"seconds": "1"}, {"seconds": True}, {}]
)
async def test_sleep_rejects_a_bad_duration_alone(record: dict[str, Any]) -> None:
    results = await demo.sleep([record, {"seconds": 0}])
    assert isinstance(results[0], RecordError) and "'seconds'" in str(results[0])
    assert results[1] == {"slept": 0}


async def test_echo() -> None:
    records = [{"a": 1, "b": [1, "x"]}, {}]
    assert await demo.echo(records) == [{"echo": {"a": 1, "b": [1, "x"]}}, {"echo": {}}]
