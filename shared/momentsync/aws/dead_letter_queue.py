"""The dead-letter queue in SQS, for operators: its depth, a non-consuming peek, and the receive /
release / delete that replay needs (the ``DeadLetterInbox`` port). What a dead letter is and how one is
read lives in ``momentsync.dead_letters``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from momentsync.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    PeekResult,
    QueueDepth,
    Received,
    parse_dead_letter,
    with_logged_reason,
)
from momentsync.ports import TransferLogReader


def queue_depth(sqs: Any, queue_url: str) -> QueueDepth:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return QueueDepth(
        visible=int(attributes["ApproximateNumberOfMessages"]),
        in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
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
