"""What a dead letter is, read back from the dead-letter queue: the event, why it was dead-lettered,
and the filters operators select with. The SQS side (peek, receive, release, delete) is
``momentsync.aws.dead_letter_queue``; replay is ``momentsync.operations.replay``.

A peek receives with a short visibility timeout and then sets every received message visible again
(visibility 0): nothing is deleted, and a peek interrupted midway gives its messages back within
``peek_visibility_seconds`` anyway.

FIFO limit: while a message group has messages in flight, SQS returns no further messages of that
group. The processor dead-letters into the tenant's group (order kept for replay), so one peek sees
at most one receive's worth (up to 10) of each tenant; ``PeekResult.hidden`` says how many it could
not reach. Replaying or deleting the first ones brings the next into view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from momentsync.envelope import QueueEnvelope
from momentsync.ports import TransferLogReader

# What SQS's own redrive (after maxReceiveCount) leaves: no reason attributes, only the body.
SQS_REDRIVE_REASON = "moved by SQS after maxReceiveCount deliveries (the processor crashed or timed out)"
SQS_REDRIVE_CLASS = "MaxReceiveCountExceeded"


class DeadLetter(BaseModel):
    """One dead-lettered event as an operator sees it (never the SQS receipt handle)."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    tenant_id: str
    entity_type: str | None = None
    entity_id: int | None = None
    event_id: str | None = None
    origin: str | None = None
    replay_of: str | None = None
    reason: str
    error_class: str
    receive_count: int | None = None
    dead_lettered_at: datetime
    age_seconds: int
    body: str = Field(repr=False, exclude=True)

    @property
    def envelope(self) -> QueueEnvelope | None:
        try:
            return QueueEnvelope.from_message_body(self.body)
        except ValidationError:
            return None

    def detail(self) -> dict[str, Any]:
        """Everything ``dlq show`` prints: the summary plus the queued envelope (Moment's thin payload)."""
        envelope = self.envelope
        return {
            **self.model_dump(mode="json"),
            "envelope": envelope.model_dump(mode="json") if envelope else None,
            "unparseable_body": None if envelope else self.body[:2000],
        }


@dataclass(frozen=True)
class DeadLetterFilter:
    tenant_id: str | None = None
    entity_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    reason: str | None = None  # substring, case-insensitive
    error_class: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.tenant_id, self.entity_type, self.since, self.until, self.reason, self.error_class)
        )

    def matches(self, letter: DeadLetter) -> bool:
        if self.tenant_id and letter.tenant_id != self.tenant_id:
            return False
        if self.entity_type and letter.entity_type != self.entity_type:
            return False
        if self.since and letter.dead_lettered_at < self.since:
            return False
        if self.until and letter.dead_lettered_at >= self.until:
            return False
        if self.reason and self.reason.lower() not in letter.reason.lower():
            return False
        return not (self.error_class and letter.error_class != self.error_class)


@dataclass(frozen=True)
class Received:
    """A dead letter and the handle that deletes it or gives it back (kept out of the model)."""

    dead_letter: DeadLetter
    receipt_handle: str = field(repr=False)


@dataclass(frozen=True)
class PeekResult:
    dead_letters: list[DeadLetter]
    scanned: int
    # Approximate: messages the peek could not see (behind a FIFO group's first receive).
    hidden: int


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight


def parse_dead_letter(message: dict[str, Any], now: datetime) -> DeadLetter:
    attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
    system = message.get("Attributes", {})
    body = message["Body"]
    try:
        envelope: QueueEnvelope | None = QueueEnvelope.from_message_body(body)
    except ValidationError:
        envelope = None
    if attributes.get("dead_lettered_at"):
        dead_lettered_at = datetime.fromisoformat(attributes["dead_lettered_at"])
    else:  # SQS redrive: a FIFO message's enqueue time restarts when it moves to the DLQ
        dead_lettered_at = datetime.fromtimestamp(int(system.get("SentTimestamp", "0")) / 1000, UTC)
    receive_count = attributes.get("receive_count")
    return DeadLetter(
        message_id=message["MessageId"],
        tenant_id=envelope.tenant_id if envelope else system.get("MessageGroupId", "unknown-tenant"),
        entity_type=envelope.entity_type if envelope else attributes.get("entity_type"),
        entity_id=envelope.entity_id if envelope else None,
        event_id=envelope.event_id if envelope else attributes.get("event_id"),
        origin=envelope.origin if envelope else attributes.get("origin"),
        replay_of=envelope.replay_of if envelope else None,
        reason=attributes.get("reason") or SQS_REDRIVE_REASON,
        error_class=attributes.get("error_class") or SQS_REDRIVE_CLASS,
        receive_count=int(receive_count) if receive_count else None,
        dead_lettered_at=dead_lettered_at,
        age_seconds=max(0, int((now - dead_lettered_at).total_seconds())),
        body=body,
    )


def with_logged_reason(letter: DeadLetter, transfer_log: TransferLogReader | None) -> DeadLetter:
    """A letter SQS's redrive moved carries no reason: take the event's last one from the transfer log."""
    if transfer_log is None or letter.error_class != SQS_REDRIVE_CLASS or not letter.event_id:
        return letter
    envelope = letter.envelope
    try:
        entries = transfer_log.query(
            letter.tenant_id,
            event_id=letter.event_id,
            since=envelope.received_at if envelope else None,
            newest_first=True,
            limit=5,
        )
    except Exception:  # noqa: BLE001 - the letter is still worth showing without the logged reason
        return letter
    logged = next((entry for entry in entries if entry.reason), None)
    if logged is None:
        return letter
    return letter.model_copy(
        update={"reason": f"{SQS_REDRIVE_REASON}; last logged: {logged.outcome.value}: {logged.reason}"}
    )
