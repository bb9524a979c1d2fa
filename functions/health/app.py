"""Scheduled tenant-health check: metrics for the stack's alarms, one operator message per incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.aws.notifications import DynamoNotificationThrottle, SnsHealthAlerts
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.health import check_health
from momentsync.observability import logger, metrics, tracer
from momentsync.settings import health_settings

settings = health_settings()
dynamodb = boto3.resource("dynamodb")
tenants = DynamoTenantRepository(dynamodb.Table(settings.tenants_table))
parked = DynamoParkedEvents(dynamodb.Table(settings.parked_events_table))
transfers = DynamoTransferLog(dynamodb.Table(settings.transfer_log_table), timedelta(days=1))  # reads only
# An incident is announced once; it re-arms when it clears (or after a week, as a reminder).
throttle = DynamoNotificationThrottle(dynamodb.Table(settings.notifications_table), timedelta(days=7))
alerts = SnsHealthAlerts(boto3.client("sns"), settings.operator_topic_arn, stage=settings.stage)


@logger.inject_lambda_context(clear_state=True, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = check_health(
        tenants.list(),
        parked=parked,
        transfers=transfers,
        throttle=throttle,
        alerts=alerts,
        now=datetime.now(UTC),
        parked_limit=timedelta(minutes=settings.health_parked_minutes),
        quiet_after=timedelta(days=settings.health_quiet_days),
    )
    for check, tenants_failing in report.counts().items():
        metrics.add_metric(name=f"TenantHealth_{check}", unit=MetricUnit.Count, value=tenants_failing)
    return {"findings": len(report.findings), "alerted": len(report.alerted), **report.counts()}
