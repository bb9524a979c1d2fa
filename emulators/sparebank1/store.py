"""Per-company tables and the generic nested write / render engine.

Records are stored flat (scalars and foreign keys only, PascalCase keys) per company and entity type; the
nested JSON the API speaks is produced by ``render`` and consumed by ``Writer.save``.

Write rules (docs/reference/sparebank1.md §3.3):

- a nested object with ``ID > 0`` updates that row (it must belong to the parent); with ``"Deleted": true``
  it is soft-deleted;
- a nested object without an ID is a new row; during a PUT it must carry ``_createguid`` ("creating new
  entities in a PUT is not allowed unless _createguid property is specified");
- the same ``_createguid`` twice in one payload is one row (``Info.DefaultPhone`` and ``Info.Phones[0]``);
- a ``_createguid`` already saved by an earlier request is never inserted again: by default the write fails
  ("If the same subentity is saved twice, an error will occur"), or with ``createguid_replay="reuse"`` the
  existing row is linked instead; the top-level object's ``_createguid`` is only checked when
  ``dedupe_top_level_createguid`` (undocumented);
- leaving a child out of a PUT's array does not delete it; fields absent from a PUT keep their value;
- a dangling foreign key fails with the 500 of ``errors.foreign_key_error``.

The caller snapshots the company before a write and restores it when the write raises: a failed request
changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from emulators.sparebank1.errors import BizError, Problem, foreign_key_error, invalid, validation_error
from emulators.sparebank1.schema import BOOL, DATE, DEC, ENTITIES, INT, STR, EntityType

USER = "momentsync-emulator"


@dataclass
class Behaviour:
    """Knobs for the points docs/reference/sparebank1.md leaves open (see README "Uncertain")."""

    createguid_replay: str = "error"  # "error" | "reuse"
    createguid_replay_status: int = 400
    dedupe_top_level_createguid: bool = False
    keep_client_invoice_number: bool = False
    honour_client_journal_entry_number: bool = True
    draft_line_amounts_include_vat: bool = True
    customer_number_range: tuple[int, int] | None = (100000, 199999)
    default_page_size: int = 100


@dataclass
class Company:
    id: int
    key: str
    name: str
    org_number: str
    is_test: bool
    created_at: str
    tables: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    createguids: dict[str, tuple[str, int]] = field(default_factory=dict)
    # Number series: next customer number, next invoice number, next journal entry number per year.
    counters: dict[str, int] = field(default_factory=dict)

    def table(self, entity: str) -> dict[int, dict[str, Any]]:
        return self.tables.setdefault(entity, {})

    def new_id(self, entity: str) -> int:
        # Per-entity IDs start at odd offsets so an ID is never mistaken for a number (AccountID 283 ≠ 3000).
        start = {"Account": 200, "VatType": 10, "CurrencyCode": 1}.get(entity, 1)
        value = self.next_ids.get(entity, start)
        self.next_ids[entity] = value + 1
        return value

    def get(self, entity: str, record_id: Any, *, include_deleted: bool = False) -> dict[str, Any] | None:
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            return None
        record = self.table(entity).get(record_id)
        if record is None or (record.get("Deleted") and not include_deleted):
            return None
        return record

    def rows(self, entity: str) -> list[dict[str, Any]]:
        return [r for _, r in sorted(self.table(entity).items()) if not r.get("Deleted")]

    def insert(self, entity: str, values: dict[str, Any], now: str) -> dict[str, Any]:
        etype = ENTITIES[entity]
        record: dict[str, Any] = {name: None for name in etype.fields}
        record.update(values)
        record["ID"] = self.new_id(entity)
        record["Deleted"] = bool(record.get("Deleted"))
        record["CreatedAt"] = record["UpdatedAt"] = now
        record["CreatedBy"] = record["UpdatedBy"] = USER
        self.table(entity)[record["ID"]] = record
        return record

    def snapshot(self) -> tuple[Any, ...]:
        return copy.deepcopy((self.tables, self.next_ids, self.createguids, self.counters))

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.tables, self.next_ids, self.createguids, self.counters = snap


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def coerce(entity: str, name: str, kind: str, max_length: int | None, value: Any) -> Any:
    """A client value as the stored type; raises a 400 naming the property when it does not fit."""
    if value is None:
        return None
    try:
        if kind == STR:
            if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
                raise ValueError
            text = str(value)
            if max_length is not None and len(text) > max_length:
                raise invalid(entity, name, f"{name} is longer than {max_length} characters")
            return text
        if kind == INT:
            if isinstance(value, bool):
                raise ValueError
            number = Decimal(str(value).strip())
            if number != number.to_integral_value() or abs(number) > 2**31 - 1:
                raise ValueError
            return int(number)
        if kind == DEC:
            if isinstance(value, bool):
                raise ValueError
            return Decimal(str(value).strip())
        if kind == BOOL:
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind == DATE:
            text = str(value)[:10]
            datetime.strptime(text, "%Y-%m-%d")
            return text
    except (ValueError, InvalidOperation, TypeError) as exc:
        raise invalid(entity, name, f"Could not convert {value!r} to the type of {name}") from exc
    return value


@dataclass
class WriteContext:
    is_update: bool
    guids_this_request: dict[str, tuple[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    touched: list[tuple[str, int]] = field(default_factory=list)


Hook = Callable[[Company, dict[str, Any], dict[str, Any], WriteContext], None]


class Writer:
    """Saves a nested payload into a company's flat tables; ``hooks`` run per saved record (rules, sums)."""

    def __init__(self, behaviour: Behaviour, hooks: dict[str, Hook], clock: Callable[[], str]) -> None:
        self.behaviour = behaviour
        self.hooks = hooks
        self.clock = clock

    def save_top(
        self, company: Company, entity: str, payload: Any, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise invalid(entity, "", f"Expected a JSON object for {entity}")
        ctx = WriteContext(is_update=existing is not None)
        guid = payload.get("_createguid")
        if existing is None and guid and self.behaviour.dedupe_top_level_createguid:
            self._refuse_replayed(company, entity, guid, payload)
        record = self.save(company, entity, payload, existing, ctx, top=True)
        if ctx.problems:
            raise validation_error(ctx.problems, payload)
        return record

    def save(
        self,
        company: Company,
        entity: str,
        payload: dict[str, Any],
        existing: dict[str, Any] | None,
        ctx: WriteContext,
        *,
        top: bool = False,
        stamp: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        etype = ENTITIES[entity]
        now = self.clock()
        if existing is None:
            guid = payload.get("_createguid") or None
            if guid and guid in ctx.guids_this_request:
                same_entity, same_id = ctx.guids_this_request[guid]
                record = company.table(same_entity)[same_id]
                if stamp:
                    record.update({k: v for k, v in stamp.items() if record.get(k) is None})
                return record
            if guid and not top:
                reused = self._replayed_child(company, entity, guid, payload)
                if reused is not None:
                    return reused
            if ctx.is_update and not top and not guid:
                raise invalid(
                    entity,
                    "_createguid",
                    f"Creating new {entity} entities in a PUT is not allowed unless _createguid property is "
                    "specified",
                    payload,
                )
            record = company.insert(entity, {}, now)
            if guid:
                ctx.guids_this_request[guid] = (entity, record["ID"])
                if not top or self.behaviour.dedupe_top_level_createguid:
                    company.createguids[guid] = (entity, record["ID"])
        else:
            record = existing
            record["UpdatedAt"], record["UpdatedBy"] = now, USER
        if stamp:
            record.update(stamp)
        ctx.touched.append((entity, record["ID"]))
        for name, value in payload.items():
            if name in etype.relations or not etype.writable(name):
                continue
            kind, max_length = etype.fields[name]
            record[name] = coerce(entity, name, kind, max_length, value)
        self._save_relations(company, etype, payload, record, ctx)
        self._check_foreign_keys(company, etype, payload, record)
        hook = self.hooks.get(entity)
        if hook is not None:
            hook(company, record, payload, ctx)
        return record

    def _save_relations(
        self,
        company: Company,
        etype: EntityType,
        payload: dict[str, Any],
        record: dict[str, Any],
        ctx: WriteContext,
    ) -> None:
        for prop, rel in etype.relations.items():
            if not rel.owned or prop not in payload or payload[prop] is None:
                continue
            value = payload[prop]
            if rel.many:
                if not isinstance(value, list):
                    raise invalid(etype.name, prop, f"{prop} must be an array")
                for item in value:
                    self._save_child(company, rel.target, item, ctx, owner=(rel.back_fk, record["ID"]))
            else:
                if not isinstance(value, dict):
                    raise invalid(etype.name, prop, f"{prop} must be an object")
                owner = (rel.stamp_back_fk, record["ID"]) if rel.stamp_back_fk else None
                child = self._save_child(company, rel.target, value, ctx, owner=owner)
                if child is not None:
                    record[rel.fk] = None if child.get("Deleted") else child["ID"]

    def _save_child(
        self,
        company: Company,
        entity: str,
        item: Any,
        ctx: WriteContext,
        owner: tuple[str | None, int] | None,
    ) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            raise invalid(entity, "", f"Expected a JSON object for {entity}")
        child_id = item.get("ID") or 0
        stamp = {owner[0]: owner[1]} if owner and owner[0] else None
        if child_id:
            existing = company.get(entity, child_id)
            if existing is None:
                raise invalid(entity, "ID", f"{entity} with ID {child_id} does not exist", item)
            if owner and owner[0] and existing.get(owner[0]) not in (None, owner[1]):
                raise invalid(entity, "ID", f"{entity} {child_id} belongs to another parent", item)
            if item.get("Deleted") is True:
                existing["Deleted"] = True
                existing["UpdatedAt"] = self.clock()
                return existing
            return self.save(company, entity, item, existing, ctx, stamp=stamp)
        if item.get("Deleted") is True:
            return None
        return self.save(company, entity, item, None, ctx, stamp=stamp)

    def _replayed_child(
        self, company: Company, entity: str, guid: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        earlier = company.createguids.get(guid)
        if earlier is None:
            return None
        if self.behaviour.createguid_replay == "reuse":
            return company.table(earlier[0])[earlier[1]]
        self._refuse_replayed(company, entity, guid, payload)
        return None

    def _refuse_replayed(self, company: Company, entity: str, guid: str, payload: dict[str, Any]) -> None:
        if guid not in company.createguids:
            return
        error = invalid(
            entity, "_createguid", f"{entity} with _createguid {guid} has already been saved", payload
        )
        error.status = self.behaviour.createguid_replay_status
        raise error

    def _check_foreign_keys(
        self, company: Company, etype: EntityType, payload: dict[str, Any], record: dict[str, Any]
    ) -> None:
        for name, target in etype.fks.items():
            value = record.get(name)
            if value in (None, 0):
                record[name] = None if value == 0 else value
                continue
            if company.get(target, value) is None:
                raise foreign_key_error(etype.name, name, target, value)


# -- rendering -------------------------------------------------------------------------------------


def expand_tree(spec: str | None) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in (spec or "").split(","):
        node = tree
        for part in [p.strip() for p in path.strip().split(".") if p.strip()]:
            node = node.setdefault(part, {})
    return tree


def payload_tree(etype: EntityType, payload: Any) -> dict[str, Any]:
    """The owned relations a write payload carried (recursively): what the answer to the write echoes."""
    tree: dict[str, Any] = {}
    if not isinstance(payload, dict):
        return tree
    for prop, rel in etype.relations.items():
        value = payload.get(prop)
        if not rel.owned or value is None:
            continue
        target = ENTITIES[rel.target]
        sub: dict[str, Any] = {}
        for item in value if isinstance(value, list) else [value]:
            sub.update(payload_tree(target, item))
        tree[prop] = sub
    return tree


def render(company: Company, entity: str, record: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    etype = ENTITIES[entity]
    out: dict[str, Any] = {name: record.get(name) for name in etype.fields}
    for prop, rel in etype.relations.items():
        if prop not in tree:
            out[prop] = None  # navigation properties are null unless expanded [INF: Json.NET default]
            continue
        sub = tree[prop]
        if rel.fk:
            child = company.get(rel.target, record.get(rel.fk))
            out[prop] = render(company, rel.target, child, sub) if child else None
        else:
            children = [c for c in company.rows(rel.target) if c.get(rel.back_fk) == record["ID"]]
            if rel.target == "CustomerInvoiceItem":
                children.sort(key=lambda c: (c.get("SortIndex") or 0, c["ID"]))
            rendered = [render(company, rel.target, c, sub) for c in children]
            out[prop] = rendered if rel.many else (rendered[0] if rendered else None)
    return out


def resolve_path(company: Company, entity: str) -> Callable[[dict[str, Any], str], Any]:
    """Reads ``Field`` or ``Rel.Field`` from a stored record (for filters and ordering)."""

    def resolve(record: dict[str, Any], path: str) -> Any:
        etype, current = ENTITIES[entity], record
        parts = path.split(".")
        for part in parts[:-1]:
            rel = _relation(etype, part)
            if rel is None or rel.many or current is None:
                return None
            if rel.fk:
                current = company.get(rel.target, current.get(rel.fk))
            else:
                current = next(
                    (c for c in company.rows(rel.target) if c.get(rel.back_fk) == current["ID"]), None
                )
            etype = ENTITIES[rel.target]
        if current is None:
            return None
        name = _field_name(etype, parts[-1])
        return current.get(name) if name else None

    return resolve


def knows_path(entity: str, path: str) -> bool:
    etype = ENTITIES[entity]
    parts = path.split(".")
    for part in parts[:-1]:
        rel = _relation(etype, part)
        if rel is None or rel.many:
            return False
        etype = ENTITIES[rel.target]
    return _field_name(etype, parts[-1]) is not None


def _relation(etype: EntityType, name: str) -> Any:
    for prop, rel in etype.relations.items():
        if prop.lower() == name.lower():
            return rel
    return None


def _field_name(etype: EntityType, name: str) -> str | None:
    # Field names in filters are case-insensitive (SQL columns) [INF].
    for candidate in etype.fields:
        if candidate.lower() == name.lower():
            return candidate
    return None


def clone(value: Any) -> Any:
    return copy.deepcopy(value)


def raise_problems(problems: list[Problem], echoed: Any) -> None:
    if problems:
        raise validation_error(problems, echoed)


__all__ = [
    "Behaviour",
    "BizError",
    "Company",
    "Writer",
    "WriteContext",
    "expand_tree",
    "knows_path",
    "payload_tree",
    "render",
    "resolve_path",
    "utc_now",
]
