"""The operator's failure alarm watches metrics our functions really emit, with the exact dimensions
the alarm names (a CloudWatch alarm on a metric matches its dimension set exactly, or sees nothing)."""

from __future__ import annotations

import json

import pytest

from local.template import load_template


def emitted(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def alarm_metrics() -> dict[str, dict]:
    alarm = load_template()["Resources"]["WebhookServerErrorsAlarm"]["Properties"]
    return {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}


@pytest.mark.parametrize(
    ("reason", "metric_id"), [("enqueue_failed", "enqueue"), ("internal_error", "internal")]
)
def test_a_webhook_we_could_not_queue_is_counted_as_the_alarm_expects(stack, capsys, reason, metric_id):
    capsys.readouterr()
    stack.function_module("WebhookFunction")._count(reason, 503)
    [blob] = emitted(capsys)
    wanted = alarm_metrics()[metric_id]
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    # The namespace carries the stack's name (#20: two stacks never add into one series).
    assert directive["Namespace"] == wanted["Namespace"]["Fn::Sub"].replace(
        "${AWS::StackName}", stack.config.stack_name
    )
    assert [m["Name"] for m in directive["Metrics"]] == [wanted["MetricName"]]
    dimensions = {d["Name"]: d["Value"] for d in wanted["Dimensions"]}
    assert set(directive["Dimensions"][0]) == set(dimensions)
    assert {name: blob[name] for name in dimensions} == dimensions


def test_a_client_error_is_never_counted_as_a_failure(stack, capsys):
    capsys.readouterr()
    stack.function_module("WebhookFunction")._count("not_found", 404)
    names = {m["Name"] for b in emitted(capsys) for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert names == {"WebhookRejected"}
