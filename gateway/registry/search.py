"""SearchModels: free-text search over the models a caller may read.

The search document of each model lives in model_search (migration 0008). A
query is ranked by ts_rank over websearch_to_tsquery; when that finds
nothing it falls back to trigram word similarity (pg_trgm) or, in a database
without pg_trgm, to prefixes of the query's words, so a typo still finds its
model. Every ranking feature is computed from the hit's own row, and the
candidates are narrowed to the readable models before anything is ranked, so a
model the caller may not read can neither appear nor move another hit.

Pages are keyset pages on (score, name), in a token bound to the query, its
filters and the matching mode of its first page.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from authz.enforcer import AccessPolicy
from authz.principal import Principal
from gateway import paging
from gateway.errors import InvalidArgument
from gateway.registry import requests, store, validation
from gateway.registry._search_sql import FIELDS, Mode, details_sql, hits_sql
from gateway.registry.store import ModelRow
from modelgateway.v1 import registry_pb2

MAX_QUERY = 500
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_TOKEN_KIND = "search"
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchQuery:
    """A validated SearchModels request."""

    q: str
    tags: list[str]
    owner: str
    backend_kind: str
    page_size: int
    page_token: str

    def fingerprint(self) -> str:
        """What a page token is bound to: the query and its filters, not the page size."""
        raw = json.dumps([self.q, sorted(self.tags), self.owner, self.backend_kind])
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Hit:
    """One model that matched, with its score, snippet and matched fields."""

    row: ModelRow
    score: float
    snippet: str
    matched_fields: list[str]


@dataclass(frozen=True)
class Page:
    """One page of hits, best first, and the next page's token ('' on the last)."""

    hits: list[Hit]
    next_page_token: str


def parse(request: registry_pb2.SearchModelsRequest) -> SearchQuery:
    """The request checked: INVALID_ARGUMENT says which field to fix and how."""
    q = validation.text(request.q, "q", MAX_QUERY).strip()
    size = request.page_size
    if size < 0 or size > MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"page_size {size} is out of range: use 1 to {MAX_PAGE_SIZE}, "
            f"or 0 for {DEFAULT_PAGE_SIZE}"
        )
    kind = request.backend_kind
    if kind and kind not in validation.VERSION_KINDS:
        raise InvalidArgument(
            f"backend_kind {kind[:40]!r} is unknown: use one of "
            f"{', '.join(sorted(validation.VERSION_KINDS))}, or leave it empty"
        )
    tags = list(request.tags)
    if tags:
        tags = validation.tags(tags)
    owner = requests.user(request.owner) if request.owner else ""
    return SearchQuery(q, tags, owner, kind, size or DEFAULT_PAGE_SIZE, request.page_token)


def candidates(access: AccessPolicy, who: Principal, owner: str) -> list[str] | None:
    """The models the search may consider: those who may read (None: all), narrowed
    to those owner owns when an owner is asked for."""
    readable = access.readable_models(who)
    if not owner:
        return None if readable is None else sorted(readable)
    owned = access.readable_models(Principal(user=owner)) or frozenset()
    if readable is not None:
        owned = owned & readable
    return sorted(n for n in owned if owner in access.access_of(n).owners)


async def search(
    conn: asyncpg.Connection,
    query: SearchQuery,
    only: list[str] | None,
    fallback: Mode | None = None,
) -> Page:
    """One page of the hits of query among the models in only (None: all).

    fallback is the mode tried when full text finds nothing; None: FUZZY where
    pg_trgm is installed, else PREFIX.

    The statements run with generic plans: PostgreSQL's cost model does not see
    what word_similarity costs per row, so a custom plan for a one-word typo
    may scan all of model_search computing it (150 ms at 10,000 models) where
    the generic plan, not knowing the word, always takes the trigram index;
    the same holds for the full-text index, and no statement is planned twice.
    """
    async with conn.transaction(readonly=True):
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        return await _search(conn, query, only, fallback)


async def _search(
    conn: asyncpg.Connection, query: SearchQuery, only: list[str] | None, fallback: Mode | None
) -> Page:
    fingerprint = query.fingerprint()
    mode, after = _cursor(query, fingerprint)
    if mode is None:
        mode = Mode.ALL if not query.q else Mode.TEXT
        rows = await _hits(conn, mode, query, only, after)
        if not rows and mode is Mode.TEXT:
            mode = fallback or await _fallback_mode(conn)
            rows = await _hits(conn, mode, query, only, after)
    else:
        rows = await _hits(conn, mode, query, only, after)
    page = rows[: query.page_size]
    hits = await _details(conn, mode, query, page)
    token = ""
    if len(rows) > query.page_size:
        last = page[-1]
        token = paging.encode(_TOKEN_KIND, [fingerprint, mode.value, last[1], last[0]])
    return Page(hits, token)


