"""Parked events: a tenant that cannot be processed (paused, needs re-auth, module missing) keeps its
events here, in arrival order, instead of failing them. Resuming re-enqueues them in that order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from momentsync.envelope import QueueEnvelope
from momentsync.ports import EventQueue


class DynamoParkedEvents:
    def __init__(self, table: Any) -> None:
        self._table = table

    def park(self, envelope: QueueEnvelope, reason: str) -> None:
        # received_at first: resume order is arrival order; event id keeps the key unique and makes a
        # second delivery of the same event overwrite rather than duplicate its parked copy.
        self._table.put_item(
            Item={**_key(envelope), "envelope": envelope.to_message_body(), "reason": reason}
        )

    def release(self, envelope: QueueEnvelope) -> None:
        """Drops an event's parked copy (it is being delivered again instead)."""
        self._table.delete_item(Key=_key(envelope))

    def list(self, tenant_id: str) -> list[tuple[QueueEnvelope, str]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("tenant_id").eq(tenant_id)}
        while True:
            page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [(QueueEnvelope.from_message_body(i["envelope"]), i["reason"]) for i in items]

    def oldest_received_at(self, tenant_id: str) -> datetime | None:
        """When the tenant's oldest parked event arrived (keys start with it): one small read."""
        page = self._table.query(KeyConditionExpression=Key("tenant_id").eq(tenant_id), Limit=1)
        items = page.get("Items", [])
        return datetime.fromisoformat(items[0]["parked_key"].split("#", 1)[0]) if items else None

    def count(self, tenant_id: str) -> int:
        return len(self.list(tenant_id))

    def resume(self, tenant_id: str, queue: EventQueue) -> int:
        """Re-enqueues the tenant's parked events in arrival order; deletes each only once it is sent."""
        resumed = 0
        for envelope, _reason in self.list(tenant_id):
            resent = envelope.model_copy(update={"origin": "resume"})
            queue.send(resent, deduplication_id=f"resume-{envelope.event_id}")
            self._table.delete_item(Key=_key(envelope))
            resumed += 1
        return resumed


def _key(envelope: QueueEnvelope) -> dict[str, str]:
    return {
        "tenant_id": envelope.tenant_id,
        "parked_key": f"{envelope.received_at.isoformat()}#{envelope.event_id}",
    }
