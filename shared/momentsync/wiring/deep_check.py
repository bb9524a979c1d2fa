"""The deep check's composition root: real adapters wired at cold start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from momentsync.aws.sweep_store import SweepStore
from momentsync.ports import DriftAlerts
from momentsync.reconcile.deep_check import DeepCheck, DeepCheckRun


def build_deep_check_run(
    settings: Any, *, dynamodb: Any, secretsmanager: Any, sns: Any | None = None
) -> DeepCheckRun:
    """The deep check with the processor's own sessions (``ProcessorSettings``): the same Fiken client,
    token refresh and per-tenant pacing as the events of the tenant, so it cannot outrun them."""
    from momentsync.aws.notifications import LogOperatorAlerts, SnsOperatorAlerts
    from momentsync.aws.sync_state import DynamoSyncState
    from momentsync.aws.tenants import DynamoTenantRepository
    from momentsync.aws.transfer_log import DynamoTransferLog
    from momentsync.wiring.tenant_sessions import TenantSessions

    sync_table = dynamodb.Table(settings.sync_state_table)
    sync_state = DynamoSyncState(sync_table)
    sessions = TenantSessions(
        settings,
        secretsmanager=secretsmanager,
        dynamodb=dynamodb,
        tenants=DynamoTenantRepository(dynamodb.Table(settings.tenants_table)),
        sync_state=sync_state,
    )
    check = DeepCheck(
        sync_state=sync_state,
        sweeps=SweepStore(sync_table),
        transfer_log=DynamoTransferLog(
            dynamodb.Table(settings.transfer_log_table), timedelta(days=settings.transfer_log_retention_days)
        ),
    )
    alerts: DriftAlerts = (
        SnsOperatorAlerts(sns, settings.operator_topic_arn, stage=settings.stage)
        if sns is not None and settings.operator_topic_arn
        else LogOperatorAlerts()
    )
    return DeepCheckRun(
        check=check, open_target=lambda tenant: sessions.open(tenant).connector, alerts=alerts
    )
