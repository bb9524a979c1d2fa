"""The audit trail of operator actions: who did what to which tenant, and when.

Append-only items in the audit table: partition ``tenant_id`` (``STACK`` for actions on the whole
stack, such as a DLQ move task), sort key ``recorded_at`` (time first, then a random suffix so two
actions in the same microsecond both stay). Details never hold secrets: a rotated key is recorded as
"rotated", not by value.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from pydantic import BaseModel, ConfigDict, Field

from momentsync.aws.items import plain_values

STACK_WIDE = "STACK"


class AuditRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant_id: str
    recorded_at: datetime
    actor: str
    action: str
    details: dict[str, Any] = Field(default_factory=dict)


class DynamoAuditLog:
    def __init__(self, table: Any, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._table = table
        self._clock = clock

    def record(
        self, *, actor: str, action: str, tenant_id: str | None = None, details: dict[str, Any] | None = None
    ) -> AuditRecord:
        entry = AuditRecord(
            tenant_id=tenant_id or STACK_WIDE,
            recorded_at=self._clock(),
            actor=actor,
            action=action,
            details=details or {},
        )
        item = entry.model_dump(mode="json")
        item["recorded_at"] = f"{item['recorded_at']}#{uuid.uuid4().hex[:8]}"
        self._table.put_item(Item=item)
        return entry

    def query(
        self, *, tenant_id: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """Newest first. With a tenant: a key query; without: a scan (operator actions are few)."""
        kwargs: dict[str, Any] = {}
        if tenant_id:
            condition = Key("tenant_id").eq(tenant_id)
            if since is not None:
                condition = condition & Key("recorded_at").gte(since.isoformat())
            kwargs = {"KeyConditionExpression": condition, "ScanIndexForward": False}
            read = self._table.query
        else:
            if since is not None:
                kwargs["FilterExpression"] = Attr("recorded_at").gte(since.isoformat())
            read = self._table.scan
        records: list[AuditRecord] = []
        while True:
            page = read(**kwargs)
            for item in page.get("Items", []):
                item = plain_values(item)
                item["recorded_at"] = item["recorded_at"].split("#", 1)[0]
                records.append(AuditRecord.model_validate(item))
            if "LastEvaluatedKey" not in page or (tenant_id and len(records) >= limit):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        records.sort(key=lambda r: r.recorded_at, reverse=True)
        return records[:limit]


def operator_identity(sts: Any | None) -> str:
    """The caller's ARN when talking to AWS; ``local:<os user>`` against the local stack."""
    if sts is None:
        return f"local:{getpass.getuser()}"
    return str(sts.get_caller_identity()["Arn"])
