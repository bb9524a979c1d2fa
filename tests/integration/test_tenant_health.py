"""Tenant-health alarms (issue 16): needs re-auth, parked longer than the limit, quiet; one operator
message per tenant and incident on the stack's topic, re-armed when the incident clears; the scheduled
function's metrics feed the alarms in template.yaml."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from local.lambda_runtime import LocalLambdaContext
from momentsync.aws.notifications import DynamoNotificationThrottle, SnsHealthAlerts
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.envelope import QueueEnvelope
from momentsync.health import check_health
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.tenants import TenantStatus

NOW = datetime.now(UTC)


def table(stack, logical_id: str):
    return stack.aws.resource("dynamodb").Table(stack.physical(logical_id))


@pytest.fixture
def operator_inbox(paused_stack):
    """An SQS queue subscribed to the operator topic: what an operator's e-mail would get."""
    sqs, sns = paused_stack.aws.client("sqs"), paused_stack.aws.client("sns")
    url = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=paused_stack.physical("AlarmTopic"), Protocol="sqs", Endpoint=arn)

    def read() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    return read


def parked_event(tenant_id: str, received_at: datetime) -> QueueEnvelope:
    return QueueEnvelope(
        event_id=f"evt-{uuid.uuid4().hex[:12]}",
        tenant_id=tenant_id,
        entity_type="invoice",
        entity_id=1,
        moment_event="UPDATE",
        received_at=received_at,
        payload={},
    )


def run_checks(stack, tenant_ids, *, now=NOW):
    tenants = DynamoTenantRepository(table(stack, "TenantsTable"))
    return check_health(
        [tenants.require(t) for t in tenant_ids],
        parked=DynamoParkedEvents(table(stack, "ParkedEventsTable")),
        transfers=DynamoTransferLog(table(stack, "TransferLogTable"), timedelta(days=1)),
        throttle=DynamoNotificationThrottle(table(stack, "NotificationsTable"), timedelta(days=7)),
        alerts=SnsHealthAlerts(stack.aws.client("sns"), stack.physical("AlarmTopic"), stage="dev"),
        now=now,
        parked_limit=timedelta(minutes=60),
        quiet_after=timedelta(days=3),
    )


def test_each_check_finds_its_tenant_and_alerts_once_per_incident(paused_stack, make_tenant, operator_inbox):
    reauth = make_tenant(TenantStatus.NEEDS_REAUTH).tenant.tenant_id
    paused = make_tenant(TenantStatus.PAUSED).tenant.tenant_id
    busy = make_tenant().tenant.tenant_id
    parked = DynamoParkedEvents(table(paused_stack, "ParkedEventsTable"))
    parked.park(parked_event(paused, NOW - timedelta(minutes=90)), "tenant is paused")
    parked.park(parked_event(busy, NOW - timedelta(minutes=5)), "tenant is paused")  # young: fine
    DynamoTransferLog(table(paused_stack, "TransferLogTable"), timedelta(days=1)).record(
        TransferLogEntry(
            tenant_id=busy,
            event_id="e1",
            entity_type="customer",
            entity_id=1,
            outcome=Outcome.SYNCED,
            logged_at=NOW - timedelta(hours=1),
        )
    )
    ids = [reauth, paused, busy]

    report = run_checks(paused_stack, ids)
    assert {(f.tenant_id, f.check) for f in report.findings} == {
        (reauth, "needs_reauth"),
        (paused, "parked_too_long"),
    }
    messages = operator_inbox()
    assert sorted(m["Subject"] for m in messages) == sorted(
        [
            f"momentsync [dev]: tenant {reauth}: needs_reauth",
            f"momentsync [dev]: tenant {paused}: parked_too_long",
        ]
    )
    assert any(f"momentsync tenants connect-url {reauth}" in m["Message"] for m in messages)

    # Four days on, nothing transferred: the busy tenant is quiet and its young parked event is now
    # old too; the earlier incidents are not announced again.
    later = run_checks(paused_stack, ids, now=NOW + timedelta(days=4))
    assert {(f.tenant_id, f.check) for f in later.alerted} == {(busy, "quiet"), (busy, "parked_too_long")}
    assert sorted(m["Subject"] for m in operator_inbox()) == [
        f"momentsync [dev]: tenant {busy}: parked_too_long",
        f"momentsync [dev]: tenant {busy}: quiet",
    ]

    # Fixed, then broken again: a new incident, announced again.
    tenants = DynamoTenantRepository(table(paused_stack, "TenantsTable"))
    fixed = tenants.require(reauth)
    fixed.status = TenantStatus.ACTIVE
    tenants.save(fixed)
    assert not [f for f in run_checks(paused_stack, [reauth]).findings if f.check == "needs_reauth"]
    broken = tenants.require(reauth)
    broken.status = TenantStatus.NEEDS_REAUTH
    tenants.save(broken)
    assert [f.check for f in run_checks(paused_stack, [reauth]).alerted] == ["needs_reauth"]


def test_disabled_tenants_are_not_watched(paused_stack, make_tenant):
    disabled = make_tenant(TenantStatus.DISABLED).tenant.tenant_id
    assert run_checks(paused_stack, [disabled], now=NOW + timedelta(days=30)).findings == []


def test_the_scheduled_function_emits_one_metric_per_check(paused_stack, make_tenant, capsys):
    make_tenant(TenantStatus.NEEDS_REAUTH)
    result = paused_stack.handlers["HealthFunction"]({}, LocalLambdaContext(function_name="HealthFunction"))
    assert result["needs_reauth"] >= 1
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    metric_names = {
        m["Name"] for line in emitted for d in line["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]
    }
    assert {"TenantHealth_needs_reauth", "TenantHealth_parked_too_long", "TenantHealth_quiet"} <= metric_names
    # The alarms read the same names and dimensions.
    from local.template import load_template

    resources = load_template()["Resources"]
    for check in ("needs_reauth", "parked_too_long", "quiet"):
        [alarm] = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
            and r["Properties"].get("MetricName") == f"TenantHealth_{check}"
        ]
        assert alarm["Properties"]["Namespace"] == {"Fn::Sub": "MomentSync/${AWS::StackName}"}
        assert emitted[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "MomentSync/momentsync-local"
        assert {d["Name"] for d in alarm["Properties"]["Dimensions"]} == set(
            emitted[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        )
