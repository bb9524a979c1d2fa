"""Sync state: per tenant, entity type and Moment id, the link to the remote record and the last outcome.

Key: ``tenant_id`` + ``record_key`` = ``{entity_type}#{moment_id}``. The content hash of what was
last pushed lets an unchanged record cost no remote call at all. Writes are conditional on
``source_modified_at`` so an older view of a Moment record can never overwrite a newer one.

Also what a use case writes on a link once it knows the outcome (``store_synced``, ``remember_version``,
``record_deleted``): the same for customers, projects and invoices, so they live with the link.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from momentsync.clock import utcnow
from momentsync.ports import RemoteRecord
from momentsync.sync.processor import SyncResult
from momentsync.sync.transfer_log import Outcome

if TYPE_CHECKING:  # the session holds links: annotations only
    from momentsync.sync.session import TenantSession


class SyncLink(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenant_id: str
    entity_type: str
    moment_id: int
    remote_id: str | None = None
    remote_number: str | None = None
    content_hash: str | None = None
    last_outcome: str | None = None
    last_error: str | None = None
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    source_modified_at: datetime | None = None
    attempts: int = 0
    updated_at: datetime | None = None
    # Exactly-once bookkeeping for writes Fiken cannot deduplicate (invoices): the intent recorded
    # before the create call, and what is left to do after it (e.g. the PDF upload).
    intent: str | None = None
    pending: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def record_key(self) -> str:
        return record_key(self.entity_type, self.moment_id)


META_PREFIX = "meta#"


def record_key(entity_type: str, moment_id: int) -> str:
    return f"{entity_type}#{moment_id}"


# One item per tenant beside its links, kept up to date by every save: what `momentsync status` reads
# instead of every link of every tenant. "~" sorts after every entity type and is never a record key.
STATUS_COUNTS_KEY = "~status"


class StatusCounts(BaseModel):
    """Per entity type: how many records have each last outcome, the last success and the last error."""

    counts: dict[str, dict[str, int]] = Field(default_factory=dict)  # entity type -> outcome -> records
    last_success_at: dict[str, datetime] = Field(default_factory=dict)
    last_error_at: dict[str, datetime] = Field(default_factory=dict)
    last_error: dict[str, str] = Field(default_factory=dict)
    last_error_moment_id: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StatusCounts:
        """The flat item (``count#customer#synced``, ``last_error#invoice``, ...) as nested maps."""
        data: dict[str, dict[str, Any]] = {name: {} for name in cls.model_fields}
        for attribute, value in item.items():
            field, _, rest = attribute.partition("#")
            if field == "count":
                entity_type, _, outcome = rest.partition("#")
                data["counts"].setdefault(entity_type, {})[outcome] = int(value)
            elif field in data and rest:
                data[field][rest] = value
        return cls.model_validate(data)

    @classmethod
    def of_links(cls, links: list[SyncLink]) -> StatusCounts:
        counts = cls()
        for link in links:
            counts.add(None, link)
        return counts

    def add(self, old: SyncLink | None, new: SyncLink) -> None:
        """The same change ``DynamoSyncState.save`` makes to the stored item (used to recount)."""
        entity = new.entity_type
        by_outcome = self.counts.setdefault(entity, {})
        if old is not None and old.last_outcome:
            by_outcome[old.last_outcome] = by_outcome.get(old.last_outcome, 0) - 1
        if new.last_outcome:
            by_outcome[new.last_outcome] = by_outcome.get(new.last_outcome, 0) + 1
        if new.last_success_at and (
            entity not in self.last_success_at or new.last_success_at > self.last_success_at[entity]
        ):
            self.last_success_at[entity] = new.last_success_at
        if new.last_error_at and (
            entity not in self.last_error_at or new.last_error_at > self.last_error_at[entity]
        ):
            self.last_error_at[entity] = new.last_error_at
            self.last_error[entity] = new.last_error or ""
            self.last_error_moment_id[entity] = new.moment_id

    def to_item(self, tenant_id: str) -> dict[str, Any]:
        item: dict[str, Any] = {"tenant_id": tenant_id, "record_key": STATUS_COUNTS_KEY}
        for entity_type, by_outcome in self.counts.items():
            item |= {f"count#{entity_type}#{outcome}": n for outcome, n in by_outcome.items()}
        for field in ("last_success_at", "last_error_at", "last_error", "last_error_moment_id"):
            for entity_type, value in getattr(self, field).items():
                item[f"{field}#{entity_type}"] = value.isoformat() if isinstance(value, datetime) else value
        return item


class StaleWrite(RuntimeError):
    """A newer state of this record was stored meanwhile; the older one is dropped."""


# Invoices are saved unconditionally (``source_modified_at`` stays None: their exactly-once bookkeeping
# must never be refused), so the Moment version a link applied is kept in its details under this key.
MOMENT_VERSION = "moment_modified_at"


def applied_version(link: SyncLink) -> datetime | None:
    """The Moment ``lastModifiedDate`` this link applied, in Moment's own clock when we know it; else
    our write time (which Moment's clock may be ahead of or behind)."""
    if link.source_modified_at is not None:
        return as_utc(link.source_modified_at)
    recorded = link.details.get(MOMENT_VERSION)
    if recorded:
        try:
            return as_utc(datetime.fromisoformat(str(recorded)))
        except ValueError:
            pass
    return as_utc(link.updated_at) if link.updated_at else None


def with_version(link: SyncLink, last_modified: datetime | None) -> dict[str, Any]:
    """The link's details, recording ``last_modified`` (Moment's clock) when it is newer."""
    if last_modified is None:
        return dict(link.details)
    recorded = link.details.get(MOMENT_VERSION)
    try:
        older = recorded is None or as_utc(datetime.fromisoformat(str(recorded))) < as_utc(last_modified)
    except ValueError:
        older = True
    if not older:
        return dict(link.details)
    return {**link.details, MOMENT_VERSION: as_utc(last_modified).isoformat()}


def as_utc(value: datetime) -> datetime:
    """Moment's timestamps may come without an offset: read as UTC, so they compare with ours."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def content_hash(content: dict[str, Any]) -> str:
    """Stable hash of mapped content: equal hashes mean the target already holds these values."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def store_synced(
    session: TenantSession, link: SyncLink, remote: RemoteRecord, digest: str, modified_at: object
) -> None:
    updated = link.model_copy(
        update={
            "remote_id": remote.remote_id,
            "remote_number": remote.remote_number or link.remote_number,
            "content_hash": digest,
            "last_outcome": Outcome.SYNCED.value,
            "last_success_at": utcnow(),
            "source_modified_at": modified_at,
            "attempts": 0,
            "details": {**link.details, **remote.details},
        }
    )
    # A newer Moment state stored meanwhile (a replay racing a fresh event) is kept.
    with contextlib.suppress(StaleWrite):
        session.state.save(updated)


