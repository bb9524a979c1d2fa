"""The processor's composition root: real adapters (boto3, httpx) wired into the domain at cold start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import boto3

from momentsync.aws.client_config import deadline_write_config, hot_path_config
from momentsync.aws.dead_letters import SqsDeadLetters
from momentsync.aws.notifications import (
    AlertingDeadLetters,
    DynamoNotificationThrottle,
    LogNotifier,
    LogOperatorAlerts,
    SesNotifier,
    SnsOperatorAlerts,
)
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.state_epochs import DynamoStateEpochs
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.clock import utcnow
from momentsync.envelope import QueueEnvelope
from momentsync.ports import DeadLetters, Notifier
from momentsync.settings import ProcessorSettings
from momentsync.sync.customers import sync_customer
from momentsync.sync.invoices import sync_invoice
from momentsync.sync.not_found import NotFoundBurstWatch
from momentsync.sync.processor import EventProcessor, SyncResult, UseCase
from momentsync.sync.projects import sync_project
from momentsync.sync.sync_state import SyncLink
from momentsync.sync.transfer_log import Outcome
from momentsync.wiring.tenant_sessions import TenantSessions


def record_failure(
    sync_state: DynamoSyncState, envelope: QueueEnvelope, outcome: Outcome, reason: str
) -> None:
    link = sync_state.get(envelope.tenant_id, envelope.entity_type, envelope.entity_id) or SyncLink(
        tenant_id=envelope.tenant_id, entity_type=envelope.entity_type, moment_id=envelope.entity_id
    )
    sync_state.save(
        link.model_copy(
            update={
                "last_outcome": outcome.value,
                "last_error": reason,
                "last_error_at": utcnow(),
                "attempts": link.attempts + 1,
                # Keep the stored source version: a failure must not block a later, newer success.
                "source_modified_at": None,
            }
        )
    )


def use_cases(sessions: TenantSessions) -> dict[str, UseCase]:
    """Entity type -> use case, each opening the tenant's session first."""

    def run(sync: Callable[..., SyncResult]) -> UseCase:
        # direct: the event is about this record, so the tenant's transfer choices apply.
        return lambda envelope, tenant: sync(sessions.open(tenant), envelope.entity_id, direct=True)

    return {"customer": run(sync_customer), "project": run(sync_project), "invoice": run(sync_invoice)}


def tenant_notifier(settings: ProcessorSettings, dynamodb: Any) -> Notifier:
    """SES when a sender is configured (the stack's SesNotifications parameter), else the log."""
    if not settings.notification_sender:
        return LogNotifier()
    throttle = DynamoNotificationThrottle(
        dynamodb.Table(settings.notifications_table), timedelta(hours=settings.notification_window_hours)
    )
    return SesNotifier(boto3.client("ses"), settings.notification_sender, throttle)


def build_event_processor(settings: ProcessorSettings) -> tuple[EventProcessor, DeadLetters]:
    config = hot_path_config()
    dynamodb = boto3.resource("dynamodb", config=config)
    sqs = boto3.client("sqs", config=config)
    sync_state_table = dynamodb.Table(settings.sync_state_table)
    sync_state = DynamoSyncState(sync_state_table)
    alerts = (
        SnsOperatorAlerts(boto3.client("sns"), settings.operator_topic_arn, stage=settings.stage)
        if settings.operator_topic_arn
        else LogOperatorAlerts()
    )
    # Every dead letter is announced, also the unreadable ones handle_record dead-letters itself.
    dead_letters = AlertingDeadLetters(SqsDeadLetters(sqs, settings.dead_letter_queue_url), alerts)
    tenants = DynamoTenantRepository(dynamodb.Table(settings.tenants_table))
    sessions = TenantSessions(
        settings,
        secretsmanager=boto3.client("secretsmanager", config=config),
        dynamodb=dynamodb,
        tenants=tenants,
        sync_state=sync_state,
        epochs=DynamoStateEpochs(sync_state_table),
    )
    transfer_log = DynamoTransferLog(
        dynamodb.Table(settings.transfer_log_table),
        timedelta(days=settings.transfer_log_retention_days),
        # Writes near Lambda's deadline through a client that gives up within the margin (~4 ms of
        # CPU at cold start for the second resource of the same session).
        deadline_table=boto3.resource("dynamodb", config=deadline_write_config()).Table(
            settings.transfer_log_table
        ),
    )
    processor = EventProcessor(
        tenants=tenants,
        use_cases=use_cases(sessions),
        transfer_log=transfer_log,
        parked=DynamoParkedEvents(dynamodb.Table(settings.parked_events_table)),
        dead_letters=dead_letters,
        notifier=tenant_notifier(settings, dynamodb),
        record_failure=partial(record_failure, sync_state),
        max_receive_count=settings.max_receive_count,
        not_found_watch=NotFoundBurstWatch(transfer_log, alerts),
        batch_scope=transfer_log.batched,
    )
    return processor, dead_letters
