"""The event queue in memory: FIFO per message group (the tenant), SQS's 5-minute deduplication by id
(a second send with a known id is accepted and dropped, as SQS does), and a switch to refuse sends."""

from __future__ import annotations

from momentsync.envelope import QueueEnvelope


class QueueRefused(RuntimeError):
    """What a throttled or unreachable SQS looks like to the caller."""


class InMemoryEventQueue:
    def __init__(self) -> None:
        self.sent: list[QueueEnvelope] = []
        self.refuse = False
        self._deduplication_ids: dict[str, str] = {}

    def send(self, envelope: QueueEnvelope, *, deduplication_id: str | None = None) -> str:
        if self.refuse:
            raise QueueRefused("queue unavailable")
        dedupe = deduplication_id or envelope.event_id
        if dedupe in self._deduplication_ids:
            return self._deduplication_ids[dedupe]
        # Round-trips through the message body, as the processor will read it.
        self.sent.append(QueueEnvelope.from_message_body(envelope.to_message_body()))
        message_id = f"msg-{len(self.sent)}"
        self._deduplication_ids[dedupe] = message_id
        return message_id

    def group(self, tenant_id: str) -> list[QueueEnvelope]:
        """The tenant's message group, in the order the processor receives it."""
        return [envelope for envelope in self.sent if envelope.tenant_id == tenant_id]
