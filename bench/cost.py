"""Cost per million events from what part 4 counted, at stated list prices.

Prices are us-east-1 list prices as collected in docs/reference/anchors.md §3.5, no
free tier; eu-north-1 differs slightly: check the AWS price pages before quoting a customer. Lambda is
priced for arm64, the architecture template.yaml deploys.
"""

from __future__ import annotations

import math
from typing import Any

PRICES_USD = {
    "region": "us-east-1 list prices (docs/reference/anchors.md §3.5), no free tier",
    "api_gateway_http_per_million_requests": 1.00,
    "lambda_per_million_requests": 0.20,
    "lambda_arm64_per_gb_second": 0.0000133334,
    "sqs_fifo_per_million_requests": 0.50,
    "dynamodb_on_demand_per_million_wru": 0.625,
    "dynamodb_on_demand_per_million_rru": 0.125,
    "secrets_manager_per_10k_api_calls": 0.05,
    "secrets_manager_per_secret_month": 0.40,
    "cloudwatch_logs_per_gb_ingested": 0.50,
}

# The roles whose AWS calls are billed per event: the two functions and Lambda's SQS poller.
BILLED_ROLES = ("webhook", "processor", "esm")


def cost_per_million(
    part4: dict[str, Any],
    *,
    memory_mb: int,
    secrets_per_tenant: float,
    webhook_ms: float | None = None,
    quiet_processor_ms: float | None = None,
) -> dict[str, Any]:
    """``webhook_ms``: the webhook's warm duration measured quietly (part 3); in part 4 the webhook
    shares two cores with moto, the emulators and 16 pollers, so its wall time there is mostly
    waiting for the interpreter, which a Lambda execution environment would not do.
    ``quiet_processor_ms``: the processor's mean duration per event of part 4's mix, from the
    one-event-at-a-time runs of part 2 (the same contention argument)."""
    events = part4["events"]
    aws = part4["_aws"]
    per_event = lambda count: count / events  # noqa: E731
    calls = aws.by_role(*BILLED_ROLES)
    sqs_requests = sum(count for op, count in calls.items() if op.startswith("sqs:"))
    empty_receives = sum(aws.empty_receives[role] for role in BILLED_ROLES)
    # Lambda's managed poller long-polls; the local stand-in short-polls when idle. Empty receives
    # are a per-queue, time-based cost in AWS, not a per-event one: left out here, shown apart.
    sqs_billed = sqs_requests - empty_receives
    secrets_calls = sum(count for op, count in calls.items() if op.startswith("secretsmanager:"))
    rru = sum(aws.rru[role] for role in BILLED_ROLES)
    wru = sum(aws.wru[role] for role in BILLED_ROLES)
    processor = part4["_invocations"]
    webhook = part4["_webhook_invocations"]
    gb = memory_mb / 1024
    # Lambda bills wall-clock per invocation, rounded up to the millisecond.
    billed = lambda invs: sum(math.ceil(i.wall * 1000) / 1000 for i in invs) * gb  # noqa: E731
    processor_gbs = billed(processor)
    webhook_gbs = (
        math.ceil(webhook_ms) / 1000 * gb * len(webhook) if webhook_ms is not None else billed(webhook)
    )
    cpu_gbs = sum(i.cpu for i in processor + webhook) * gb
    p = PRICES_USD
    million = 1_000_000
    lines = {
        "api_gateway": p["api_gateway_http_per_million_requests"],
        "lambda_requests": per_event(len(processor) + len(webhook)) * p["lambda_per_million_requests"],
        "lambda_gb_s_webhook": per_event(webhook_gbs) * million * p["lambda_arm64_per_gb_second"],
        "lambda_gb_s_processor": per_event(processor_gbs) * million * p["lambda_arm64_per_gb_second"],
        "sqs_fifo": per_event(sqs_billed) * p["sqs_fifo_per_million_requests"],
        "dynamodb": per_event(wru) * p["dynamodb_on_demand_per_million_wru"]
        + per_event(rru) * p["dynamodb_on_demand_per_million_rru"],
        "secrets_manager_calls": per_event(secrets_calls)
        * million
        / 10_000
        * p["secrets_manager_per_10k_api_calls"],
        "cloudwatch_logs": per_event(part4["log_bytes"])
        * million
        / 1e9
        * p["cloudwatch_logs_per_gb_ingested"],
    }
    total = sum(lines.values())
    cpu_only_total = (
        total
        - lines["lambda_gb_s_webhook"]
        - lines["lambda_gb_s_processor"]
        + per_event(cpu_gbs) * million * p["lambda_arm64_per_gb_second"]
    )
    quiet_total = None
    if quiet_processor_ms is not None:
        quiet_gbs_per_event = quiet_processor_ms / 1000 * gb
        quiet_total = (
            total
            - lines["lambda_gb_s_processor"]
            + quiet_gbs_per_event * million * p["lambda_arm64_per_gb_second"]
        )
    fixed = secrets_per_tenant * p["secrets_manager_per_secret_month"]
    return {
        "memory_mb": memory_mb,
        "prices": p,
        "per_event": {
            "aws_calls": {op: round(per_event(c), 3) for op, c in sorted(calls.items())},
            "sqs_billed_requests": round(per_event(sqs_billed), 3),
            "sqs_empty_receives_excluded": empty_receives,
            "dynamodb_rru": round(per_event(rru), 2),
            "dynamodb_wru": round(per_event(wru), 2),
            "secrets_manager_calls": round(per_event(secrets_calls), 4),
            "lambda_invocations": round(per_event(len(processor) + len(webhook)), 3),
            "processor_billed_ms": round(per_event(processor_gbs / gb) * 1000, 1),
            "processor_cpu_ms": round(per_event(sum(i.cpu for i in processor)) * 1000, 2),
            "webhook_billed_ms": round(per_event(webhook_gbs / gb) * 1000, 1),
            "webhook_duration_source": "part 3 warm p50" if webhook_ms is not None else "part 4 as measured",
            "log_bytes": round(per_event(part4["log_bytes"])),
        },
        "usd_per_million_events": {k: round(v, 2) for k, v in lines.items()},
        "usd_per_million_total": round(total, 2),
        "usd_per_million_total_if_billed_cpu_only": round(cpu_only_total, 2),
        "processor_ms_per_event_quiet": round(quiet_processor_ms, 1) if quiet_processor_ms else None,
        "usd_per_million_total_processor_quiet": round(quiet_total, 2) if quiet_total else None,
        "fixed_usd_per_tenant_month": round(fixed, 2),
        "fixed_equals_events": round(fixed / (total / million)) if total else None,
        "notes": [
            "processor duration as measured in part 4: it includes the waits for Fiken's 250 ms pacing, "
            "which Lambda bills, and waits for the interpreter on a busy 2-core rig, which Lambda would "
            "not; 'processor quiet' prices part 4's mix at part 2's one-at-a-time durations; "
            "'CPU only' is the floor if no wait cost anything",
            "Secrets Manager calls per event are low because one process served every tenant and caches "
            "credentials 60 s; deployed, each execution environment fetches a tenant's secret itself",
            "not included: Lambda START/END/REPORT log lines, Lambda's idle long polls of the queue, "
            "X-Ray, DynamoDB storage and PITR, data transfer, NAT (none is used)",
        ],
    }
