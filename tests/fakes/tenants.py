"""Tenants in memory, with ``DynamoTenantRepository``'s compare-and-set on ``version``."""

from __future__ import annotations

from momentsync.clock import utcnow
from momentsync.tenants import Tenant, TenantConflict, TenantNotFound


class InMemoryTenants:
    def __init__(self, *tenants: Tenant) -> None:
        self.items: dict[str, Tenant] = {t.tenant_id: t.model_copy(deep=True) for t in tenants}
        self.reads: list[str] = []  # tenant ids asked for, in order (the webhook door reads once)

    def get(self, tenant_id: str) -> Tenant | None:
        self.reads.append(tenant_id)
        tenant = self.items.get(tenant_id)
        return tenant.model_copy(deep=True) if tenant else None

    def require(self, tenant_id: str) -> Tenant:
        tenant = self.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        return tenant

    def create(self, tenant: Tenant) -> None:
        if tenant.tenant_id in self.items:
            raise TenantConflict(f"tenant {tenant.tenant_id} already exists")
        self.items[tenant.tenant_id] = tenant.model_copy(deep=True)

    def save(self, tenant: Tenant) -> Tenant:
        current = self.items.get(tenant.tenant_id)
        if current is None or current.version != tenant.version:
            raise TenantConflict(f"tenant {tenant.tenant_id} was changed concurrently; re-read it")
        stored = tenant.model_copy(update={"version": tenant.version + 1, "updated_at": utcnow()}, deep=True)
        self.items[tenant.tenant_id] = stored
        return stored.model_copy(deep=True)

    def list(self) -> list[Tenant]:
        return [self.items[key].model_copy(deep=True) for key in sorted(self.items)]
