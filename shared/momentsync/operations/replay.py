"""Replaying dead letters into the event queue: filtered, bounded, paced, audited; dry run by default.

Each replayed event is re-sent in its tenant's message group (order within a tenant kept) as a new
event (``origin="replay"``, ``replay_of`` = the dead-lettered event id) with a **fresh**
deduplication id: the DLQ copy's id may be the original message's, which SQS would drop as a
duplicate. The DLQ copy is deleted only after the send succeeded; a failed send leaves it where it
was, and the tenant's later dead letters wait too, so one tenant's events are never replayed out of
order.

Replays are safe to repeat: events are hints, the processor re-reads the record from Moment and
never writes an older Moment state over a newer one.

``replay_all_with_move_task`` is the unfiltered alternative: SQS's own StartMessageMoveTask, fast,
server-side, but without filters, rewrite of the envelope or dry run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from momentsync.dead_letters import DeadLetter, DeadLetterFilter, Received
from momentsync.ports import AuditLog, DeadLetterInbox, EventQueue

# Long enough to replay one receive's worth at a slow --rate; a message whose visibility runs out
# mid-run comes back and is recognised by its message id.
REPLAY_VISIBILITY_SECONDS = 300


class ReplayStatus(StrEnum):
    WOULD_REPLAY = "would_replay"  # dry run
    REPLAYED = "replayed"
    FAILED = "failed"  # send failed or not replayable; still in the DLQ
    HELD = "held"  # an earlier dead letter of the same tenant failed; kept for order


@dataclass
class ReplayItem:
    dead_letter: DeadLetter
    status: ReplayStatus
    new_event_id: str | None = None
    error: str | None = None
    # Sent, but deleting the DLQ copy failed: replaying it again later is harmless, only noisy.
    left_in_dead_letter_queue: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.dead_letter.message_id,
            "tenant_id": self.dead_letter.tenant_id,
            "entity_type": self.dead_letter.entity_type,
            "entity_id": self.dead_letter.entity_id,
            "event_id": self.dead_letter.event_id,
            "status": self.status.value,
            "new_event_id": self.new_event_id,
            "error": self.error,
            "left_in_dead_letter_queue": self.left_in_dead_letter_queue,
        }


@dataclass
class ReplayReport:
    dry_run: bool
    items: list[ReplayItem] = field(default_factory=list)

    def count(self, status: ReplayStatus) -> int:
        return sum(item.status is status for item in self.items)

    @property
    def succeeded(self) -> int:
        return self.count(ReplayStatus.REPLAYED)

    @property
    def failed(self) -> int:
        return self.count(ReplayStatus.FAILED) + self.count(ReplayStatus.HELD)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "matched": len(self.items),
            "succeeded": self.succeeded,
            "failed": self.failed,
            "would_replay": self.count(ReplayStatus.WOULD_REPLAY),
            "items": [item.as_dict() for item in self.items],
        }


class Pacer:
    """At most ``rate`` sends per second (None: as fast as SQS answers)."""

    def __init__(
        self,
        rate: float | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be above 0")
        self._interval = 1.0 / rate if rate else 0.0
        self._sleep = sleep
        self._monotonic = monotonic
        self._next: float | None = None

    def wait(self) -> None:
        if not self._interval:
            return
        now = self._monotonic()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


@dataclass
class DeadLetterReplayer:
    dead_letters: DeadLetterInbox
    queue: EventQueue
    audit: AuditLog
    actor: str
    new_event_id: Callable[[], str] = lambda: f"replay-{uuid.uuid4().hex}"
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def replay(
        self,
        where: DeadLetterFilter | None = None,
        *,
        max_messages: int | None = None,
        rate: float | None = None,
        dry_run: bool = True,
        on_item: Callable[[ReplayItem], None] | None = None,
    ) -> ReplayReport:
        where = where or DeadLetterFilter()
        if max_messages is not None and max_messages < 1:
            raise ValueError("max must be at least 1")
        report = ReplayReport(dry_run=dry_run)
        if dry_run:
            for letter in self.dead_letters.peek(where, limit=max_messages).dead_letters:
                replayable = letter.envelope is not None
                item = ReplayItem(
                    letter,
                    ReplayStatus.WOULD_REPLAY if replayable else ReplayStatus.FAILED,
                    error=None if replayable else "the body is not a queue envelope; cannot be replayed",
                )
                report.items.append(item)
                if on_item:
                    on_item(item)
            return report

        pacer = Pacer(rate, sleep=self.sleep, monotonic=self.monotonic)
        held: dict[str, str] = {}  # message id -> receipt handle, given back at the end
        seen: set[str] = set()
        blocked_tenants: set[str] = set()
        try:
            while max_messages is None or report.succeeded < max_messages:
                batch = self.dead_letters.receive(REPLAY_VISIBILITY_SECONDS)
                if not batch:
                    break
                for received in batch:
                    letter = received.dead_letter
                    first_time = letter.message_id not in seen
                    seen.add(letter.message_id)
                    full = max_messages is not None and report.succeeded >= max_messages
                    if not first_time or full or not where.matches(letter):
                        held[letter.message_id] = received.receipt_handle
                        continue
                    if letter.tenant_id in blocked_tenants:
                        held[letter.message_id] = received.receipt_handle
                        item = ReplayItem(
                            letter, ReplayStatus.HELD, error="an earlier event of this tenant failed"
                        )
                    else:
                        item = self._replay_one(received, pacer)
                        if item.status is not ReplayStatus.REPLAYED:
                            held[letter.message_id] = received.receipt_handle
                            blocked_tenants.add(letter.tenant_id)
                    report.items.append(item)
                    if on_item:
                        on_item(item)
        finally:
            self.dead_letters.release(held.values())
        return report

    def _replay_one(self, received: Received, pacer: Pacer) -> ReplayItem:
        letter = received.dead_letter
        envelope = letter.envelope
        if envelope is None:
            return ReplayItem(letter, ReplayStatus.FAILED, error="the body is not a queue envelope")
        event_id = self.new_event_id()
        resent = envelope.model_copy(
            update={"event_id": event_id, "origin": "replay", "replay_of": envelope.event_id}
        )
        pacer.wait()
        try:
            self.queue.send(resent, deduplication_id=event_id)
        except Exception as exc:  # noqa: BLE001 - reported per message; the DLQ copy stays
            return ReplayItem(letter, ReplayStatus.FAILED, error=f"send failed: {type(exc).__name__}")
        # Audit before deleting: if the audit write fails the DLQ copy stays (a harmless second
        # replay later), rather than an unaudited replay.
        self.audit.record(
            actor=self.actor,
            action="dlq.replay",
            tenant_id=letter.tenant_id,
            details={
                "message_id": letter.message_id,
                "event_id": envelope.event_id,
                "new_event_id": event_id,
                "entity_type": envelope.entity_type,
                "entity_id": envelope.entity_id,
                "reason": letter.reason,
            },
        )
        item = ReplayItem(letter, ReplayStatus.REPLAYED, new_event_id=event_id)
        try:
            self.dead_letters.delete(received.receipt_handle)
        except Exception:  # noqa: BLE001 - sent already; a leftover copy replays idempotently
            item.left_in_dead_letter_queue = True
        return item
