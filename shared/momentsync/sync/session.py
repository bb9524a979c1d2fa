"""What a use case needs for one tenant: its Moment API, its accounting connector, its sync state."""

from __future__ import annotations

from dataclasses import dataclass

from momentsync.ports import AccountingConnector, MomentApi, SyncStateStore
from momentsync.sync.sync_state import SyncLink
from momentsync.tenants import Tenant


@dataclass
class TenantSession:
    tenant: Tenant
    moment: MomentApi
    connector: AccountingConnector
    state: SyncStateStore

    def link(self, entity_type: str, moment_id: int) -> SyncLink | None:
        return self.state.get(self.tenant.tenant_id, entity_type, moment_id)

    def new_link(self, entity_type: str, moment_id: int) -> SyncLink:
        return SyncLink(tenant_id=self.tenant.tenant_id, entity_type=entity_type, moment_id=moment_id)