def _cursor(query: SearchQuery, fingerprint: str) -> tuple[Mode | None, tuple[float, str] | None]:
    """The mode and last (score, name) a page token carries; (None, None) for none."""
    cursor = paging.decode(_TOKEN_KIND, query.page_token, [])
    if not query.page_token:
        return None, None
    if (
        len(cursor) == 4
        and cursor[0] == fingerprint
        and cursor[1] in Mode.values()
        and isinstance(cursor[2], (int, float))
        and not isinstance(cursor[2], bool)
        and isinstance(cursor[3], str)
    ):
        return Mode(cursor[1]), (float(cursor[2]), cursor[3])
    raise InvalidArgument(
        "malformed page_token: it is not one this search issued; pass next_page_token from a "
        "search with the same q, tags, owner and backend_kind, or empty for the first page"
    )


async def _fallback_mode(conn: asyncpg.Connection) -> Mode:
    has_trigrams = await conn.fetchval(
        "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm')"
    )
    return Mode.FUZZY if has_trigrams else Mode.PREFIX


def _term(mode: Mode, q: str) -> str:
    """The query text as the mode's SQL takes it ($1)."""
    if mode is not Mode.PREFIX:
        return q
    # Only letters and digits reach to_tsquery: no operator can be smuggled in.
    words = [w.lower() for w in _WORD.findall(q)][:32]
    return " | ".join(f"{w[: max(3, (len(w) * 2 + 2) // 3)]}:*" for w in words)


async def _hits(
    conn: asyncpg.Connection,
    mode: Mode,
    query: SearchQuery,
    only: list[str] | None,
    after: tuple[float, str] | None,
) -> list[tuple[str, float]]:
    term = _term(mode, query.q)
    if mode is Mode.PREFIX and not term:
        return []
    args: list[Any] = [term]
    if only is not None:
        args.append(only)
    if query.tags:
        args.append(query.tags)
    if query.backend_kind:
        args.append(query.backend_kind)
    if after is not None:
        args += after
    sql = hits_sql(mode, only is not None, bool(query.tags), bool(query.backend_kind), bool(after))
    records = await conn.fetch(sql, *args, query.page_size + 1)
    return [(str(r["model"]), float(r["score"])) for r in records]


async def _details(
    conn: asyncpg.Connection, mode: Mode, query: SearchQuery, page: list[tuple[str, float]]
) -> list[Hit]:
    if not page:
        return []
    names = [name for name, _ in page]
    rows = await store.models_named(conn, names)
    records = await conn.fetch(details_sql(mode), _term(mode, query.q), names)
    details = {str(r["model"]): r for r in records}
    hits = []
    verdicts: dict[str, bool] = {}
    for name, score in page:
        if name not in rows or name not in details:
            continue  # deleted between the two reads
        detail = details[name]
        matched = [f for f, hit in zip(FIELDS, detail["matched"], strict=True) if hit]
        snippet = str(detail["snippet"])
        if mode is Mode.FUZZY:
            snippet = _window(mark_similar(snippet, query.q, verdicts))
        hits.append(Hit(rows[name], score, snippet, matched))
    return hits


def mark_similar(text: str, q: str, verdicts: dict[str, bool] | None = None) -> str:
    """text with the words close to a word of q (a typo apart) between [ and ].

    verdicts remembers, across the passages of a page, which words were close:
    passages repeat their words, and an edit distance in Python is slow.
    """
    wanted = {w.lower() for w in _WORD.findall(q)}
    verdicts = {} if verdicts is None else verdicts

    def close(word: str) -> bool:
        lowered = word.lower()
        if lowered not in verdicts:
            verdicts[lowered] = any(_similar(lowered, w) for w in wanted)
        return verdicts[lowered]

    return _WORD.sub(lambda m: f"[{m.group()}]" if close(m.group()) else m.group(), text)


def _window(text: str, width: int = 240) -> str:
    """About width characters of text around its first marked word."""
    start = max(0, text.find("[") - width // 4)
    if start:
        start = text.find(" ", start) + 1
    end = min(len(text), start + width)
    if end < len(text):
        end = max(text.rfind(" ", start, end), text.find("]", start) + 1)
    return text[start:end]


def _similar(word: str, wanted: str) -> bool:
    if word == wanted:
        return True
    if min(len(word), len(wanted)) < 4 or abs(len(word) - len(wanted)) > 2:
        return False
    most = max(1, len(wanted) // 4)
    # Each edit changes the set of letters by at most two: a cheap way out.
    if len(set(word) ^ set(wanted)) > 2 * most:
        return False
    return _edit_distance(word, wanted) <= most


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def hit_message(hit: Hit, model: Any) -> registry_pb2.SearchHit:
    """The SearchHit of hit, with model already rendered as GetModel renders it."""
    return registry_pb2.SearchHit(
        model=model, score=hit.score, snippet=hit.snippet, matched_fields=hit.matched_fields
    )
