"""The processor with the real use cases (``sync.wiring.use_cases``) on in-memory fakes: what an event
becomes across deliveries, as SQS would redeliver it, without a queue, a table or a server."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from momentsync.envelope import QueueEnvelope
from momentsync.errors import TransientError
from momentsync.sync.processor import EventProcessor
from momentsync.sync.session import TenantSession
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import Tenant, TenantStatus
from momentsync.wiring.processor import record_failure, use_cases
from tests.fakes import (
    InMemoryBooks,
    InMemoryDeadLetters,
    InMemoryMoment,
    InMemoryParkedEvents,
    InMemorySyncState,
    InMemoryTenants,
    InMemoryTransferLog,
    RecordingNotifier,
)
from tests.fakes.records import customer, invoice, tenant

RECEIVED = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)


class Pipeline:
    def __init__(self, **tenant_fields) -> None:
        self.moment, self.books, self.state = InMemoryMoment(), InMemoryBooks(), InMemorySyncState()
        self.tenants = InMemoryTenants(tenant("acme", **tenant_fields))
        self.log, self.parked, self.dlq = InMemoryTransferLog(), InMemoryParkedEvents(), InMemoryDeadLetters()
        self.notifier = RecordingNotifier()
        self.processor = EventProcessor(
            tenants=self.tenants,
            use_cases=use_cases(self),
            transfer_log=self.log,
            parked=self.parked,
            dead_letters=self.dlq,
            notifier=self.notifier,
            record_failure=partial(record_failure, self.state),
            max_receive_count=3,
            clock=lambda: RECEIVED,
            sleep=lambda _seconds: None,
        )

    def open(self, opened_for: Tenant) -> TenantSession:  # what sync.sessions.TenantSessions offers
        return TenantSession(tenant=opened_for, moment=self.moment, connector=self.books, state=self.state)

    def deliver(self, envelope: QueueEnvelope, receive_count: int = 1) -> Outcome:
        return self.processor.process(envelope, receive_count=receive_count)


def event(entity_type: str = "invoice", entity_id: int = 9, event_id: str = "e-1") -> QueueEnvelope:
    return QueueEnvelope(
        event_id=event_id,
        tenant_id="acme",
        entity_type=entity_type,
        entity_id=entity_id,
        moment_event="UPDATE",
        received_at=RECEIVED,
        payload={},
    )


def test_a_lost_create_answer_is_retried_by_redelivery_and_books_one_document():
    pipeline = Pipeline()
    pipeline.moment.add(customer(7), invoice(9, 20002))
    pipeline.books.lose_next_create_answer = True

    with pytest.raises(TransientError):
        pipeline.deliver(event(), receive_count=1)
    assert pipeline.deliver(event(), receive_count=2) is Outcome.SYNCED

    assert pipeline.log.outcomes() == [Outcome.RETRYING, Outcome.SYNCED]
    assert pipeline.log.entries[-1].details["adopted"] is True
    assert len(pipeline.books.documents_for(20002)) == 1
    assert pipeline.dlq.letters == []


def test_a_duplicate_delivery_after_success_is_unchanged_and_costs_no_request():
    pipeline = Pipeline()
    pipeline.moment.add(customer(7), invoice(9, 20002))
    pipeline.deliver(event())
    calls = len(pipeline.books.calls)

    assert pipeline.deliver(event(event_id="e-2")) is Outcome.UNCHANGED
    assert pipeline.books.calls[calls:] == []


def test_a_permanent_problem_is_dead_lettered_with_its_reason_and_the_tenant_told_once():
    pipeline = Pipeline()
    pipeline.moment.add(customer(7), invoice(9, 20002, credit_note=True))  # credits nothing

    assert pipeline.deliver(event()) is Outcome.FAILED

    [letter] = pipeline.dlq.letters
    assert "names no credited invoice" in letter["reason"]
    [notice] = pipeline.notifier.notices
    assert notice["subject"] == "invoice 9 was not transferred" and "Fix it in Moment" in notice["message"]
    assert pipeline.state.get("acme", "invoice", 9).last_outcome == "failed"


def test_a_transient_failure_on_the_last_allowed_delivery_is_dead_lettered_not_lost():
    pipeline = Pipeline()
    pipeline.moment.add(customer(7), invoice(9, 20002))
    pipeline.books.lose_next_create_answer = True

    assert pipeline.deliver(event(), receive_count=3) is Outcome.FAILED

    assert "gave up after 3 deliveries" in pipeline.dlq.letters[0]["reason"]
    assert len(pipeline.books.documents_for(20002)) == 1  # made; a replay adopts it, never a second


def test_a_paused_tenants_events_are_parked_without_a_request():
    pipeline = Pipeline(status=TenantStatus.PAUSED)
    pipeline.moment.add(customer(7))

    assert pipeline.deliver(event("customer", 7)) is Outcome.PARKED

    assert [e.event_id for e in pipeline.parked.of("acme")] == ["e-1"]
    assert pipeline.books.calls == [] and pipeline.moment.calls == []
