"""The model catalog: a declarative YAML file of models, their versions,
owners, readers, visibility and default version (MODELGW_CATALOG, by default
catalog/models.yaml). Consensus models are plain versions whose backend kind
is "consensus".

    models:
      - name: rdkit.logp
        display_name: Crippen logP
        description: ...
        tags: [chemistry, rdkit]
        backend: rdkit                 # informative label
        visibility: public             # or private (the default)
        owners: [olga]
        readers: [rita]
        default_version: 1.0.0         # optional; left alone when absent
        versions:
          - version: 1.0.0
            notes: ...
            backend: {kind: python, config: {callable: "pkg.mod:fn", timeout_s: 60}}
            input_schema: {...}
            output_schema: {...}

Loading checks every entry with the registry's own validation, so a catalog
that loads is one the registry accepts. `python -m gateway.admin.catalog`
prints the built-in models as catalog entries (how catalog/models.yaml began).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from backendspec import BackendPolicy
from gateway.errors import ApiError, FailedPrecondition
from gateway.registry import validation

_VISIBILITIES = {"public": True, "private": False}


@dataclass(frozen=True)
class CatalogVersion:
    version: str
    backend_kind: str
    backend_config: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    notes: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": {"kind": self.backend_kind, "config": self.backend_config},
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class CatalogModel:
    name: str
    display_name: str
    description: str
    tags: tuple[str, ...]
    backend: str
    public: bool
    owners: tuple[str, ...]
    readers: tuple[str, ...]
    default_version: str | None
    versions: tuple[CatalogVersion, ...]

    def fields(self) -> dict[str, Any]:
        """The model's descriptive columns, as the registry stores them."""
        return {
            "display_name": self.display_name,
            "description": self.description,
            "tags": list(self.tags),
            "backend": self.backend,
        }


def load(path: Path, policy: BackendPolicy) -> list[CatalogModel]:
    """Reads and checks the catalog; FailedPrecondition names the entry that is wrong
    (a backend outside the operator's allow-list among them)."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise FailedPrecondition(f"cannot read the model catalog {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise FailedPrecondition(f"the model catalog {path} is not valid YAML: {exc}") from None
    entries = (document or {}).get("models") or []
    if not isinstance(entries, list):
        raise FailedPrecondition(f"the model catalog {path}: 'models' must be a list")
    models: list[CatalogModel] = []
    for index, entry in enumerate(entries):
        where = f"models[{index}]"
        try:
            models.append(_model(entry, policy))
        except ApiError as exc:
            raise FailedPrecondition(f"the model catalog {path}: {where}: {exc.message}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise FailedPrecondition(f"the model catalog {path}: {where}: {exc}") from None
    names = [m.name for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FailedPrecondition(f"the model catalog {path} lists {', '.join(duplicates)} twice")
    return models


def _model(entry: dict[str, Any], policy: BackendPolicy) -> CatalogModel:
    name = validation.model_name(str(entry.get("name", "")), "name")
    visibility = str(entry.get("visibility", "private"))
    if visibility not in _VISIBILITIES:
        raise ValueError(f"visibility {visibility!r}: use public or private")
    versions = tuple(_version(v, policy) for v in entry.get("versions") or [])
    default = entry.get("default_version")
    if default is not None and str(default) not in {v.version for v in versions}:
        raise ValueError(f"default_version {default!r} is not one of its versions")
    return CatalogModel(
        name=name,
        display_name=validation.text(
            str(entry.get("display_name", "")), "display_name", validation.MAX_DISPLAY_NAME
        ),
        description=validation.text(
            str(entry.get("description", "")), "description", validation.MAX_DESCRIPTION
        ),
        tags=tuple(validation.tags(str(t) for t in entry.get("tags") or [])),
        backend=validation.text(
            str(entry.get("backend", "")), "backend", validation.MAX_BACKEND_INFO
        ),
        public=_VISIBILITIES[visibility],
        owners=tuple(str(u) for u in entry.get("owners") or []),
        readers=tuple(str(u) for u in entry.get("readers") or []),
        default_version=None if default is None else str(default),
        versions=versions,
    )


def _version(entry: dict[str, Any], policy: BackendPolicy) -> CatalogVersion:
    version = validation.version_string(str(entry.get("version", "")), "version")
    backend = entry.get("backend") or {}
    kind = validation.backend_kind(str(backend.get("kind", "")))
    return CatalogVersion(
        version=version,
        backend_kind=kind,
        backend_config=validation.backend_config(
            kind, dict(backend.get("config") or {}), policy
        ),
        input_schema=validation.json_schema(entry.get("input_schema"), "input_schema"),
        output_schema=validation.json_schema(entry.get("output_schema"), "output_schema"),
        notes=validation.text(str(entry.get("notes", "")), "notes", validation.MAX_NOTES),
    )


def builtin_entries() -> list[dict[str, Any]]:
    """The built-in models as catalog entries, exactly as `modelgw builtins register`
    registers them (workers.builtin.register)."""
    from workers.builtin.catalog import BUILTIN_MODELS

    return [
        {
            "name": m.name,
            "display_name": m.display_name,
            "description": m.description,
            "tags": list(m.tags),
            "backend": m.backend_info,
            "visibility": "public",
            "versions": [
                {
                    "version": m.version,
                    "notes": "Built-in model.",
                    "backend": {
                        "kind": m.backend["kind"],
                        "config": {**m.backend["config"], "timeout_s": m.timeout_s},
                    },
                    "input_schema": m.input_schema,
                    "output_schema": m.output_schema,
                }
            ],
        }
        for m in BUILTIN_MODELS
    ] + _consensus_entries()


def _consensus_entries() -> list[dict[str, Any]]:
    """The demo consensus models, exactly as ImportConsensusModel stores them."""
    from consensus.definition import load_algorithm1
    from gateway.registry.consensus import output_schema
    from workers.builtin.consensus_models import CONSENSUS_DOCUMENTS

    entries = []
    for document in map(load_algorithm1, CONSENSUS_DOCUMENTS):
        entries.append(
            {
                "name": document.name,
                "description": document.description,
                "backend": "consensus",
                "visibility": "public",
                "versions": [
                    {
                        "version": "1.0.0",
                        "notes": "Imported from an Algorithm 1 YAML document.",
                        "backend": {"kind": "consensus", "config": document.definition.to_config()},
                        "input_schema": dict(validation.ANY_OBJECT_SCHEMA),
                        "output_schema": output_schema(document.definition),
                    }
                ],
            }
        )
    return entries


if __name__ == "__main__":
    yaml.safe_dump(
        {"models": builtin_entries()}, sys.stdout, sort_keys=False, width=100, allow_unicode=True
    )
