"""Deep-check Lambda: on its own (daily) schedule, every tenant's linked records compared with the
books; drift reported, nothing re-created. Logic: momentsync.reconcile.deep_check"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.observability import logger, metrics
from momentsync.settings import processor_settings
from momentsync.wiring.deep_check import build_deep_check_run

settings = processor_settings()
dynamodb = boto3.resource("dynamodb")
deep_check_run = build_deep_check_run(
    settings, dynamodb=dynamodb, secretsmanager=boto3.client("secretsmanager"), sns=boto3.client("sns")
)
tenants = DynamoTenantRepository(dynamodb.Table(settings.tenants_table))


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = deep_check_run.run(tenants.list(), lambda: context.get_remaining_time_in_millis() / 1000)
    # Graphable and alarmable next to the one SNS summary per run.
    metrics.add_metric(name="DeepCheckDrift", unit=MetricUnit.Count, value=result["drift"])
    metrics.add_metric(name="DeepCheckRecords", unit=MetricUnit.Count, value=result["checked"])
    return result
