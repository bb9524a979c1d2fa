"""Dead letters on the local stack's FIFO DLQ: peek without consuming, filters, replay (dry run,
fresh dedup id, group = tenant, delete only after a successful send, audit, --max), and replay safety.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from botocore.exceptions import ClientError

from momentsync.aws.audit_log import DynamoAuditLog
from momentsync.aws.dead_letter_queue import DeadLetterQueue
from momentsync.aws.dead_letters import SqsDeadLetters
from momentsync.aws.notifications import LogNotifier
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.clock import utcnow
from momentsync.dead_letters import DeadLetterFilter
from momentsync.envelope import QueueEnvelope
from momentsync.errors import PermanentError
from momentsync.operations.replay import DeadLetterReplayer, ReplayStatus
from momentsync.sync.processor import EventProcessor, SyncResult
from momentsync.sync.sync_state import StaleWrite, SyncLink
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.wiring.processor import record_failure


def table(stack, logical_id: str):
    return stack.aws.resource("dynamodb").Table(stack.physical(logical_id))


def envelope(tenant_id: str, entity_type: str = "customer", entity_id: int = 7, **extra) -> QueueEnvelope:
    return QueueEnvelope(
        event_id=extra.pop("event_id", f"evt-{uuid.uuid4().hex[:12]}"),
        tenant_id=tenant_id,
        entity_type=entity_type,
        entity_id=entity_id,
        moment_event="UPDATE",
        received_at=datetime.now(UTC),
        payload={"customer": {"id": entity_id}},
        **extra,
    )


def dead_letter(
    stack, env: QueueEnvelope, reason: str = "VAT code missing", error_class: str = "PermanentError"
):
    """Dead-letters the way the processor does (SqsDeadLetters, reason attributes, group = tenant)."""
    return SqsDeadLetters(stack.aws.client("sqs"), stack.physical("DeadLetterQueue")).send(
        body=env.to_message_body(),
        tenant_id=env.tenant_id,
        reason=reason,
        error_class=error_class,
        entity_type=env.entity_type,
        event_id=env.event_id,
        receive_count=1,
    )


def main_queue_messages(stack) -> list[dict]:
    """Takes everything out of the (paused) event queue, as the processor's poller would."""
    sqs, url = stack.aws.client("sqs"), stack.physical("EventQueue")
    messages: list[dict] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


@pytest.fixture
def dlq(paused_stack) -> DeadLetterQueue:
    return DeadLetterQueue(paused_stack.aws.client("sqs"), paused_stack.physical("DeadLetterQueue"))


@pytest.fixture
def audit(paused_stack) -> DynamoAuditLog:
    return DynamoAuditLog(table(paused_stack, "AuditTable"))


def replayer(stack, audit, queue=None) -> DeadLetterReplayer:
    return DeadLetterReplayer(
        dead_letters=DeadLetterQueue(stack.aws.client("sqs"), stack.physical("DeadLetterQueue")),
        queue=queue or SqsEventQueue(stack.aws.client("sqs"), stack.physical("EventQueue")),
        audit=audit,
        actor="local:tester",
    )


def test_peek_does_not_consume(paused_stack, dlq):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    ids = {dead_letter(paused_stack, envelope(tenant, entity_id=i)) for i in range(3)}

    first = dlq.peek(DeadLetterFilter(tenant_id=tenant))
    second = dlq.peek(DeadLetterFilter(tenant_id=tenant))

    assert {d.message_id for d in first.dead_letters} == ids
    assert [d.message_id for d in second.dead_letters] == [d.message_id for d in first.dead_letters]
    assert dlq.depth().visible == 3 and dlq.depth().in_flight == 0
    letter = first.dead_letters[0]
    assert (letter.tenant_id, letter.entity_type, letter.error_class) == (
        tenant,
        "customer",
        "PermanentError",
    )
    assert letter.reason == "VAT code missing" and letter.receive_count == 1
    assert dlq.show(letter.message_id).event_id == letter.event_id  # type: ignore[union-attr]
    assert dlq.show("no-such-message") is None


