"""The transfer log in DynamoDB: one item per processed event, sorted by time, expiring by TTL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from momentsync.aws.items import plain_values
from momentsync.sync.transfer_log import TransferLogEntry


class DynamoTransferLog:
    def __init__(self, table: Any, retention: timedelta) -> None:
        self._table = table
        self._retention = retention

    def record(self, entry: TransferLogEntry) -> None:
        item = {k: v for k, v in entry.model_dump(mode="json").items() if v is not None}
        # Sort key: time first so a tenant's log reads in order; the event id keeps keys unique.
        item["logged_at"] = f"{entry.logged_at.isoformat()}#{entry.event_id}"
        item["expires_at"] = int((entry.logged_at + self._retention).timestamp())
        self._table.put_item(Item=item)

    def last_logged_at(self, tenant_id: str) -> datetime | None:
        """When the tenant's newest entry was logged (the sort key starts with it): one small read."""
        page = self._table.query(
            KeyConditionExpression=Key("tenant_id").eq(tenant_id), ScanIndexForward=False, Limit=1
        )
        items = page.get("Items", [])
        return datetime.fromisoformat(items[0]["logged_at"].split("#", 1)[0]) if items else None

    def query(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        entity_type: str | None = None,
        outcome: str | None = None,
        event_id: str | None = None,
        limit: int = 100,
        newest_first: bool = True,
        page_size: int | None = None,
        max_scanned: int | None = None,
    ) -> list[TransferLogEntry]:
        """Entries matching the filters; ``page_size`` bounds each read (DynamoDB applies it before the
        filters) and ``max_scanned`` the entries read in all, matching or not (a cheap check in a flood)."""
        condition = Key("tenant_id").eq(tenant_id)
        if since is not None:
            condition = condition & Key("logged_at").gte(since.isoformat())
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": not newest_first}
        filters = []
        if entity_type:
            filters.append(Attr("entity_type").eq(entity_type))
        if outcome:
            filters.append(Attr("outcome").eq(outcome))
        if event_id:
            filters.append(Attr("event_id").eq(event_id))
        if filters:
            expression = filters[0]
            for extra in filters[1:]:
                expression = expression & extra
            kwargs["FilterExpression"] = expression
        if page_size:
            kwargs["Limit"] = page_size
        entries: list[TransferLogEntry] = []
        scanned = 0
        while len(entries) < limit and (max_scanned is None or scanned < max_scanned):
            page = self._table.query(**kwargs)
            scanned += page.get("ScannedCount", len(page.get("Items", [])))
            for item in page.get("Items", []):
                item = plain_values(item)
                item["logged_at"] = item["logged_at"].split("#", 1)[0]
                entries.append(TransferLogEntry.model_validate(item))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return entries[:limit]
