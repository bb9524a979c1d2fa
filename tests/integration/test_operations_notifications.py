"""Notifications on the local stack: one SES e-mail per incident (throttle table), and one message on
the operator topic for every dead letter, wired the way the processor wires them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from momentsync.aws.dead_letters import SqsDeadLetters
from momentsync.aws.notifications import (
    AlertingDeadLetters,
    DynamoNotificationThrottle,
    SesNotifier,
    SnsOperatorAlerts,
)
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.envelope import QueueEnvelope
from momentsync.errors import PermanentError
from momentsync.sync.processor import EventProcessor
from momentsync.sync.transfer_log import Outcome
from momentsync.wiring.processor import record_failure

SENDER = "momentsync@example.com"


def table(stack, logical_id: str):
    return stack.aws.resource("dynamodb").Table(stack.physical(logical_id))


def sent_emails(ses) -> int:
    return int(ses.get_send_quota()["SentLast24Hours"])


@pytest.fixture
def operator_inbox(paused_stack):
    """An SQS queue subscribed to the operator topic: what an operator's subscription would get."""
    sqs, sns = paused_stack.aws.client("sqs"), paused_stack.aws.client("sns")
    url = sqs.create_queue(QueueName=f"operator-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(
        TopicArn=paused_stack.physical("AlarmTopic"),
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )["SubscriptionArn"]

    def read() -> list[dict]:
        messages: list[dict] = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            messages.extend(batch)
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    yield read
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def processor(paused_stack):
    """The processor as wiring.py builds it with SES on, and a use case that always fails for good."""
    stack = paused_stack
    ses = stack.aws.client("ses")
    ses.verify_email_identity(EmailAddress=SENDER)  # moto, like SES, sends only from verified identities
    sync_state = DynamoSyncState(table(stack, "SyncStateTable"))
    dead_letters = AlertingDeadLetters(
        SqsDeadLetters(stack.aws.client("sqs"), stack.physical("DeadLetterQueue")),
        SnsOperatorAlerts(stack.aws.client("sns"), stack.physical("AlarmTopic"), stage="test"),
    )

    def failing(_envelope, _tenant):
        raise PermanentError("VAT code 3 has no Fiken VAT type")

    return EventProcessor(
        tenants=DynamoTenantRepository(table(stack, "TenantsTable")),
        use_cases={"invoice": failing},
        transfer_log=DynamoTransferLog(table(stack, "TransferLogTable"), timedelta(days=1)),
        parked=DynamoParkedEvents(table(stack, "ParkedEventsTable")),
        dead_letters=dead_letters,
        notifier=SesNotifier(ses, SENDER, DynamoNotificationThrottle(table(stack, "NotificationsTable"))),
        record_failure=partial(record_failure, sync_state),
    )


def invoice_event(tenant_id: str, invoice_id: int) -> QueueEnvelope:
    return QueueEnvelope(
        event_id=f"evt-{uuid.uuid4().hex[:12]}",
        tenant_id=tenant_id,
        entity_type="invoice",
        entity_id=invoice_id,
        moment_event="UPDATE",
        received_at=datetime.now(UTC),
        payload={},
    )


def test_identical_failures_send_one_email_but_announce_every_dead_letter(
    paused_stack, make_tenant, processor, operator_inbox
):
    tenant_id = make_tenant(notification_emails=["regnskap@acme.example"]).tenant.tenant_id
    ses = paused_stack.aws.client("ses")
    before = sent_emails(ses)

    assert processor.process(invoice_event(tenant_id, 501)) is Outcome.FAILED
    assert processor.process(invoice_event(tenant_id, 501)) is Outcome.FAILED  # same record, same reason
    assert sent_emails(ses) - before == 1
    assert processor.process(invoice_event(tenant_id, 502)) is Outcome.FAILED  # another record: new incident
    assert sent_emails(ses) - before == 2

    announced = operator_inbox()
    assert len(announced) == 3  # every dead letter, not only the first
    for message in announced:
        assert message["MessageAttributes"]["kind"]["StringValue"] == "dead_letter"
        assert message["MessageAttributes"]["tenant_id"]["StringValue"] == tenant_id
        assert "VAT code 3 has no Fiken VAT type" in message["Body"]
        assert "momentsync dlq show" in message["Body"]


def test_the_throttle_reopens_after_its_window(paused_stack):
    now = [datetime(2026, 11, 23, 8, 0, tzinfo=UTC)]
    throttle = DynamoNotificationThrottle(
        table(paused_stack, "NotificationsTable"), timedelta(hours=24), clock=lambda: now[0]
    )
    key = f"invoice#{uuid.uuid4().hex}#VAT code missing"

    assert throttle.claim("acme", key, kind="permanent_failure") is True
    assert throttle.claim("acme", key, kind="permanent_failure") is False
    assert throttle.claim("other-tenant", key, kind="permanent_failure") is True
    now[0] += timedelta(hours=25)  # TTL deletion is lazy: the condition itself must reopen the key
    assert throttle.claim("acme", key, kind="permanent_failure") is True


def test_a_failed_send_releases_the_claim(paused_stack, make_tenant):
    tenant = make_tenant(notification_emails=["ops@acme.example"]).tenant
    throttle = DynamoNotificationThrottle(table(paused_stack, "NotificationsTable"))
    # Not verified: moto (like SES) refuses the send.
    notifier = SesNotifier(paused_stack.aws.client("ses"), "unverified@nowhere.example", throttle)

    notifier.notify(tenant, kind="permanent_failure", subject="s", message="m", dedupe_key="k")

    assert throttle.claim(tenant.tenant_id, "k", kind="permanent_failure") is True


def test_dead_letter_announcement_names_unreadable_messages_too(paused_stack, operator_inbox):
    dead_letters = AlertingDeadLetters(
        SqsDeadLetters(paused_stack.aws.client("sqs"), paused_stack.physical("DeadLetterQueue")),
        SnsOperatorAlerts(paused_stack.aws.client("sns"), paused_stack.physical("AlarmTopic")),
    )
    dead_letters.send(body="{not json", tenant_id="acme", reason="unreadable queue message", error_class="X")

    [message] = operator_inbox()
    assert "an unreadable message" in message["Body"]
    assert message["MessageAttributes"]["kind"]["StringValue"] == "dead_letter"
