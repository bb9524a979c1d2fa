"""The event queue on SQS FIFO: one message group per tenant."""

from __future__ import annotations

from typing import Any

from momentsync.envelope import QueueEnvelope


class SqsEventQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, envelope: QueueEnvelope, *, deduplication_id: str | None = None) -> str:
        """Enqueue in the tenant's group; returns the SQS message id.

        The deduplication id is per *received request*, never content based: successive edits of one
        record send identical thin bodies, and SQS would drop the later edit within 5 minutes.
        """
        response = self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=envelope.to_message_body(),
            MessageGroupId=envelope.tenant_id,
            MessageDeduplicationId=deduplication_id or envelope.event_id,
            MessageAttributes={
                "entity_type": {"DataType": "String", "StringValue": envelope.entity_type},
                "origin": {"DataType": "String", "StringValue": envelope.origin},
            },
        )
        return str(response["MessageId"])
