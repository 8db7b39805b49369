"""What a consensus model is made of: its children, its formula and its output field.

The definition is the `config` of a version whose backend kind is
"consensus", stored in the registry as JSON:

    {"children": [{"alias": "A", "model": "rdkit.logp", "version": "", "output": "logp"}, ...],
     "formula": "A <= 0 ? A + B : A * B",
     "output": "consensus"}

A definition that exists is well formed (every check runs on construction and
names the bad key path, "children[1].model is required"); whether its formula
parses and its children exist is for verify.py to say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from consensus.errors import DefinitionError
from consensus.formula import RESERVED_WORDS

MAX_CHILDREN = 64
MAX_FORMULA = 10_000
MODEL_NAME_MAX = 128
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
MODEL_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# The output record carries the children's provenance under this key.
PROVENANCE_KEY = "children"
MAX_YAML = 200_000
MAX_NESTING = 32
"""Levels of lists and mappings a document may nest; Algorithm 1 needs three."""
# Algorithm 1 as printed wraps names and the formula in typographic quotes.
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u201d": "\u201d", "\u2018": "\u2019"}


@dataclass(frozen=True)
class Child:
    """One child model of a consensus model, under the alias its formula uses."""

    alias: str  # the name the formula uses, matched case-insensitively
    model: str  # the child model's registry name
    version: str = ""  # "" means the version resolved when the job runs
    output: str = ""  # "" means the child's single numeric output field
    backend: str = ""  # informative only (Algorithm 1's BACKEND)


@dataclass(frozen=True)
class ConsensusDefinition:
    """A consensus model's children, formula and output field; well formed once built."""

    children: tuple[Child, ...]
    formula: str
    output: str = "consensus"

    def __post_init__(self) -> None:
        if isinstance(self.children, list):
            object.__setattr__(self, "children", tuple(self.children))
        _check_children(self.children)
        if not isinstance(self.formula, str) or not self.formula.strip():
            raise DefinitionError("formula is required")
        if len(self.formula) > MAX_FORMULA:
            raise DefinitionError(f"formula is longer than {MAX_FORMULA} characters")
        _check_output_field(self.output, "output")

    def child(self, alias: str) -> Child:
        """The child with this alias, matched case-insensitively."""
        folded = alias.casefold()
        for child in self.children:
            if child.alias.casefold() == folded:
                return child
        raise KeyError(alias)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConsensusDefinition:
        """Read a backend config; DefinitionError names the bad key path."""
        if not isinstance(config, Mapping):
            raise DefinitionError("the consensus config must be an object")
        _refuse_unknown(config, {"children", "formula", "output"}, "")
        children = config.get("children")
        if not isinstance(children, list) or not children:
            raise DefinitionError("children is required: a non-empty list")
        return cls(
            children=tuple(_child_from_config(c, f"children[{i}]") for i, c in enumerate(children)),
            formula=_string(config, "formula", "", required=True),
            output=_string(config, "output", "", default="consensus"),
        )

    def to_config(self) -> dict[str, Any]:
        """The definition as the backend config the registry stores."""
        return {
            "children": [_child_to_config(child) for child in self.children],
            "formula": self.formula,
            "output": self.output,
        }


def check_model_name(name: Any, path: str) -> str:
    """`name` if it is a registry model name, else DefinitionError naming `path`."""
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"{path} is required")
    if len(name) > MODEL_NAME_MAX or not MODEL_NAME.fullmatch(name):
        raise DefinitionError(
            f"{path} {name!r} is not a model name: lowercase letters, digits and '-' "
            "in dot-separated labels, e.g. 'rdkit.logp'"
        )
    return name


def _child_from_config(raw: Any, path: str) -> Child:
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{path} must be an object")
    _refuse_unknown(raw, {"alias", "model", "version", "output", "backend"}, path)
    return Child(
        alias=_string(raw, "alias", path, required=True),
        model=_string(raw, "model", path, required=True),
        version=_string(raw, "version", path),
        output=_string(raw, "output", path),
        backend=_string(raw, "backend", path),
    )


