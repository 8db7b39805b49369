"""The demo consensus models `make up` registers over the built-in RDKit models,
as Algorithm 1 YAML documents (the paper's shape, as written)."""

from __future__ import annotations

# The paper's Algorithm 1 and its piecewise formula, over logP and ESOL solubility.
PAPER_ALGORITHM_1 = """\
"demo.paper-consensus":
  DESCRIPTION: >
    The paper's Algorithm 1 over two built-in models: with A the Crippen logP and
    B the ESOL log solubility, the result is A + B when A <= 0 and A * B otherwise.
    A demonstration of a piecewise consensus formula, not a validated property.
  CHILDMODELS:
    CHILDMODEL1: {BACKEND: rdkit, NAME: "rdkit.logp"}
    CHILDMODEL2: {BACKEND: rdkit, NAME: "rdkit.esol"}
  FORMULA: >
    "ChildModel1 <= 0 ?
    ChildModel1+ChildModel2 :
    ChildModel1*ChildModel2"
"""

# A weighted drug-likeness score from three built-in models.
DRUG_LIKENESS = """\
"demo.drug-likeness":
  DESCRIPTION: >
    A demonstration consensus of three built-in models: the weighted mean of QED
    (weight 2), a TPSA rule (1 when TPSA <= 140 square angstroms, else 0) and a
    lipophilicity rule (1 when Crippen logP <= 5, else 0). From 0 (unlikely) to 1.
  OUTPUT: score
  CHILDMODELS:
    QED: {BACKEND: rdkit, NAME: "rdkit.qed"}
    TPSA: {BACKEND: rdkit, NAME: "rdkit.tpsa"}
    LOGP: {BACKEND: rdkit, NAME: "rdkit.logp"}
  FORMULA: "wmean(QED, 2, TPSA <= 140 ? 1 : 0, 1, LOGP <= 5 ? 1 : 0, 1)"
"""

CONSENSUS_DOCUMENTS = (PAPER_ALGORITHM_1, DRUG_LIKENESS)
