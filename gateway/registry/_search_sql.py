"""The SQL of SearchModels, one statement per matching mode.

The only text spliced into these statements comes from the fixed tables below;
caller input always travels as parameters: $1 the query text as the mode takes
it, then those of the filters a request has (see hits_sql).
"""

from __future__ import annotations

import enum
import functools


class Mode(enum.Enum):
    """How a search matches: every model, full text, trigram similarity, or prefixes."""

    ALL = "all"
    TEXT = "text"
    FUZZY = "fuzzy"
    PREFIX = "prefix"

    @classmethod
    def values(cls) -> frozenset[str]:
        """The modes' names, as page tokens carry them."""
        return frozenset(m.value for m in cls)


FIELDS = ("name", "display_name", "description", "tags", "input_schema", "output_schema")
"""The matched_fields a hit may name, in the order of _COLUMNS."""

_COLUMNS = ("name_words", "display", "description", "tags", "input", "output")

# mode -> the FROM list: the tsquery is a FROM item, q, so that a generic plan
# parses $1 once per statement, not once per candidate row and use.
_FROM = {
    Mode.ALL: "{table} s",
    Mode.TEXT: "websearch_to_tsquery('english', $1::text) q, {table} s",
    Mode.FUZZY: "{table} s",
    Mode.PREFIX: "to_tsquery('simple', $1::text) q, {table} s",
}

# mode -> (what a row must match, its score); each depends on that row alone.
_MATCH = {
    Mode.ALL: ("$1::text = ''", "0::float8"),
    Mode.TEXT: ("s.document @@ q", "ts_rank(s.document, q)::float8"),
    Mode.FUZZY: ("$1::text <% s.title", "word_similarity($1::text, s.title)::float8"),
    Mode.PREFIX: ("s.document @@ q", "ts_rank(s.document, q)::float8"),
}

# mode -> whether column {c}, whose tsvector is s.fields[{i}], matched.
_FIELD_MATCH = {
    Mode.ALL: "false",
    Mode.TEXT: "s.fields[{i}] @@ q",
    Mode.FUZZY: "$1::text <% s.{c}",
    Mode.PREFIX: "s.fields[{i}] @@ q",
}

_PASSAGE = (
    "concat_ws(' · ', nullif(s.display, ''), nullif(s.description, ''),"
    " nullif(s.tags, ''), nullif(s.input, ''), nullif(s.output, ''))"
)
_HEADLINE = (
    "'StartSel=[, StopSel=], MaxWords=30, MinWords=10, ShortWord=2,"
    ' MaxFragments=2, FragmentDelimiter=" ... "\''
)

# mode -> the snippet; FUZZY's is marked in Python (gateway.registry.search).
_SNIPPET = {
    Mode.ALL: "left(s.description, 200)",
    Mode.TEXT: f"ts_headline('english', {_PASSAGE}, q, {_HEADLINE})",
    Mode.FUZZY: f"left({_PASSAGE}, 2000)",
    Mode.PREFIX: f"ts_headline('simple', {_PASSAGE}, q, {_HEADLINE})",
}


@functools.cache
def hits_sql(mode: Mode, only: bool, tags: bool, kind: bool, after: bool) -> str:
    """One page of (model, score), best first: $1 the term, then, for each filter
    present, its parameter in the order only (names), tags, kind, after (score,
    name), then the limit.

    One statement per combination of filters, none of them `$n IS NULL OR ...`,
    so that the generic plan PostgreSQL settles on after five executions of a
    prepared statement still drives from the mode's index.
    """
    match, score = _MATCH[mode]
    where, n = [match], 1
    if only:
        n += 1
        where.append(f"s.model = ANY(${n}::text[])")
    if tags:
        n += 1
        where.append(f"s.tag_list @> ${n}::text[]")
    if kind:
        n += 1
        where.append(f"${n}::text = ANY(s.kinds)")
    cursor = "true"
    if after:
        n += 2
        score_after, name_after = f"${n - 1}::float8", f"${n}::text"
        cursor = f"h.score < {score_after} OR (h.score = {score_after} AND h.model > {name_after})"
    return f"""
SELECT h.model, h.score FROM (
    SELECT s.model, {score} AS score
      FROM {_FROM[mode].format(table="model_search")}
     WHERE {" AND ".join(where)}
) h
WHERE {cursor}
ORDER BY h.score DESC, h.model
LIMIT ${n + 1}
"""


@functools.cache
def details_sql(mode: Mode) -> str:
    """For the models named in $2: which fields matched, and the snippet."""
    matched = ", ".join(
        _FIELD_MATCH[mode].format(c=c, i=i) for i, c in enumerate(_COLUMNS, start=1)
    )
    return f"""
SELECT s.model, ARRAY[{matched}] AS matched, {_SNIPPET[mode]} AS snippet
  FROM {_FROM[mode].format(table="model_search_text")}
 WHERE s.model = ANY($2::text[]) AND ($1::text IS NOT NULL)
"""