def _child_to_config(child: Child) -> dict[str, str]:
    config = {
        "alias": child.alias,
        "model": child.model,
        "version": child.version,
        "output": child.output,
    }
    if child.backend:
        config["backend"] = child.backend
    return config


def _check_children(children: tuple[Child, ...]) -> None:
    if not isinstance(children, tuple) or not children:
        raise DefinitionError("children is required: at least one child")
    if len(children) > MAX_CHILDREN:
        raise DefinitionError(f"children has {len(children)} entries, at most {MAX_CHILDREN}")
    seen: dict[str, str] = {}
    for index, child in enumerate(children):
        path = f"children[{index}]"
        _check_child(child, path)
        folded = child.alias.casefold()
        if folded in seen:
            raise DefinitionError(
                f"{path}.alias {child.alias!r} repeats {seen[folded]!r} "
                "(aliases are case-insensitive)"
            )
        seen[folded] = child.alias


def _check_child(child: Child, path: str) -> None:
    if not isinstance(child, Child):
        raise DefinitionError(f"{path} must be a Child")
    if not child.alias:
        raise DefinitionError(f"{path}.alias is required")
    if not isinstance(child.alias, str) or not IDENTIFIER.fullmatch(child.alias):
        raise DefinitionError(
            f"{path}.alias {child.alias!r} is not an identifier: a letter or '_', "
            "then letters, digits or '_', at most 64"
        )
    if child.alias.lower() in RESERVED_WORDS:
        raise DefinitionError(f"{path}.alias {child.alias!r} is a reserved word")
    check_model_name(child.model, f"{path}.model")
    if child.version and not VERSION.fullmatch(child.version):
        raise DefinitionError(f"{path}.version {child.version!r} is not a version")
    if child.output:
        _check_output_field(child.output, f"{path}.output")
    if not isinstance(child.backend, str) or len(child.backend) > 200:
        raise DefinitionError(f"{path}.backend must be text of at most 200 characters")


def _check_output_field(name: Any, path: str) -> None:
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"{path} is required")
    if len(name) > 128 or not name.isprintable():
        raise DefinitionError(f"{path} {name!r} is not a field name")
    if path == "output" and name == PROVENANCE_KEY:
        raise DefinitionError(
            f"output cannot be {PROVENANCE_KEY!r}: it holds the children's values"
        )


def _string(
    raw: Mapping[str, Any], key: str, path: str, *, required: bool = False, default: str = ""
) -> str:
    where = f"{path}.{key}" if path else key
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise DefinitionError(f"{where} is required")
        return default
    if not isinstance(value, str):
        raise DefinitionError(f"{where} must be a string, not {type(value).__name__}")
    return value


