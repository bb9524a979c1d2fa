"""The connect function's composition root: boto3 and httpx adapters wired into the flow at cold start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import httpx

from momentsync.aws.app_secrets import FikenAppSecret
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.leases import DynamoLeaseLock
from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
from momentsync.aws.parking import DynamoParkedEvents
from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.connect.flow import FikenCompanyDirectory, FikenConnectFlow
from momentsync.connectors.fiken.oauth import FikenOAuthClient
from momentsync.settings import ConnectSettings
from momentsync.tls import client_tls_context


def build_connect_flow(settings: ConnectSettings, *, http: httpx.Client | None = None) -> FikenConnectFlow:
    dynamodb: Any = boto3.resource("dynamodb")
    secretsmanager = boto3.client("secretsmanager")
    http = http or httpx.Client(timeout=10.0, verify=client_tls_context())
    auth_table = dynamodb.Table(settings.auth_table)
    return FikenConnectFlow(
        tenants=DynamoTenantRepository(dynamodb.Table(settings.tenants_table)),
        credentials=SecretsManagerCredentialsStore(secretsmanager, settings.credentials_secret_prefix),
        one_time_tokens=DynamoOneTimeTokens(auth_table),
        oauth=FikenOAuthClient(
            settings.fiken_oauth_base_url,
            FikenAppSecret(secretsmanager, settings.fiken_app_secret_id),
            http=http,
        ),
        companies=FikenCompanyDirectory(settings.fiken_api_base_url, http),
        leases=DynamoLeaseLock(auth_table, owner_prefix="connect"),
        parked=DynamoParkedEvents(dynamodb.Table(settings.parked_events_table)),
        queue=SqsEventQueue(boto3.client("sqs"), settings.event_queue_url),
        state_ttl=timedelta(seconds=settings.oauth_state_ttl_seconds),
        choice_ttl=timedelta(seconds=settings.company_choice_ttl_seconds),
    )
