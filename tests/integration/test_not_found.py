"""``not_found`` (Moment has no such record and we never linked one) is its own outcome, apart from
``deleted`` (a record we linked that Moment no longer has); a burst of it reaches the operator.
Before (issue 14): an id Moment does not know ended ``deleted``, and nobody was told."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.cli.main import app
from momentsync.operations.status import tenant_report
from momentsync.sync.transfer_log import Outcome

UNKNOWN_IDS = [900_000_000 + i for i in range(10)]


@pytest.fixture
def operator_inbox(stack):
    """An SQS queue subscribed to the operator topic, as an operator's subscription would be."""
    sqs, sns = stack.aws.client("sqs"), stack.aws.client("sns")
    url = sqs.create_queue(QueueName=f"operator-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(
        TopicArn=stack.physical("AlarmTopic"),
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


def test_an_unknown_id_is_not_found_and_a_deleted_record_is_deleted(pipeline, tmp_path, monkeypatch):
    customer = pipeline.driver.create_customer(name="Borte AS")
    pipeline.settle()
    pipeline.driver.delete_customer(customer.id)
    pipeline.driver.post({"event": "UPDATE", "customer": {"id": UNKNOWN_IDS[0]}})
    pipeline.settle()

    assert pipeline.last("customer", customer.id).outcome is Outcome.DELETED
    unknown = pipeline.last("customer", UNKNOWN_IDS[0])
    assert unknown.outcome is Outcome.NOT_FOUND
    assert "never linked" in unknown.reason
    report = tenant_report(
        pipeline.tenant(),
        sync_state=DynamoSyncState(
            pipeline.stack.aws.resource("dynamodb").Table(pipeline.stack.environment["SYNC_STATE_TABLE"])
        ),
        parked=DynamoParkedEvents(
            pipeline.stack.aws.resource("dynamodb").Table(pipeline.stack.environment["PARKED_EVENTS_TABLE"])
        ),
    )
    [customers] = [e for e in report.entities if e.entity_type == "customer"]
    assert customers.by_outcome.get("deleted") == 1 and customers.by_outcome.get("not_found") == 1

    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(pipeline.stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))
    runner = CliRunner()
    status = runner.invoke(app, ["--local", "status", pipeline.tenant_id])
    assert status.exit_code == 0, status.output
    assert "customer: 1 deleted in Moment, 1 not found in Moment" in status.output
    logged = runner.invoke(app, ["--local", "--json", "log", pipeline.tenant_id, "--outcome", "not_found"])
    assert logged.exit_code == 0, logged.output
    assert [e["entity_id"] for e in json.loads(logged.stdout)] == [UNKNOWN_IDS[0]]


def test_a_burst_of_not_found_is_reported_to_the_operator_once(pipeline, operator_inbox):
    operator_inbox()  # whatever earlier tests left
    for moment_id in UNKNOWN_IDS + [UNKNOWN_IDS[-1] + 1]:  # 11: the alert fires at the 10th only
        pipeline.driver.post({"event": "UPDATE", "invoice": {"id": moment_id}})
    pipeline.settle()

    outcomes = [e.outcome for e in pipeline.log() if e.entity_type == "invoice"]
    assert outcomes == [Outcome.NOT_FOUND] * 11
    alerts = [
        m
        for m in operator_inbox()
        if m["MessageAttributes"]["kind"]["StringValue"] == "not_found_burst"
        and m["MessageAttributes"]["tenant_id"]["StringValue"] == pipeline.tenant_id
    ]
    assert len(alerts) == 1
    assert "404 for 10 records never linked" in alerts[0]["Body"]
    assert "rotate-secret" in alerts[0]["Body"]
