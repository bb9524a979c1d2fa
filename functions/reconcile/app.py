"""Reconcile Lambda: on a schedule, a sweep per tenant. Logic: momentsync.reconcile"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.observability import logger, metrics
from momentsync.settings import reconcile_settings
from momentsync.wiring.reconcile import build_reconcile_run

reconcile_run = build_reconcile_run(reconcile_settings())


@logger.inject_lambda_context(clear_state=True, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reconcile_run.run(lambda: context.get_remaining_time_in_millis() / 1000)
