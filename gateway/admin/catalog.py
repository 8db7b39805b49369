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
that loads is one the registry accepts. The repository's catalog is also the
one declaration of the built-in models: `modelgw builtins register` registers
its models (gateway.admin.register) and `modelgw worker --builtins` runs those
that are not consensus models (worker_models).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from backendspec import BackendPolicy
from gateway.config import DEFAULT_CATALOG
from gateway.errors import ApiError, FailedPrecondition, InvalidArgument
from gateway.registry import validation

_VISIBILITIES = {"public": True, "private": False}


@dataclass(frozen=True)
class CatalogVersion:
    """One version of a catalog model, checked as CreateModelVersion checks it."""

    version: str
    backend_kind: str
    backend_config: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    notes: str

    def as_dict(self) -> dict[str, Any]:
        """The version's content, as the admin sync compares it with the registry's."""
        return {
            "backend": {"kind": self.backend_kind, "config": self.backend_config},
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class CatalogModel:
    """One catalog entry: a model, its access and its versions."""

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


def load(path: Path, policy: BackendPolicy | None) -> list[CatalogModel]:
    """Reads and checks the catalog; FailedPrecondition names the entry that is wrong
    (a backend outside the operator's allow-list among them; policy None checks
    the backends' shape alone, for a reader that runs or registers nothing itself)."""
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
            models.append(_model(_mapping(entry, "the entry"), policy))
        except ApiError as exc:
            raise FailedPrecondition(f"the model catalog {path}: {where}: {exc.message}") from None
    names = [m.name for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FailedPrecondition(f"the model catalog {path} lists {', '.join(duplicates)} twice")
    return models


def worker_models(path: Path = DEFAULT_CATALOG) -> list[str]:
    """The catalog's models a worker runs by name: all but the consensus models
    (a worker runs those with --consensus). By default the built-in models."""
    return [
        model.name
        for model in load(path, None)
        if any(v.backend_kind != "consensus" for v in model.versions)
    ]


def _model(entry: dict[str, Any], policy: BackendPolicy | None) -> CatalogModel:
    name = validation.model_name(str(entry.get("name", "")), "name")
    visibility = str(entry.get("visibility", "private"))
    if visibility not in _VISIBILITIES:
        raise InvalidArgument(f"visibility {visibility!r}: use public or private")
    versions = tuple(
        _version(_mapping(v, "a version"), policy) for v in _list(entry, "versions")
    )
    default = entry.get("default_version")
    if default is not None and str(default) not in {v.version for v in versions}:
        raise InvalidArgument(f"default_version {default!r} is not one of its versions")
    return CatalogModel(
        name=name,
        display_name=validation.text(
            str(entry.get("display_name", "")), "display_name", validation.MAX_DISPLAY_NAME
        ),
        description=validation.text(
            str(entry.get("description", "")), "description", validation.MAX_DESCRIPTION
        ),
        tags=tuple(validation.tags(str(t) for t in _list(entry, "tags"))),
        backend=validation.text(
            str(entry.get("backend", "")), "backend", validation.MAX_BACKEND_INFO
        ),
        public=_VISIBILITIES[visibility],
        owners=tuple(str(u) for u in _list(entry, "owners")),
        readers=tuple(str(u) for u in _list(entry, "readers")),
        default_version=None if default is None else str(default),
        versions=versions,
    )


def _version(entry: dict[str, Any], policy: BackendPolicy | None) -> CatalogVersion:
    version = validation.version_string(str(entry.get("version", "")), "version")
    backend = _mapping(entry.get("backend") or {}, "backend")
    kind = validation.backend_kind(str(backend.get("kind", "")))
    config = dict(_mapping(backend.get("config") or {}, "backend.config"))
    return CatalogVersion(
        version=version,
        backend_kind=kind,
        backend_config=validation.backend_config(kind, config, policy),
        input_schema=_schema(entry, "input_schema"),
        output_schema=_schema(entry, "output_schema"),
        notes=validation.text(str(entry.get("notes", "")), "notes", validation.MAX_NOTES),
    )


def _schema(entry: dict[str, Any], field: str) -> dict[str, Any]:
    return validation.json_schema(_mapping(entry.get(field) or {}, field), field)


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be a mapping, not {type(value).__name__}")
    return value


def _list(entry: dict[str, Any], field: str) -> list[Any]:
    value = entry.get(field) or []
    if not isinstance(value, list):
        raise InvalidArgument(f"{field} must be a list, not {type(value).__name__}")
    return value
