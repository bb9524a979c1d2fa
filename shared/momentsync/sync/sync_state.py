"""Sync state: per tenant, entity type and Moment id, the link to the remote record and the last outcome.

Key: ``tenant_id`` + ``record_key`` = ``{entity_type}#{moment_id}``. The content hash of what was
last pushed lets an unchanged record cost no remote call at all. Writes are conditional on
``source_modified_at`` so an older view of a Moment record can never overwrite a newer one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from pydantic import BaseModel, ConfigDict, Field

from momentsync.tenants import utcnow


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


class StaleWrite(RuntimeError):
    """A newer state of this record was stored meanwhile; the older one is dropped."""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class DynamoSyncState:
    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, tenant_id: str, entity_type: str, moment_id: int) -> SyncLink | None:
        item = self._table.get_item(
            Key={"tenant_id": tenant_id, "record_key": record_key(entity_type, moment_id)},
            ConsistentRead=True,
        ).get("Item")
        return SyncLink.model_validate(_plain(item)) if item else None

    def save(self, link: SyncLink) -> SyncLink:
        """Stores ``link`` unless a newer Moment state was stored since (raises StaleWrite)."""
        link = link.model_copy(update={"updated_at": utcnow()})
        item = {k: v for k, v in link.model_dump(mode="json").items() if v is not None}
        item["record_key"] = link.record_key
        condition = Attr("record_key").not_exists()
        if link.source_modified_at is not None:
            condition = condition | Attr("source_modified_at").not_exists()
            condition = condition | Attr("source_modified_at").lte(item["source_modified_at"])
        else:
            condition = condition | Attr("record_key").exists()
        try:
            self._table.put_item(Item=item, ConditionExpression=condition)
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            raise StaleWrite(link.record_key) from exc
        return link

    def list(self, tenant_id: str, entity_type: str | None = None) -> list[SyncLink]:
        condition = Key("tenant_id").eq(tenant_id)
        if entity_type:
            condition = condition & Key("record_key").begins_with(f"{entity_type}#")
        links: list[SyncLink] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        while True:
            page = self._table.query(**kwargs)
            links.extend(
                SyncLink.model_validate(_plain(item))
                for item in page.get("Items", [])
                # ``meta#`` items (the reconciliation sweep's record) share the tenant's partition.
                if not item["record_key"].startswith(META_PREFIX)
            )
            if "LastEvaluatedKey" not in page:
                return links
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def as_utc(value: datetime) -> datetime:
    """Moment's timestamps may come without an offset: read as UTC, so they compare with ours."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def content_hash(content: dict[str, Any]) -> str:
    """Stable hash of mapped content: equal hashes mean the target already holds these values."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
