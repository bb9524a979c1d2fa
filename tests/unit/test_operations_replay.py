"""Replay pieces that need no queue: the move task (Stubber: moto lacks StartMessageMoveTask),
pacing, and reading dead letters SQS moved itself (no reason attributes)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from botocore.stub import Stubber

from momentsync.aws.redrive import replay_all_with_move_task
from momentsync.dead_letters import (
    SQS_REDRIVE_CLASS,
    DeadLetterFilter,
    parse_dead_letter,
)
from momentsync.operations.replay import Pacer

DLQ_URL = "https://sqs.eu-north-1.amazonaws.com/123456789012/momentsync-prod-dead-letters.fifo"
QUEUE_URL = "https://sqs.eu-north-1.amazonaws.com/123456789012/momentsync-prod-events.fifo"
DLQ_ARN = "arn:aws:sqs:eu-north-1:123456789012:momentsync-prod-dead-letters.fifo"
QUEUE_ARN = "arn:aws:sqs:eu-north-1:123456789012:momentsync-prod-events.fifo"


class Audit:
    def __init__(self):
        self.records = []

    def record(self, **kwargs):
        self.records.append(kwargs)


def test_replay_all_starts_a_move_task_from_the_dlq_to_the_event_queue():
    sqs = boto3.client("sqs", region_name="eu-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    audit = Audit()
    with Stubber(sqs) as stub:
        attributes = ["QueueArn", "ApproximateNumberOfMessages"]
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": DLQ_ARN, "ApproximateNumberOfMessages": "17"}},
            {"QueueUrl": DLQ_URL, "AttributeNames": attributes},
        )
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": QUEUE_ARN, "ApproximateNumberOfMessages": "0"}},
            {"QueueUrl": QUEUE_URL, "AttributeNames": attributes},
        )
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 500},
        )
        task = replay_all_with_move_task(
            sqs,
            dead_letter_queue_url=DLQ_URL,
            event_queue_url=QUEUE_URL,
            audit=audit,
            actor="arn:me",
            rate=900,
        )
        stub.assert_no_pending_responses()

    assert (task.task_handle, task.source_arn, task.destination_arn) == ("task-1", DLQ_ARN, QUEUE_ARN)
    assert task.approximate_messages == 17
    [record] = audit.records
    assert record["action"] == "dlq.replay_all" and record["actor"] == "arn:me"
    assert record["details"]["task_handle"] == "task-1"


def test_pacer_spaces_sends():
    clock, slept = [100.0], []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        clock[0] += seconds

    pacer = Pacer(4, sleep=sleep, monotonic=lambda: clock[0])
    for _ in range(3):
        pacer.wait()
    assert slept == [0.25, 0.25]
    unpaced = Pacer(None, sleep=sleep, monotonic=lambda: clock[0])
    unpaced.wait()
    unpaced.wait()
    assert slept == [0.25, 0.25]


def test_a_message_sqs_moved_itself_is_read_without_reason_attributes():
    body = (
        '{"event_id":"e1","tenant_id":"acme","entity_type":"invoice","entity_id":5,"moment_event":"UPDATE",'
        '"received_at":"2026-11-23T08:00:00Z","payload":{}}'
    )
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    letter = parse_dead_letter(
        {
            "MessageId": "m1",
            "Body": body,
            "Attributes": {
                "MessageGroupId": "acme",
                "SentTimestamp": str(int(now.timestamp() * 1000) - 60_000),
            },
            "MessageAttributes": {"entity_type": {"DataType": "String", "StringValue": "invoice"}},
        },
        now,
    )
    assert (letter.tenant_id, letter.entity_id, letter.event_id) == ("acme", 5, "e1")
    assert letter.error_class == SQS_REDRIVE_CLASS and "maxReceiveCount" in letter.reason
    assert letter.age_seconds == 60 and letter.receive_count is None


def test_an_unreadable_body_is_still_listed_under_its_group():
    letter = parse_dead_letter(
        {
            "MessageId": "m2",
            "Body": "{oops",
            "Attributes": {"MessageGroupId": "acme", "SentTimestamp": "0"},
            "MessageAttributes": {
                "reason": {"DataType": "String", "StringValue": "unreadable queue message: body"},
                "error_class": {"DataType": "String", "StringValue": "UnparseableMessage"},
                "dead_lettered_at": {"DataType": "String", "StringValue": "2026-11-23T08:00:00+00:00"},
            },
        },
        datetime(2026, 11, 23, 8, 0, 30, tzinfo=UTC),
    )
    assert (letter.tenant_id, letter.envelope, letter.age_seconds) == ("acme", None, 30)
    assert letter.detail()["unparseable_body"] == "{oops"
    assert DeadLetterFilter().is_empty and not DeadLetterFilter(reason="x").is_empty
