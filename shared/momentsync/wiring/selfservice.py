"""The self-service function's composition root: boto3 adapters wired into SelfService at cold start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from momentsync.aws.audit_log import DynamoAuditLog
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
from momentsync.aws.page_sessions import DynamoPageSessions
from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.selfservice.service import SelfService
from momentsync.settings import SelfServiceSettings


def build_self_service(settings: SelfServiceSettings) -> SelfService:
    dynamodb: Any = boto3.resource("dynamodb")
    auth_table = dynamodb.Table(settings.auth_table)
    return SelfService(
        tenants=DynamoTenantRepository(dynamodb.Table(settings.tenants_table)),
        tokens=DynamoOneTimeTokens(auth_table),
        sessions=DynamoPageSessions(auth_table, timedelta(minutes=settings.page_session_minutes)),
        # Retention matters only when writing; the page only reads the log.
        transfers=DynamoTransferLog(dynamodb.Table(settings.transfer_log_table), timedelta(days=1)),
        credentials=SecretsManagerCredentialsStore(
            boto3.client("secretsmanager"), settings.credentials_secret_prefix
        ),
        queue=SqsEventQueue(boto3.client("sqs"), settings.event_queue_url),
        audit=DynamoAuditLog(dynamodb.Table(settings.audit_table)),
    )
