"""The reconciliation sweep's composition root: real adapters wired at cold start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.sweep_store import SweepStore
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.reconcile.run import ReconcileRun
from momentsync.reconcile.sweep import (
    TenantSweep,
)
from momentsync.settings import ReconcileSettings


def build_reconcile_run(settings: ReconcileSettings) -> ReconcileRun:
    dynamodb = boto3.resource("dynamodb")
    sync_table: Any = dynamodb.Table(settings.sync_state_table)
    sweep = TenantSweep(
        sync_state=DynamoSyncState(sync_table),
        sweeps=SweepStore(sync_table),
        queue=SqsEventQueue(boto3.client("sqs"), settings.event_queue_url),
        overlap=timedelta(minutes=settings.reconcile_overlap_minutes),
        max_enqueued=settings.reconcile_max_events_per_tenant,
    )
    return ReconcileRun(
        tenants=DynamoTenantRepository(dynamodb.Table(settings.tenants_table)),
        sweep=sweep,
        credentials=SecretsManagerCredentialsStore(
            boto3.client("secretsmanager"), settings.credentials_secret_prefix
        ),
        moment_base_url=settings.moment_api_base_url,
    )