def test_filters_by_tenant_type_reason_and_time(paused_stack, dlq):
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    dead_letter(paused_stack, envelope(a, "customer"), reason="VAT code missing on 3000")
    dead_letter(paused_stack, envelope(a, "invoice"), reason="Fiken 400: account 1920 not found")
    dead_letter(
        paused_stack,
        envelope(b, "invoice"),
        reason="gave up after 5 deliveries: Fiken 503",
        error_class="FikenUnavailable",
    )

    def matching(**where) -> list[tuple[str, str]]:
        return sorted((d.tenant_id, d.entity_type) for d in dlq.peek(DeadLetterFilter(**where)).dead_letters)

    assert matching(tenant_id=a) == [(a, "customer"), (a, "invoice")]
    assert matching(entity_type="invoice") == [(a, "invoice"), (b, "invoice")]
    assert matching(reason="vat CODE") == [(a, "customer")]
    assert matching(error_class="FikenUnavailable") == [(b, "invoice")]
    assert matching(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert len(matching(since=datetime.now(UTC) - timedelta(minutes=5))) == 3


def test_dry_run_changes_nothing(paused_stack, dlq, audit):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    dead_letter(paused_stack, envelope(tenant))

    report = replayer(paused_stack, audit).replay(DeadLetterFilter(tenant_id=tenant))

    assert report.dry_run and [i.status for i in report.items] == [ReplayStatus.WOULD_REPLAY]
    assert dlq.depth().visible == 1
    assert main_queue_messages(paused_stack) == []
    assert audit.query(tenant_id=tenant) == []


def test_replay_resends_in_the_tenant_group_with_a_fresh_dedup_id_and_audits(paused_stack, dlq, audit):
    tenant, other = f"t-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    originals = [envelope(tenant, entity_id=i) for i in (1, 2)]
    for env in originals:
        dead_letter(paused_stack, env)
    dead_letter(paused_stack, envelope(other))

    report = replayer(paused_stack, audit).replay(DeadLetterFilter(tenant_id=tenant), dry_run=False)

    assert (report.succeeded, report.failed) == (2, 0)
    sent = main_queue_messages(paused_stack)
    assert len(sent) == 2
    by_entity = {QueueEnvelope.from_message_body(m["Body"]).entity_id: m for m in sent}
    for original in originals:
        message = by_entity[original.entity_id]
        resent = QueueEnvelope.from_message_body(message["Body"])
        assert message["Attributes"]["MessageGroupId"] == tenant
        assert resent.origin == "replay" and resent.replay_of == original.event_id
        assert resent.event_id != original.event_id
        assert message["Attributes"]["MessageDeduplicationId"] == resent.event_id
    # Only the replayed ones left the DLQ; the other tenant's stays.
    assert [d.tenant_id for d in dlq.peek().dead_letters] == [other]
    records = audit.query(tenant_id=tenant)
    assert len(records) == 2
    assert {r.details["event_id"] for r in records} == {e.event_id for e in originals}
    assert all(r.action == "dlq.replay" and r.actor == "local:tester" for r in records)


def test_a_failed_send_leaves_the_dead_letter_in_place(paused_stack, dlq, audit):
    broken, healthy = f"x-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}"
    dead_letter(paused_stack, envelope(broken, entity_id=1))
    dead_letter(paused_stack, envelope(broken, entity_id=2))
    dead_letter(paused_stack, envelope(healthy))
    real = SqsEventQueue(paused_stack.aws.client("sqs"), paused_stack.physical("EventQueue"))

    class QueueRefusingOneTenant:
        def send(self, env, *, deduplication_id=None):
            if env.tenant_id == broken:
                raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")
            return real.send(env, deduplication_id=deduplication_id)

    report = replayer(paused_stack, audit, QueueRefusingOneTenant()).replay(dry_run=False)

    statuses = {(i.dead_letter.tenant_id, i.dead_letter.entity_id): i.status for i in report.items}
    assert statuses[(broken, 1)] is ReplayStatus.FAILED
    # The tenant's later dead letter is held back, so its events are never replayed out of order.
    assert statuses[(broken, 2)] is ReplayStatus.HELD
    assert statuses[(healthy, 7)] is ReplayStatus.REPLAYED
    assert (report.succeeded, report.failed) == (1, 2)
    assert sorted(d.entity_id for d in dlq.peek(DeadLetterFilter(tenant_id=broken)).dead_letters) == [1, 2]
    assert audit.query(tenant_id=broken) == []


def test_replay_respects_max(paused_stack, dlq, audit):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    for i in range(5):
        dead_letter(paused_stack, envelope(tenant, entity_id=i))

    report = replayer(paused_stack, audit).replay(
        DeadLetterFilter(tenant_id=tenant), max_messages=2, dry_run=False
    )

    assert report.succeeded == 2
    assert [
        QueueEnvelope.from_message_body(m["Body"]).entity_id for m in main_queue_messages(paused_stack)
    ] == [0, 1]
    assert dlq.depth().visible == 3


def test_replay_after_newer_events_does_not_regress(paused_stack, make_tenant, audit):
    """Event 1 fails and is dead-lettered, event 2 (newer) is applied, then event 1 is replayed.

    The fake use case behaves like the real ones: the event is a hint, the record is re-read from
    Moment, and the sync state refuses an older Moment state. The replay applies what Moment holds
    now, so the newer state stays.
    """
    stack = paused_stack
    tenant_id = make_tenant().tenant.tenant_id
    sync_state = DynamoSyncState(table(stack, "SyncStateTable"))
    t1 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    moment = {42: {"version": 1, "modified": t1, "valid": False}}
    applied: list[int] = []

    def sync_customer(env: QueueEnvelope, _tenant) -> SyncResult:
        record = dict(moment[env.entity_id])
        if not record["valid"]:
            raise PermanentError("VAT code missing on account 3000")
        link = SyncLink(
            tenant_id=env.tenant_id,
            entity_type="customer",
            moment_id=env.entity_id,
            last_outcome="synced",
            last_success_at=utcnow(),
            source_modified_at=record["modified"],
            details={"version": record["version"]},
        )
        try:
            sync_state.save(link)
        except StaleWrite:
            return SyncResult(Outcome.UNCHANGED)
        applied.append(record["version"])
        return SyncResult(Outcome.SYNCED, remote_id="fiken-42")

    processor = EventProcessor(
        tenants=DynamoTenantRepository(table(stack, "TenantsTable")),
        use_cases={"customer": sync_customer},
        transfer_log=DynamoTransferLog(table(stack, "TransferLogTable"), timedelta(days=1)),
        parked=DynamoParkedEvents(table(stack, "ParkedEventsTable")),
        dead_letters=SqsDeadLetters(stack.aws.client("sqs"), stack.physical("DeadLetterQueue")),
        notifier=LogNotifier(),
        record_failure=partial(record_failure, sync_state),
    )

    first = envelope(tenant_id, entity_id=42, event_id="evt-old")
    assert processor.process(first) is Outcome.FAILED
    moment[42] = {"version": 2, "modified": t1 + timedelta(hours=1), "valid": True}
    assert processor.process(envelope(tenant_id, entity_id=42)) is Outcome.SYNCED

    report = replayer(stack, audit).replay(DeadLetterFilter(tenant_id=tenant_id), dry_run=False)
    assert report.succeeded == 1
    [message] = main_queue_messages(stack)
    replayed = QueueEnvelope.from_message_body(message["Body"])
    assert replayed.replay_of == "evt-old"
    processor.process(replayed)

    assert 1 not in applied
    stored = sync_state.get(tenant_id, "customer", 42)
    assert stored is not None and stored.details["version"] == 2
    assert stored.source_modified_at == t1 + timedelta(hours=1)


def test_a_letter_moved_by_sqs_redrive_shows_the_reason_from_the_transfer_log(paused_stack, make_tenant):
    """SQS's own redrive (after maxReceiveCount) sets no attributes: the reason is joined from the log."""
    tenant_id = make_tenant().tenant.tenant_id
    env = envelope(tenant_id, entity_id=4242)
    sqs, url = paused_stack.aws.client("sqs"), paused_stack.physical("EventQueue")
    sqs.send_message(
        QueueUrl=url,
        MessageBody=env.to_message_body(),
        MessageGroupId=tenant_id,
        MessageDeduplicationId=env.event_id,
    )
    transfer_log = DynamoTransferLog(table(paused_stack, "TransferLogTable"), timedelta(days=1))
    transfer_log.record(
        TransferLogEntry(
            tenant_id=tenant_id,
            event_id=env.event_id,
            entity_type="customer",
            entity_id=4242,
            outcome=Outcome.RETRYING,
            logged_at=datetime.now(UTC),
            reason="TimeoutError: the processor ran out of time",
        )
    )
    for _ in range(20):  # deliveries that never delete it, as a crashing processor would, until SQS redrives
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        if not got:
            break
    queue = DeadLetterQueue(
        sqs, paused_stack.physical("DeadLetterQueue"), transfer_log=transfer_log, peek_visibility_seconds=5
    )
    [letter] = queue.peek(DeadLetterFilter(tenant_id=tenant_id)).dead_letters

    assert letter.error_class == "MaxReceiveCountExceeded"
    assert "moved by SQS" in letter.reason
    assert "last logged: retrying: TimeoutError: the processor ran out of time" in letter.reason
    assert queue.peek(DeadLetterFilter(tenant_id=tenant_id, reason="ran out of time")).dead_letters
