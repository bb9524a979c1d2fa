"""Operator actions on tenants: add one (with its webhook URL), rotate its webhook secret.

The webhook secret is shown once, inside the URL the tenant pastes into Moment; only its hash is
stored, so a lost URL is replaced by rotating, never recovered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from momentsync.clock import utcnow
from momentsync.credentials import TenantCredentials
from momentsync.ports import CredentialsStore, TenantRepository
from momentsync.tenants import MappingSettings, TargetSystem, Tenant
from momentsync.webhook_secret import hash_webhook_secret, new_webhook_secret


@dataclass(frozen=True)
class WebhookUrl:
    tenant_id: str
    url: str = field(repr=False)


def webhook_url(base_url: str, tenant_id: str, secret: str) -> WebhookUrl:
    return WebhookUrl(tenant_id, f"{base_url.rstrip('/')}/webhooks/moment/{tenant_id}/{secret}")


def add_tenant(
    *,
    tenants: TenantRepository,
    credentials: CredentialsStore,
    webhook_base_url: str,
    tenant_id: str,
    name: str,
    target: TargetSystem,
    moment_company_code: str,
    moment_api_key: str | None,
    fiken_company_slug: str | None = None,
    organization_number: str | None = None,
    sparebank1_bank: str | None = None,
    sparebank1_company_key: str | None = None,
    notification_emails: list[str] | None = None,
    mapping: MappingSettings | None = None,
) -> tuple[Tenant, WebhookUrl]:
    secret = new_webhook_secret()
    now = utcnow()
    tenant = Tenant(
        tenant_id=tenant_id,
        name=name,
        target=target,
        moment_company_code=moment_company_code,
        fiken_company_slug=fiken_company_slug,
        organization_number=organization_number,
        sparebank1_bank=sparebank1_bank,
        sparebank1_company_key=sparebank1_company_key,
        notification_emails=notification_emails or [],
        mapping=mapping or MappingSettings(),
        webhook_secret_hash=hash_webhook_secret(tenant_id, secret),
        created_at=now,
        updated_at=now,
    )
    tenants.create(tenant)
    if moment_api_key:
        credentials.put(tenant_id, TenantCredentials(moment_api_key=SecretStr(moment_api_key)))
    return tenant, webhook_url(webhook_base_url, tenant_id, secret)


def rotate_webhook_secret(
    *, tenants: TenantRepository, webhook_base_url: str, tenant_id: str
) -> tuple[Tenant, WebhookUrl]:
    """The old URL stops working at once; Moment must be given the new one."""
    tenant = tenants.require(tenant_id)
    secret = new_webhook_secret()
    tenant.webhook_secret_hash = hash_webhook_secret(tenant_id, secret)
    stored = tenants.save(tenant)
    return stored, webhook_url(webhook_base_url, tenant_id, secret)
