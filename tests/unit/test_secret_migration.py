"""The secret migration's copy per tenant, under the tenant's token lease, on the ports' fakes."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from momentsync.connectors.fiken.tokens import token_lease_name
from momentsync.credentials import TenantCredentials
from momentsync.operations.secret_migration import MigratedSecret, Migration, migrate_tenant_secrets
from momentsync.tenants import TargetSystem, Tenant
from tests.fakes.connect import InMemoryLeases
from tests.fakes.credentials import InMemoryCredentials
from tests.fakes.tenants import InMemoryTenants

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class OldPrefix(InMemoryCredentials):
    def secret_name(self, tenant_id: str) -> str:
        return f"momentsync/prod/tenants/{tenant_id}"


def tenant(tenant_id: str) -> Tenant:
    return Tenant(
        tenant_id=tenant_id,
        name=f"{tenant_id} AS",
        target=TargetSystem.FIKEN,
        moment_company_code=tenant_id,
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_secret_whose_token_lease_stays_held_is_left_busy_untouched_and_copied_by_a_rerun():
    tenants = InMemoryTenants(tenant("held"), tenant("free"))
    old, new, leases = OldPrefix(), InMemoryCredentials(), InMemoryLeases()
    for tenant_id in ("held", "free"):
        old.put(tenant_id, TenantCredentials(moment_api_key=SecretStr(f"key-{tenant_id}")))
    leases.held.add(token_lease_name("held"))  # a processor refreshing the whole wait long

    first = migrate_tenant_secrets(tenants=tenants, old=old, new=new, leases=leases, delete_old=True)

    assert sorted(first, key=lambda r: r.tenant_id) == [
        MigratedSecret("free", Migration.COPIED, True),
        MigratedSecret("held", Migration.BUSY, False),
    ]
    assert new.writes == ["free"] and "held" in old.secrets
    leases.held.clear()
    again = migrate_tenant_secrets(tenants=tenants, old=old, new=new, leases=leases, delete_old=True)
    assert sorted(r.result for r in again) == [Migration.COPIED, Migration.NOTHING_TO_COPY]
    assert new.get("held").moment_api_key.get_secret_value() == "key-held"
    assert leases.taken.count(token_lease_name("free")) == 2  # every tenant's copy under its lease
