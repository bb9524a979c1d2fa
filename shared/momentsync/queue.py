"""The event queue (SQS FIFO): one message group per tenant, so a tenant has one event in flight."""

from __future__ import annotations

import re
from typing import Any, Protocol

from momentsync.envelope import QueueEnvelope

# The characters SQS accepts in a message body and attributes (XML 1.0 Char): #x9 | #xA | #xD |
# #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. SendMessage refuses anything else.
SQS_REFUSED_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_safe_text(text: str) -> str:
    """``text`` with every character SQS refuses replaced by U+FFFD (for reasons built from data)."""
    return SQS_REFUSED_CHARACTER.sub("\ufffd", text)


class EventQueue(Protocol):
    def send(self, envelope: QueueEnvelope, *, deduplication_id: str | None = None) -> str: ...


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
        message_id: str = response["MessageId"]
        return message_id