def remember_version(session: TenantSession, link: SyncLink, modified_at: datetime | None) -> None:
    """An unchanged answer still records which Moment version it saw: a change to fields we do not map
    would otherwise look unapplied to the reconciliation sweep for ever. No write for a duplicate."""
    if modified_at is None or (
        link.source_modified_at is not None and as_utc(modified_at) <= as_utc(link.source_modified_at)
    ):
        return
    with contextlib.suppress(StaleWrite):
        session.state.save(link.model_copy(update={"source_modified_at": modified_at}))


def record_deleted(session: TenantSession, link: SyncLink) -> SyncResult:
    """Moment answered 404. Recorded; nothing is deleted in the books.

    ``deleted`` only for a record we had linked (it existed and is gone); an id we never linked is
    ``not_found``: Moment does not know it, which may be a typo, a record deleted before we saw it, or
    made-up traffic, and a burst of those is reported to the operator.
    """
    if link.remote_id is None and link.last_outcome in (None, Outcome.NOT_FOUND.value):
        session.state.save(link.model_copy(update={"last_outcome": Outcome.NOT_FOUND.value}))
        return SyncResult(
            Outcome.NOT_FOUND,
            reason=f"Moment has no {link.entity_type} {link.moment_id} and we never linked one",
        )
    session.state.save(
        link.model_copy(update={"last_outcome": Outcome.DELETED.value, "last_success_at": utcnow()})
    )
    return SyncResult(Outcome.DELETED, remote_id=link.remote_id, reason="deleted in Moment")
