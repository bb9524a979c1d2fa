"""Sending an event to the dead-letter queue ourselves, at once, with the reason attached.

SQS's own redrive (after maxReceiveCount) carries no reason; a permanent failure should not wait
for five deliveries, and the operator should see why without reading logs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from momentsync.queue import sqs_safe_text


class SqsDeadLetters:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(
        self,
        *,
        body: str,
        tenant_id: str,
        reason: str,
        error_class: str,
        entity_type: str | None = None,
        event_id: str | None = None,
        receive_count: int = 1,
    ) -> str:
        # A reason may quote Moment's data; SQS refuses some characters in attributes as in bodies.
        attributes = {
            "reason": sqs_safe_text(reason[:1000]),
            "error_class": error_class,
            "dead_lettered_at": datetime.now(UTC).isoformat(),
            "receive_count": str(receive_count),
        }
        if entity_type:
            attributes["entity_type"] = entity_type
        if event_id:
            attributes["event_id"] = event_id
        response = self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageGroupId=tenant_id or "unknown-tenant",
            # Unique per dead-lettering: the same event may be parked here twice (e.g. after a replay).
            MessageDeduplicationId=f"dlq-{uuid.uuid4().hex}",
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        return str(response["MessageId"])
