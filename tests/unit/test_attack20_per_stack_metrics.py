"""Attack on #20 item 4 ("every other per-stack name includes the stack"): two stacks in one account and
region. Their custom metrics shared the namespace MomentSync (dimension service=momentsync), so one
stack's connect failures, webhook 404s or tenant health fired the other stack's alarms (a stranger
provoking a dev stack paged production's operator)."""

from __future__ import annotations

from typing import Any

from local.template import LocalNames, Resolver, functions, load_template


def _resolved(stack_name: str) -> tuple[set[str], dict[str, set[str]], str]:
    """(the namespaces the functions emit into, each alarm's custom namespaces, the dashboard body)."""
    template = load_template()
    names = LocalNames(stack_name=stack_name)
    for logical_id in template["Resources"]:
        names.physical.setdefault(logical_id, f"{stack_name}-{logical_id}")
        names.attributes.setdefault((logical_id, "QueueName"), f"{stack_name}-{logical_id}")
    resolver = Resolver(template, names)
    emitted = {
        str(resolver.resolve(spec.environment["POWERTOOLS_METRICS_NAMESPACE"]))
        for spec in functions(template)
        if "POWERTOOLS_METRICS_NAMESPACE" in spec.environment
    }
    alarms: dict[str, set[str]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        metrics: list[Any] = [props] + [
            m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m
        ]
        custom = {
            str(resolver.resolve(m["Namespace"]))
            for m in metrics
            if "Namespace" in m and not str(resolver.resolve(m["Namespace"])).startswith("AWS/")
        }
        if custom:
            alarms[logical_id] = custom
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = body.replace("${AWS::StackName}", stack_name)
    return emitted, alarms, dashboard


def test_two_stacks_in_one_account_never_share_a_metric_series_or_an_alarm_input():
    prod_emitted, prod_alarms, prod_dashboard = _resolved("momentsync-prod")
    dev_emitted, dev_alarms, dev_dashboard = _resolved("momentsync-dev")
    assert len(prod_emitted) == 1 and len(dev_emitted) == 1
    assert prod_emitted.isdisjoint(dev_emitted)
    assert {"WebhookServerErrorsAlarm", "TenantNeedsReauthAlarm", "WebhookNotFoundBurstAlarm"} <= set(
        prod_alarms
    )
    for logical_id, namespaces in prod_alarms.items():
        assert namespaces == prod_emitted, logical_id  # reads what this stack's functions emit
        assert namespaces.isdisjoint(dev_alarms[logical_id]), logical_id
    (ours,) = prod_emitted
    (theirs,) = dev_emitted
    assert ours in prod_dashboard and theirs not in prod_dashboard
    assert theirs in dev_dashboard and ours not in dev_dashboard
