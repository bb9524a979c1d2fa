"""List queries: ``filter``, ``orderby``, ``select``, ``top``/``skip`` (no ``$`` prefix;
docs/reference/sparebank1.md §3.2).

Filter grammar (the subset the filtering guide names): comparisons ``Field op literal`` with ``eq ne gt lt ge
le``, the functions ``contains(F,'x')``, ``startswith(F,'x')``, ``endswith(F,'x')``, joined by ``and`` /
``or`` with parentheses. Fields may be dotted into a relation (``Info.Name``). Literals: ``'text'`` (``''``
escapes a quote), integers, decimals, ``true``/``false``/``null``.

Platform behaviours reproduced on purpose:

- a filter naming a field the entity does not have is **ignored as a whole** ("A filter on a field that does
  not exist does not fail; it returns the collection unfiltered");
- string comparisons are case-insensitive (SQL Server's default collation [INF]);
- a literal is compared with the column's type (``ProjectNumber eq 1234`` matches ``'1234'``) [INF];
- ``$filter`` & co. are unknown parameters and therefore ignored, like any other unknown parameter.

A filter that does not parse answers 400 [INF: the real text is unknown].
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from emulators.sparebank1.errors import message_error

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<punct>[(),])|(?P<word>[A-Za-z_][\w.]*))"
)
COMPARATORS = {"eq", "ne", "gt", "lt", "ge", "le"}
FUNCTIONS = {"contains", "startswith", "endswith"}

Resolver = Callable[[dict[str, Any], str], Any]


class UnknownField(Exception):
    pass


class FilterSyntaxError(Exception):
    pass


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise FilterSyntaxError(f"unexpected text at {position}: {text[position : position + 20]!r}")
        position = match.end()
        if match.group("str") is not None:
            tokens.append(("lit", match.group("str")[1:-1].replace("''", "'")))
        elif match.group("num") is not None:
            raw = match.group("num")
            tokens.append(("lit", Decimal(raw) if "." in raw else int(raw)))
        elif match.group("punct") is not None:
            tokens.append((match.group("punct"), None))
        else:
            word = match.group("word")
            lower = word.lower()
            if lower in ("true", "false"):
                tokens.append(("lit", lower == "true"))
            elif lower == "null":
                tokens.append(("lit", None))
            elif lower in COMPARATORS or lower in ("and", "or", "not") or lower in FUNCTIONS:
                tokens.append((lower, None))
            else:
                tokens.append(("field", word))
    return tokens


class _Parser:
    """Recursive descent to tuples: ("and"|"or", a, b), ("cmp", op, field, lit), ("fn", name, f, lit)."""

    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def take(self, kind: str) -> Any:
        if self.peek() != kind:
            raise FilterSyntaxError(f"expected {kind}, found {self.peek()}")
        value = self.tokens[self.at][1]
        self.at += 1
        return value

    def parse(self) -> tuple:
        tree = self.disjunction()
        if self.peek() is not None:
            raise FilterSyntaxError(f"unexpected {self.peek()}")
        return tree

    def disjunction(self) -> tuple:
        tree = self.conjunction()
        while self.peek() == "or":
            self.take("or")
            tree = ("or", tree, self.conjunction())
        return tree

    def conjunction(self) -> tuple:
        tree = self.atom()
        while self.peek() == "and":
            self.take("and")
            tree = ("and", tree, self.atom())
        return tree

    def atom(self) -> tuple:
        kind = self.peek()
        if kind == "(":
            self.take("(")
            tree = self.disjunction()
            self.take(")")
            return tree
        if kind in FUNCTIONS:
            self.take(kind)
            self.take("(")
            field_name = self.take("field")
            self.take(",")
            literal = self.take("lit")
            self.take(")")
            return ("fn", kind, field_name, literal)
        field_name = self.take("field")
        op = self.peek()
        if op not in COMPARATORS:
            raise FilterSyntaxError(f"expected a comparison after {field_name}")
        self.take(op)
        return ("cmp", op, field_name, self.take("lit"))


def parse_filter(text: str) -> tuple:
    try:
        return _Parser(_tokenize(text)).parse()
    except FilterSyntaxError as exc:
        raise message_error(400, f"Invalid filter: {exc}") from exc


def fields_of(tree: tuple) -> list[str]:
    if tree[0] in ("and", "or"):
        return fields_of(tree[1]) + fields_of(tree[2])
    return [tree[2]]


def _comparable(value: Any, literal: Any) -> tuple[Any, Any]:
    """Bring a column value and a literal to one type (SQL-style implicit conversion)."""
    if value is None or literal is None:
        return value, literal
    if isinstance(value, bool) or isinstance(literal, bool):
        return value, literal
    if isinstance(value, int | Decimal) and isinstance(literal, str):
        try:
            return Decimal(value), Decimal(literal)
        except InvalidOperation:
            return str(value), literal
    if isinstance(value, str) and isinstance(literal, int | Decimal):
        return value.casefold(), str(literal).casefold()
    if isinstance(value, str) and isinstance(literal, str):
        return value.casefold(), literal.casefold()
    if isinstance(value, int | Decimal) and isinstance(literal, int | Decimal):
        return Decimal(value), Decimal(literal)
    return value, literal


def _matches(tree: tuple, record: dict[str, Any], resolve: Resolver) -> bool:
    kind = tree[0]
    if kind == "and":
        return _matches(tree[1], record, resolve) and _matches(tree[2], record, resolve)
    if kind == "or":
        return _matches(tree[1], record, resolve) or _matches(tree[2], record, resolve)
    value, literal = _comparable(resolve(record, tree[2]), tree[3])
    if kind == "fn":
        if not isinstance(value, str) or not isinstance(literal, str):
            return False
        return {
            "contains": literal in value,
            "startswith": value.startswith(literal),
            "endswith": value.endswith(literal),
        }[tree[1]]
    op = tree[1]
    if op == "eq":
        return value == literal
    if op == "ne":
        return value != literal
    if value is None or literal is None:
        return False
    try:
        return {"gt": value > literal, "lt": value < literal, "ge": value >= literal, "le": value <= literal}[
            op
        ]
    except TypeError:
        return False


def apply_query(
    records: list[dict[str, Any]],
    query: dict[str, list[str]],
    *,
    knows_field: Callable[[str], bool],
    resolve: Resolver,
    default_page_size: int,
) -> list[dict[str, Any]]:
    """Filter, order and page stored (flat) records; ``select`` is applied later, on the rendered rows."""
    text = _first(query, "filter")
    if text and text.strip():
        tree = parse_filter(text)
        # An unknown field anywhere drops the whole filter ("returns the collection unfiltered").
        if all(knows_field(name) for name in fields_of(tree)):
            records = [record for record in records if _matches(tree, record, resolve)]
    order = _first(query, "orderby")
    if order:
        for clause in reversed([part.strip() for part in order.split(",") if part.strip()]):
            name, _, direction = clause.partition(" ")
            if not knows_field(name):
                continue
            records = sorted(
                records,
                key=lambda record, name=name: _sort_key(resolve(record, name)),
                reverse=direction.strip().lower() == "desc",
            )
    skip = _int_param(query, "skip", 0)
    top = _int_param(query, "top", default_page_size)
    return records[skip : skip + top]


def select_fields(row: dict[str, Any], select: str | None) -> dict[str, Any]:
    if not select:
        return row
    wanted = [name.strip() for name in select.split(",") if name.strip()]
    # "Field as Alias" is the statistics syntax; accept it here too.
    picked: dict[str, Any] = {}
    for spec in wanted:
        name, _, alias = spec.partition(" as ")
        name = name.strip()
        if name in row:
            picked[(alias or name).strip()] = row[name]
    return picked


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (2, value.casefold())
    return (1, value)


def _first(query: dict[str, list[str]], name: str) -> str | None:
    for key, values in query.items():
        if key.lower() == name and values:
            return values[0]
    return None


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    raw = _first(query, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise message_error(400, f"Invalid value for {name}: {raw!r}") from exc
    return max(value, 0)
