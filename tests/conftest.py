"""Shared fixtures: one local stack (moto server + template resources + handlers) per test worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local.stack import LocalStack, LocalStackConfig
from momentsync.credentials import SecretsManagerCredentialsStore
from momentsync.onboarding import add_tenant
from momentsync.tenants import DynamoTenantRepository, TargetSystem, Tenant, TenantStatus


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(LocalStackConfig(visibility_timeout=1, poller_concurrency=2)).start()
    yield local
    local.stop()


@pytest.fixture
def paused_stack(stack: LocalStack) -> Iterator[LocalStack]:
    """The stack with its event source mapping off, so a test can read what the webhook queued."""
    with stack.processing_paused():
        yield stack


@dataclass
class TenantHandle:
    tenant: Tenant
    webhook_url: str
    secret: str


@pytest.fixture
def make_tenant(stack: LocalStack):
    def make(status: TenantStatus = TenantStatus.ACTIVE, **overrides) -> TenantHandle:
        assert stack.aws
        tenants = DynamoTenantRepository(
            stack.aws.resource("dynamodb").Table(stack.environment["TENANTS_TABLE"])
        )
        credentials = SecretsManagerCredentialsStore(
            stack.aws.client("secretsmanager"), stack.environment["CREDENTIALS_SECRET_PREFIX"]
        )
        options = {
            "tenant_id": f"t-{uuid.uuid4().hex[:10]}",
            "name": "Acme AS",
            "target": TargetSystem.FIKEN,
            "moment_company_code": "acme",
            "moment_api_key": "moment-key-" + uuid.uuid4().hex,
            "fiken_company_slug": "acme-as",
            **overrides,
        }
        tenant, url = add_tenant(
            tenants=tenants, credentials=credentials, webhook_base_url=stack.webhook_base_url, **options
        )
        if status is not TenantStatus.ACTIVE:
            tenant.status = status
            tenant = tenants.save(tenant)
        return TenantHandle(tenant=tenant, webhook_url=url.url, secret=url.url.rsplit("/", 1)[1])

    return make