def _refuse_unknown(raw: Mapping[str, Any], known: set[str], path: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        where = f"{path}: " if path else ""
        raise DefinitionError(
            f"{where}unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


@dataclass(frozen=True)
class Algorithm1Document:
    """A consensus model read from the paper's Algorithm 1 YAML."""

    name: str
    definition: ConsensusDefinition
    description: str = ""


def from_algorithm1_yaml(text: str) -> tuple[str, ConsensusDefinition]:
    """(consensus model name, definition) from Algorithm 1's YAML; DefinitionError names the key."""
    document = load_algorithm1(text)
    return document.name, document.definition


def load_algorithm1(text: str) -> Algorithm1Document:
    """Read the paper's Algorithm 1 as written, plus optional VERSION, OUTPUT and DESCRIPTION.

    Keys are case-insensitive. Every scalar is read as a string (PyYAML's
    BaseLoader, which like safe_load builds only plain data), so `VERSION: 1.10`
    stays "1.10". One level of quotes around names and the formula is removed,
    as the paper's folded FORMULA block keeps its quotes in the text.
    """
    if len(text) > MAX_YAML:
        raise DefinitionError(f"the document is longer than {MAX_YAML} characters")
    too_deep = f"the document nests deeper than {MAX_NESTING} levels"
    if _flow_depth(text) > MAX_NESTING:
        raise DefinitionError(too_deep)  # before PyYAML, whose reader recurses per level
    try:
        document = yaml.load(text, Loader=yaml.BaseLoader)  # plain data only, like safe_load
    except yaml.YAMLError as error:
        raise DefinitionError(f"not YAML: {error}") from None
    except RecursionError:  # block nesting: bounded by MAX_YAML, yet deep enough
        raise DefinitionError(too_deep) from None
    if _depth(document) > MAX_NESTING:
        raise DefinitionError(too_deep)
    if not isinstance(document, dict) or len(document) != 1:
        raise DefinitionError("the document must hold exactly one consensus model: NAME: {...}")
    [(raw_name, body)] = document.items()
    name = _unquote(str(raw_name)).lower()
    check_model_name(name, "the consensus model name")
    fields = _fold(body, str(raw_name), {"childmodels", "formula", "output", "description"})
    path = str(raw_name)
    formula = _unquote(_text(fields, "formula", path, required=True).strip())
    children = _yaml_children(fields, path)
    output = _text(fields, "output", path) or "consensus"
    try:
        definition = ConsensusDefinition(children, formula, output)
    except DefinitionError as error:
        raise DefinitionError(f"{path}: {error}") from None
    return Algorithm1Document(name, definition, _text(fields, "description", path))


def _yaml_children(fields: dict[str, tuple[str, Any]], path: str) -> tuple[Child, ...]:
    key, raw = fields.get("childmodels", ("CHILDMODELS", None))
    where = f"{path}.{key}"
    if not isinstance(raw, dict) or not raw:
        raise DefinitionError(f"{where} is required: a mapping of alias to child model")
    children: list[Child] = []
    seen: dict[str, str] = {}
    for alias, body in raw.items():
        child_path = f"{where}.{alias}"
        fields = _fold(body, child_path, {"name", "backend", "version", "output"})
        model = _unquote(_text(fields, "name", child_path, required=True)).lower()
        check_model_name(model, f"{child_path}.{fields['name'][0]}")
        child = Child(
            alias=str(alias),
            model=model,
            version=_text(fields, "version", child_path),
            output=_text(fields, "output", child_path),
            backend=_text(fields, "backend", child_path),
        )
        _check_child(child, child_path)
        if str(alias).casefold() in seen:
            raise DefinitionError(
                f"{child_path} repeats {where}.{seen[str(alias).casefold()]} "
                "(aliases are case-insensitive)"
            )
        seen[str(alias).casefold()] = str(alias)
        children.append(child)
    return tuple(children)


def _fold(raw: Any, path: str, known: set[str]) -> dict[str, tuple[str, Any]]:
    """Key (lowercased) -> (key as written, value); refuses unknown and repeated keys."""
    if not isinstance(raw, dict):
        raise DefinitionError(f"{path} must be a mapping")
    folded: dict[str, tuple[str, Any]] = {}
    for key, value in raw.items():
        lower = str(key).lower()
        if lower not in known:
            raise DefinitionError(
                f"{path}.{key} is not a known key; known: "
                f"{', '.join(sorted(k.upper() for k in known))}"
            )
        if lower in folded:
            raise DefinitionError(f"{path}.{key} repeats {path}.{folded[lower][0]}")
        folded[lower] = (str(key), value)
    return folded


def _text(
    fields: dict[str, tuple[str, Any]], key: str, path: str, *, required: bool = False
) -> str:
    written, value = fields.get(key, (key.upper(), None))
    if value is None or value == "":
        if required:
            raise DefinitionError(f"{path}.{written} is required")
        return ""
    if not isinstance(value, str):
        raise DefinitionError(f"{path}.{written} must be text, not a {type(value).__name__}")
    return value


def _unquote(text: str) -> str:
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def _flow_depth(text: str) -> int:
    """The deepest nesting of [ and { outside quotes: cheap, and enough to refuse a
    document built to exhaust the YAML reader's recursion."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _depth(value: object, level: int = 0) -> int:
    """How deep lists and mappings nest in plain YAML data (stops past MAX_NESTING)."""
    if level > MAX_NESTING or not isinstance(value, (dict, list)):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(item, level + 1) for item in items), default=level + 1)
