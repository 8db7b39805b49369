"""Built-in chemistry models on RDKit, run by the python backend.

Each function takes records {"smiles": str} and returns, aligned with them,
an output dict or a RecordError: a SMILES that RDKit cannot parse fails its
own record only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import QED, Descriptors, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from workers.backends import RecordError

Result = dict[str, Any] | RecordError
Compute = Callable[[Chem.Mol], dict[str, Any]]

# Delaney (2004), J. Chem. Inf. Comput. Sci. 44, 1000-1005, the published ESOL equation.
ESOL_INTERCEPT = 0.16
ESOL_LOGP = -0.63
ESOL_MW = -0.0062
ESOL_ROTATABLE_BONDS = 0.066
ESOL_AROMATIC_PROPORTION = -0.74


def logp(records: list[dict[str, Any]]) -> list[Result]:
    """Wildman-Crippen logP (octanol/water partition coefficient, log10 units)."""
    return _each_molecule(records, lambda mol: {"logp": crippen_logp(mol)})


def tpsa(records: list[dict[str, Any]]) -> list[Result]:
    """Ertl topological polar surface area in square angstroms (N and O contributions)."""
    return _each_molecule(records, lambda mol: {"tpsa": rdMolDescriptors.CalcTPSA(mol)})


def mol_weight(records: list[dict[str, Any]]) -> list[Result]:
    """Average molecular weight in g/mol, implicit hydrogens included."""
    return _each_molecule(records, lambda mol: {"mol_weight": average_mol_weight(mol)})


def qed(records: list[dict[str, Any]]) -> list[Result]:
    """Bickerton's quantitative estimate of drug-likeness, 0 (unlike) to 1 (like a drug)."""
    return _each_molecule(records, lambda mol: {"qed": qed_score(mol)})


def esol(records: list[dict[str, Any]]) -> list[Result]:
    """Delaney's ESOL estimate of aqueous solubility, log10(mol/L)."""
    return _each_molecule(records, lambda mol: {"log_solubility": esol_log_solubility(mol)})


def pains(records: list[dict[str, Any]]) -> list[Result]:
    """Names of the PAINS substructure alerts (Baell and Holloway, 2010) a molecule matches."""
    return _each_molecule(records, _pains_alerts)


def esol_log_solubility(mol: Chem.Mol) -> float:
    """logS = 0.16 - 0.63 cLogP - 0.0062 MW + 0.066 RB - 0.74 AP."""
    heavy_atoms = mol.GetNumHeavyAtoms()
    aromatic_atoms = sum(1 for atom in mol.GetAtoms() if atom.GetIsAromatic())
    aromatic_proportion = aromatic_atoms / heavy_atoms if heavy_atoms else 0.0
    value: float = (
        ESOL_INTERCEPT
        + ESOL_LOGP * crippen_logp(mol)
        + ESOL_MW * average_mol_weight(mol)
        + ESOL_ROTATABLE_BONDS * rdMolDescriptors.CalcNumRotatableBonds(mol)
        + ESOL_AROMATIC_PROPORTION * aromatic_proportion
    )
    return value


def crippen_logp(mol: Chem.Mol) -> float:
    """Wildman-Crippen logP, the same number as Crippen.MolLogP."""
    logp_value, _molar_refractivity = rdMolDescriptors.CalcCrippenDescriptors(mol)
    return float(logp_value)


def average_mol_weight(mol: Chem.Mol) -> float:
    # rdkit-stubs omit the descriptors that RDKit defines as lambdas, MolWt among them.
    return float(Descriptors.MolWt(mol))  # type: ignore[attr-defined]


def qed_score(mol: Chem.Mol) -> float:
    return float(QED.qed(mol))  # type: ignore[no-untyped-call]


@functools.cache
def pains_catalog() -> FilterCatalog:
    """RDKit's PAINS catalogue (families A, B and C, 480 alerts), built once per process."""
    params = FilterCatalogParams()
    params.AddCatalog(FilterCatalogParams.FilterCatalogs.PAINS)
    return FilterCatalog(params)


def _pains_alerts(mol: Chem.Mol) -> dict[str, Any]:
    names = sorted({entry.GetDescription() for entry in pains_catalog().GetMatches(mol)})
    return {"pains_alerts": names, "pains_count": len(names)}


def _each_molecule(records: list[dict[str, Any]], compute: Compute) -> list[Result]:
    # RDKit logs every SMILES parse error to stderr; the error goes in the record instead.
    with rdBase.BlockLogs():
        return [_one_molecule(record, compute) for record in records]


def _one_molecule(record: dict[str, Any], compute: Compute) -> Result:
    smiles = record.get("smiles") if isinstance(record, dict) else None
    if not isinstance(smiles, str) or not smiles:
        return RecordError("field 'smiles' is required: a non-empty SMILES string")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return RecordError(f"invalid SMILES: {smiles!r}")
    try:
        return compute(mol)
    except (RuntimeError, ValueError, ArithmeticError) as exc:
        return RecordError(f"RDKit could not process {smiles!r}: {exc}")
