"""Attack on issue 14's not_found burst alert (sync/not_found.py) on a real (moto) transfer log.

1. A steady trickle: one not_found every 65 s for an hour (a tenant with a wrong Moment company code
   and ordinary traffic). Before: the sliding 10-minute window held exactly 10 at every event from
   the 10th on, so the operator got an alert per event (47 in the hour), not one per burst.
2. The cost of the check in a flood: the query had no Limit, so each not_found read a whole 1 MB
   page of the tenant's log (DynamoDB's Limit applies before the filter; without it a page is
   1 MB): about 128 read units per event once the window holds that much.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.envelope import QueueEnvelope
from momentsync.sync.not_found import NotFoundBurstWatch
from momentsync.sync.transfer_log import Outcome, TransferLogEntry


class Alerts:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def not_found_burst(self, **kwargs) -> None:
        self.sent.append(kwargs)


class CountingTable:
    """The real table, counting what each query read."""

    def __init__(self, table) -> None:
        self._table = table
        self.scanned: list[int] = []

    def query(self, **kwargs):
        page = self._table.query(**kwargs)
        self.scanned.append(page["ScannedCount"])
        return page

    def __getattr__(self, name):
        return getattr(self._table, name)


@pytest.fixture
def table():
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="eu-north-1")
        yield dynamodb.create_table(
            TableName="log",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "tenant_id", "AttributeType": "S"},
                {"AttributeName": "logged_at", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "tenant_id", "KeyType": "HASH"},
                {"AttributeName": "logged_at", "KeyType": "RANGE"},
            ],
        )


def envelope(n: int) -> QueueEnvelope:
    return QueueEnvelope(
        event_id=f"e-{n}",
        tenant_id="acme",
        entity_type="customer",
        entity_id=1000 + n,
        moment_event="UPDATE",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        payload={},
    )


def log_and_observe(log, watch, now, n: int, outcome: Outcome = Outcome.NOT_FOUND) -> None:
    event = envelope(n)
    log.record(
        TransferLogEntry(
            tenant_id="acme",
            event_id=event.event_id,
            entity_type="customer",
            entity_id=event.entity_id,
            outcome=outcome,
            logged_at=now,
            reason="x" * 300,
        )
    )
    if outcome is Outcome.NOT_FOUND:
        watch.observe(event)


def test_a_steady_trickle_of_not_found_alerts_once_per_window_not_once_per_event(table):
    log = DynamoTransferLog(table, timedelta(days=1))
    clock = {"now": datetime(2026, 1, 1, 8, 0, 30, tzinfo=UTC)}
    alerts = Alerts()
    watch = NotFoundBurstWatch(log, alerts, clock=lambda: clock["now"])

    for n in range(56):  # one every 65 s: the 10-minute window always holds exactly 10
        clock["now"] = datetime(2026, 1, 1, 8, 0, 30, tzinfo=UTC) + timedelta(seconds=65 * n)
        log_and_observe(log, watch, clock["now"], n)

    assert 1 <= len(alerts.sent) <= 7, len(alerts.sent)  # at most one per 10-minute window (~61 min)


def test_a_burst_alerts_once(table):
    log = DynamoTransferLog(table, timedelta(days=1))
    now = datetime(2026, 1, 1, 8, 0, 1, tzinfo=UTC)
    alerts = Alerts()
    watch = NotFoundBurstWatch(log, alerts, clock=lambda: now)

    for n in range(30):
        log_and_observe(log, watch, now + timedelta(milliseconds=n), n)

    assert len(alerts.sent) == 1
    assert alerts.sent[0]["count"] == 10


def test_the_burst_check_reads_a_bounded_number_of_items_in_a_flood(table):
    counting = CountingTable(table)
    log = DynamoTransferLog(counting, timedelta(days=1))
    start = datetime(2026, 1, 1, 8, 0, 1, tzinfo=UTC)
    for n in range(400):  # the tenant's ordinary traffic in the window
        log_and_observe(log, None, start + timedelta(milliseconds=n), n, Outcome.SYNCED)
    alerts = Alerts()
    now = start + timedelta(seconds=10)
    watch = NotFoundBurstWatch(log, alerts, clock=lambda: now)

    for n in range(400, 420):  # then a flood of made-up ids
        log_and_observe(log, watch, now + timedelta(milliseconds=n), n)

    assert len(alerts.sent) == 1
    # Once the flood is under way, each check reads about the threshold's worth of entries.
    assert max(counting.scanned[-5:]) <= 50, counting.scanned[-5:]
