"""template.yaml, operations part: alarms, the dashboard, and the processor's new permissions."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest

from local.template import load_template


@pytest.fixture(scope="module")
def resources():
    return load_template()["Resources"]


def test_alarms_cover_dead_letters_lag_errors_5xx_and_throttles(resources):
    alarms = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    metrics = {(json.dumps(p.get("Namespace")), p.get("MetricName")) for p in alarms.values()}
    assert ('"AWS/SQS"', "ApproximateNumberOfMessagesVisible") in metrics
    assert ('"AWS/SQS"', "ApproximateAgeOfOldestMessage") in metrics
    assert ('"AWS/Lambda"', "Errors") in metrics
    # Not the API's 5xx (anyone can provoke those): our own failure metrics and function errors (#20).
    assert ('"AWS/ApiGateway"', "5xx") not in metrics
    own = {
        (json.dumps(m["MetricStat"]["Metric"]["Namespace"]), m["MetricStat"]["Metric"]["MetricName"])
        for m in alarms["WebhookServerErrorsAlarm"]["Metrics"]
        if "MetricStat" in m
    }
    ours = json.dumps({"Fn::Sub": "MomentSync/${AWS::StackName}"})  # per stack (#20)
    assert own == {(ours, "WebhookFailed"), (ours, "ConnectFailed"), ('"AWS/Lambda"', "Errors")}
    assert any(
        m["MetricStat"]["Metric"]["MetricName"] == "Throttles"
        for p in alarms.values()
        for m in p.get("Metrics", [])
        if "MetricStat" in m
    )
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    dlq = alarms["DeadLetterQueueAlarm"]
    assert (dlq["Threshold"], dlq["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarms["EventQueueAgeAlarm"]["Threshold"] == {"Ref": "QueueAgeAlarmSeconds"}


def test_alarm_topic_uses_a_key_cloudwatch_may_use(resources):
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "OperatorAlertsKey"}
    statements = resources["OperatorAlertsKey"]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    # Confused deputy (#20): only this account's alarms of this stack may use the key.
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source = cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(":alarm:${AWS::StackName}:*") and "${AWS::AccountId}" in source


def test_only_this_stacks_alarms_match_the_key_policy_not_a_stack_whose_name_extends_ours(resources):
    """ArnLike with ``{stack}-*`` let stack ``momentsync-prod-2``'s alarms use ``momentsync-prod``'s key.
    Alarms are named ``{stack}:{logical id}``; a stack name cannot hold ``:``, so no other stack's alarm
    name starts with ``{stack}:``."""
    statements = resources["OperatorAlertsKey"]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    pattern = cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]

    def arn_like(stack: str) -> str:
        return (
            pattern.replace("${AWS::Partition}", "aws")
            .replace("${AWS::Region}", "eu-north-1")
            .replace("${AWS::AccountId}", "123456789012")
            .replace("${AWS::StackName}", stack)
        )

    alarms = {k: r for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmName"] == {"Fn::Sub": "${AWS::StackName}:" + logical_id}
        ours = f"arn:aws:cloudwatch:eu-north-1:123456789012:alarm:momentsync-prod:{logical_id}"
        theirs = f"arn:aws:cloudwatch:eu-north-1:123456789012:alarm:momentsync-prod-2:{logical_id}"
        assert fnmatch.fnmatchcase(ours, arn_like("momentsync-prod"))
        assert not fnmatch.fnmatchcase(theirs, arn_like("momentsync-prod"))


def test_dashboard_is_valid_json_with_stack_wide_metrics_only(resources):
    body = resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
    text = json.dumps(dashboard)
    for metric in (
        "WebhookReceived",
        "EventsSynced",
        "EventsFailed",
        "FikenRateLimited",
        "ApproximateAgeOfOldestMessage",
    ):
        assert metric in text
    assert "tenant" not in text.lower()  # per-tenant figures are properties, never dimensions


def test_processor_may_only_publish_to_the_operator_topic_and_claim_notifications(resources):
    statements = [
        s for policy in resources["ProcessorFunction"]["Properties"]["Policies"] for s in policy["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements if "Sid" in s}
    assert by_sid["AnnounceDeadLetters"] == {
        "Sid": "AnnounceDeadLetters",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": {"Ref": "AlarmTopic"},
    }
    assert by_sid["NotificationThrottle"]["Resource"] == {"Fn::GetAtt": ["NotificationsTable", "Arn"]}
    [ses] = [s for s in statements if "Fn::If" in s]
    email = ses["Fn::If"][1]
    assert email["Action"] == "ses:SendEmail"
    assert email["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "NotificationSender"}}}


def test_the_dashboard_name_is_unique_per_region_as_dashboards_are_global(resources):
    """Attack (#20, per-stack names): CloudWatch dashboards are global per account, and samconfig.toml
    deploys the stack name momentsync-prod to eu-north-1 AND eu-west-1: '${AWS::StackName}-operations'
    made the second deploy overwrite the first's dashboard (PutDashboard creates or replaces), and
    deleting either stack deleted the other's."""
    name = resources["OperationsDashboard"]["Properties"]["DashboardName"]["Fn::Sub"]
    assert "${AWS::StackName}" in name and "${AWS::Region}" in name
