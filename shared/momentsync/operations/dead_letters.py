"""Reading the dead-letter queue without consuming it.

A peek receives with a short visibility timeout and then sets every received message visible again
(visibility 0): nothing is deleted, and a peek interrupted midway gives its messages back within
``peek_visibility_seconds`` anyway.

FIFO limit: while a message group has messages in flight, SQS returns no further messages of that
group. The processor dead-letters into the tenant's group (order kept for replay), so one peek sees
at most one receive's worth (up to 10) of each tenant; ``PeekResult.hidden`` says how many it could
not reach. Replaying or deleting the first ones brings the next into view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


def queue_depth(sqs: Any, queue_url: str) -> QueueDepth:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return QueueDepth(
        visible=int(attributes["ApproximateNumberOfMessages"]),
        in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


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


class DeadLetterQueue:
    """The DLQ, for operators: peek (non-consuming), show one, and the receive/delete replay needs."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        peek_visibility_seconds: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        transfer_log: TransferLogReader | None = None,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self._peek_visibility = peek_visibility_seconds
        self._clock = clock
        # Joins the reason of what SQS's own redrive moved (it sets no attributes) from the log.
        self._transfer_log = transfer_log

    def depth(self) -> QueueDepth:
        return queue_depth(self._sqs, self.queue_url)

    def arn(self) -> str:
        arn: str = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return arn

    def peek(self, where: DeadLetterFilter | None = None, *, limit: int | None = None) -> PeekResult:
        """The dead letters matching ``where``, oldest first; the queue is left as it was."""
        where = where or DeadLetterFilter()
        before = self.depth().visible
        received: list[Received] = []
        stopped_early = False
        try:
            while True:
                batch = self.receive(self._peek_visibility)
                if not batch:
                    break
                received.extend(batch)
                if limit is not None and sum(where.matches(r.dead_letter) for r in received) >= limit:
                    stopped_early = True
                    break
        finally:
            self.release(r.receipt_handle for r in received)
        # A message redelivered within one peek (its visibility ran out) is listed once.
        unique = {r.dead_letter.message_id: r.dead_letter for r in received}
        matching = sorted(
            (
                letter
                for letter in (with_logged_reason(u, self._transfer_log) for u in unique.values())
                if where.matches(letter)
            ),
            key=lambda d: d.dead_lettered_at,
        )
        hidden = 0 if stopped_early else max(0, before - len(unique))
        return PeekResult(
            dead_letters=matching[:limit] if limit is not None else matching,
            scanned=len(unique),
            hidden=hidden,
        )

    def show(self, message_id: str) -> DeadLetter | None:
        for letter in self.peek().dead_letters:
            if letter.message_id == message_id:
                return letter
        return None

    # ------------------------------------------------------------------ for replay
    def receive(self, visibility_seconds: int) -> list[Received]:
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        now = self._clock()
        return [Received(parse_dead_letter(m, now), m["ReceiptHandle"]) for m in messages]

    def release(self, receipt_handles: Iterable[str]) -> None:
        """Makes received messages visible again at once (the peek's "put it back")."""
        handles = list(receipt_handles)
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(chunk)
                ],
            )

    def delete(self, receipt_handle: str) -> None:
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)
