"""The built-in models, as the registry should know them.

`make up` registers each entry through the registry API. The descriptions are
written for people and LLM agents choosing a model: what it predicts, in what
units, by what method, from which reference, and where it stops being right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SMILES_MAX_LENGTH = 2000
Schema = dict[str, Any]


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    display_name: str
    description: str
    tags: tuple[str, ...]
    backend: dict[str, Any]  # the version's backend spec {"kind", "config"}
    input_schema: Schema
    output_schema: Schema
    timeout_s: float
    version: str = "1.0.0"
    backend_info: str = "rdkit"  # the model's informative "how it is served" label


def _python(function: str, module: str = "chemistry") -> dict[str, Any]:
    return {"kind": "python", "config": {"callable": f"workers.builtin.{module}:{function}"}}


def _object(properties: dict[str, Schema], title: str) -> Schema:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": title,
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }


def _smiles_input() -> Schema:
    return _object(
        {
            "smiles": {
                "type": "string",
                "minLength": 1,
                "maxLength": SMILES_MAX_LENGTH,
                "description": (
                    "The molecule as a SMILES string, e.g. 'CN1C=NC2=C1C(=O)N(C(=O)N2C)C'."
                ),
            }
        },
        "A molecule",
    )


def _number_output(field: str, description: str, **bounds: float) -> Schema:
    return _object({field: {"type": "number", "description": description, **bounds}}, field)


_RDKIT_LIMITS = (
    "Input is one molecule per record as a SMILES string; a SMILES that RDKit cannot parse "
    'fails that record alone with "invalid SMILES". Salts and mixtures are computed as '
    "given (all fragments together), so strip counter-ions first."
)

RDKIT_LOGP = BuiltinModel(
    name="rdkit.logp",
    display_name="Crippen logP",
    description=(
        "Predicts lipophilicity as the octanol/water partition coefficient logP (log10 units, "
        "dimensionless) with the Wildman-Crippen atom-contribution method as implemented in "
        "RDKit (Crippen.MolLogP). Reference: Wildman and Crippen, J. Chem. Inf. Comput. Sci. "
        "1999, 39, 868-873. Typical drug-like values are -1 to 5 (Lipinski's rule of five asks "
        "for at most 5); the method's error is about 0.7 log units against measured logP. It "
        "describes the neutral molecule, so it is logP, not pH-dependent logD. " + _RDKIT_LIMITS
    ),
    tags=("chemistry", "rdkit", "physchem", "lipophilicity", "logp"),
    backend=_python("logp"),
    input_schema=_smiles_input(),
    output_schema=_number_output("logp", "Wildman-Crippen logP, log10 units."),
    timeout_s=60,
)

RDKIT_TPSA = BuiltinModel(
    name="rdkit.tpsa",
    display_name="Topological polar surface area",
    description=(
        "Computes the topological polar surface area (TPSA) in square angstroms by Ertl's "
        "fragment method (RDKit rdMolDescriptors.CalcTPSA, nitrogen and oxygen contributions "
        "only, as published). Reference: Ertl, Rohde and Selzer, J. Med. Chem. 2000, 43, "
        "3714-3717. TPSA tracks passive permeability: below about 140 A^2 suggests good oral "
        "absorption, below about 90 A^2 blood-brain-barrier penetration. It is a 2D "
        "descriptor: no conformers, no sulfur or phosphorus contributions. " + _RDKIT_LIMITS
    ),
    tags=("chemistry", "rdkit", "physchem", "permeability", "tpsa"),
    backend=_python("tpsa"),
    input_schema=_smiles_input(),
    output_schema=_number_output("tpsa", "Topological polar surface area, A^2.", minimum=0),
    timeout_s=60,
)

RDKIT_MOL_WEIGHT = BuiltinModel(
    name="rdkit.mol-weight",
    display_name="Molecular weight",
    description=(
        "Computes the average molecular weight in g/mol (daltons) from standard atomic "
        "weights, implicit hydrogens included (RDKit Descriptors.MolWt). It is the average "
        "mass, not the monoisotopic exact mass used in mass spectrometry. Lipinski's rule of "
        "five asks for at most 500 g/mol for oral drugs. Exact by construction for the "
        "molecule as written. " + _RDKIT_LIMITS
    ),
    tags=("chemistry", "rdkit", "physchem", "molecular-weight"),
    backend=_python("mol_weight"),
    input_schema=_smiles_input(),
    output_schema=_number_output(
        "mol_weight", "Average molecular weight, g/mol.", exclusiveMinimum=0
    ),
    timeout_s=60,
)

RDKIT_QED = BuiltinModel(
    name="rdkit.qed",
    display_name="QED drug-likeness",
    description=(
        "Scores drug-likeness as the quantitative estimate of drug-likeness (QED), a number "
        "from 0 (unlike known oral drugs) to 1 (like them), combining eight properties "
        "(molecular weight, ALOGP, hydrogen-bond donors and acceptors, polar surface area, "
        "rotatable bonds, aromatic rings and structural alerts) by the weighted desirability "
        "functions of Bickerton et al., Nature Chemistry 2012, 4, 90-98 (RDKit QED.qed). "
        "Approved oral drugs average about 0.5 to 0.7. It ranks compounds; it is not a "
        "probability of success and says nothing about potency or toxicity. " + _RDKIT_LIMITS
    ),
    tags=("chemistry", "rdkit", "drug-likeness", "qed"),
    backend=_python("qed"),
    input_schema=_smiles_input(),
    output_schema=_number_output("qed", "QED drug-likeness, 0 to 1.", minimum=0, maximum=1),
    timeout_s=60,
)

RDKIT_ESOL = BuiltinModel(
    name="rdkit.esol",
    display_name="ESOL aqueous solubility",
    description=(
        "Estimates intrinsic aqueous solubility as log10 of the molar solubility (logS, "
        "mol/L) by Delaney's ESOL equation, logS = 0.16 - 0.63 cLogP - 0.0062 MW + 0.066 RB "
        "- 0.74 AP, with cLogP the Wildman-Crippen logP, MW the molecular weight, RB the "
        "rotatable bonds and AP the aromatic proportion (aromatic heavy atoms over heavy "
        "atoms), all from RDKit. Reference: Delaney, J. Chem. Inf. Comput. Sci. 2004, 44, "
        "1000-1005. The published equation was fitted with Daylight clogP; with Crippen logP "
        "expect a root-mean-square error near 1 log unit on drug-like molecules. Values "
        "below -6 mean poorly soluble, above -2 freely soluble. It ignores crystal packing, "
        "ionisation and pH. " + _RDKIT_LIMITS
    ),
    tags=("chemistry", "rdkit", "admet", "solubility", "esol"),
    backend=_python("esol"),
    input_schema=_smiles_input(),
    output_schema=_number_output("log_solubility", "ESOL log10 aqueous solubility, mol/L."),
    timeout_s=60,
)

RDKIT_PAINS = BuiltinModel(
    name="rdkit.pains",
    display_name="PAINS alerts",
    description=(
        "Flags pan-assay interference compounds: lists the PAINS substructure alerts a "
        "molecule matches, by name (for example 'ene_rhod_A(235)', 'catechol_A(92)'), and "
        "their count, using the 480 PAINS A, B and C filters of RDKit's FilterCatalog. "
        "Reference: Baell and Holloway, J. Med. Chem. 2010, 53, 2719-2740. A match means the "
        "structure tends to give false positives in high-throughput screens (redox cycling, "
        "metal chelation, covalent reactivity, aggregation), so hits deserve orthogonal "
        "confirmation; it is not a toxicity prediction, and no alert does not prove a clean "
        "compound. " + _RDKIT_LIMITS
    ),
    tags=("chemistry", "rdkit", "screening", "pains", "alerts"),
    backend=_python("pains"),
    input_schema=_smiles_input(),
    output_schema=_object(
        {
            "pains_alerts": {
                "type": "array",
                "items": {"type": "string"},
                "uniqueItems": True,
                "description": "Names of the matched PAINS alerts, sorted.",
            },
            "pains_count": {
                "type": "integer",
                "minimum": 0,
                "description": "How many distinct PAINS alerts matched.",
            },
        },
        "PAINS alerts",
    ),
    timeout_s=60,
)

DEMO_SLEEP = BuiltinModel(
    name="demo.sleep",
    display_name="Sleep (demo)",
    description=(
        "A demonstration model that predicts nothing: it waits for the given number of "
        "seconds (0 to 600) and returns how long it slept. It is for load tests, timeouts "
        "and queueing experiments (the paper's load test used a 1 s model). The wait is "
        "asynchronous, so it holds no worker thread, and the records of one batch wait "
        "concurrently."
    ),
    tags=("demo", "testing", "load-test"),
    backend=_python("sleep", module="demo"),
    input_schema=_object(
        {
            "seconds": {
                "type": "number",
                "minimum": 0,
                "maximum": 600,
                "description": "How long to sleep, in seconds.",
            }
        },
        "A sleep request",
    ),
    output_schema=_object(
        {"slept": {"type": "number", "minimum": 0, "maximum": 600}}, "A finished sleep"
    ),
    timeout_s=630,
    backend_info="demo",
)

DEMO_ECHO = BuiltinModel(
    name="demo.echo",
    display_name="Echo (demo)",
    description=(
        "A demonstration model that predicts nothing: it returns each input record "
        "unchanged under 'echo'. It does no work, so timing it measures the platform's own "
        "cost per job and per record (queueing, validation, transport) for benchmarks. "
        "Any JSON object is accepted."
    ),
    tags=("demo", "testing", "benchmark"),
    backend=_python("echo", module="demo"),
    input_schema={"$schema": JSON_SCHEMA_DIALECT, "title": "Any record", "type": "object"},
    output_schema=_object({"echo": {"type": "object"}}, "The record echoed"),
    timeout_s=30,
    backend_info="demo",
)

BUILTIN_MODELS: tuple[BuiltinModel, ...] = (
    RDKIT_LOGP,
    RDKIT_TPSA,
    RDKIT_MOL_WEIGHT,
    RDKIT_QED,
    RDKIT_ESOL,
    RDKIT_PAINS,
    DEMO_SLEEP,
    DEMO_ECHO,
)
