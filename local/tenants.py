"""A tenant connected on both sides without a browser: for the benchmarks and the chaos suite.

The Fiken emulator issues the token pair directly (what the OAuth connect flow would store) and the
Moment emulator gets the tenant's API key; the tenant is onboarded the way operators do it
(``momentsync.onboarding.add_tenant``), so it has its webhook secret and URL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from emulators.fiken import FikenEmulator
from emulators.moment.emulator import MomentEmulator
from local.stack import LocalStack
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.clock import utcnow
from momentsync.credentials import OAuthTokens, TenantCredentials
from momentsync.onboarding import add_tenant
from momentsync.tenants import MappingSettings, TargetSystem


@dataclass(frozen=True)
class ConnectedTenant:
    tenant_id: str
    slug: str  # Fiken company
    company: str  # Moment company
    webhook_url: str = field(repr=False)  # carries the tenant's secret: never print it
    moment_api_key: str = field(repr=False)


class TenantFactory:
    """Makes connected tenants on one local stack and its two emulators."""

    def __init__(
        self, stack: LocalStack, fiken: FikenEmulator, moment: MomentEmulator, client_id: str
    ) -> None:
        assert stack.aws
        self.stack, self.fiken, self.moment, self.client_id = stack, fiken, moment, client_id
        self.tenants = DynamoTenantRepository(
            stack.aws.resource("dynamodb").Table(stack.environment["TENANTS_TABLE"])
        )
        self.credentials = SecretsManagerCredentialsStore(
            stack.aws.client("secretsmanager"), stack.environment["CREDENTIALS_SECRET_PREFIX"]
        )

    def connected(
        self,
        tenant_id: str,
        slug: str,
        company: str,
        *,
        name: str,
        mapping: MappingSettings | None = None,
        **company_knobs: Any,
    ) -> ConnectedTenant:
        record = self.fiken.add_company(slug, name, **company_knobs)
        grant = self.fiken.issue_tokens([slug], client_id=self.client_id)
        moment_key = f"moment-{uuid.uuid4().hex}"
        self.moment.add_api_key(company, moment_key)
        tenant, url = add_tenant(
            tenants=self.tenants,
            credentials=self.credentials,
            webhook_base_url=self.stack.webhook_base_url,
            tenant_id=tenant_id,
            name=name,
            target=TargetSystem.FIKEN,
            moment_company_code=company,
            moment_api_key=moment_key,
            fiken_company_slug=slug,
            organization_number=record.organization_number,
        )
        if mapping is not None:
            tenant.mapping = mapping
            self.tenants.save(tenant)
        self.credentials.put(
            tenant_id,
            TenantCredentials(
                moment_api_key=SecretStr(moment_key),
                fiken=OAuthTokens(
                    access_token=SecretStr(grant["access_token"]),
                    refresh_token=SecretStr(grant["refresh_token"]),
                    expires_at=utcnow() + timedelta(seconds=int(grant["expires_in"])),
                ),
            ),
        )
        return ConnectedTenant(tenant.tenant_id, slug, company, url.url, moment_key)
