"""The event queue in memory: FIFO per message group (the tenant), SQS's 5-minute deduplication by id
(a second send with a known id is accepted and dropped, as SQS does), and a switch to refuse sends."""

from __future__ import annotations

from collections.abc import Iterable

from momentsync.dead_letters import DeadLetter, DeadLetterFilter, PeekResult, Received
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


class InMemoryDeadLetterInbox:
    """The dead-letter queue as replay sees it: a received letter is invisible until released or its
    visibility runs out (here: until released), deleted only by its receipt handle."""

    def __init__(self, letters: list[DeadLetter] | None = None) -> None:
        self._letters: dict[str, DeadLetter] = {letter.message_id: letter for letter in letters or []}
        self._held: dict[str, str] = {}  # receipt handle -> message id
        self._handles = 0

    def peek(self, where: DeadLetterFilter | None = None, *, limit: int | None = None) -> PeekResult:
        where = where or DeadLetterFilter()
        visible = set(self._letters) - set(self._held.values())
        matching = sorted(
            (self._letters[m] for m in visible if where.matches(self._letters[m])),
            key=lambda letter: letter.dead_lettered_at,
        )
        return PeekResult(
            dead_letters=matching[:limit] if limit is not None else matching, scanned=len(visible), hidden=0
        )

    def receive(self, visibility_seconds: int) -> list[Received]:
        visible = [m for m in self._letters if m not in self._held.values()][:10]
        received = []
        for message_id in visible:
            self._handles += 1
            handle = f"rh-{self._handles}"
            self._held[handle] = message_id
            received.append(Received(self._letters[message_id], handle))
        return received

    def release(self, receipt_handles: Iterable[str]) -> None:
        for handle in receipt_handles:
            self._held.pop(handle, None)

    def delete(self, receipt_handle: str) -> None:
        message_id = self._held.pop(receipt_handle, None)
        if message_id is not None:
            self._letters.pop(message_id, None)
