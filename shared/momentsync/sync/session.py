"""What a use case needs for one tenant: its Moment API, its accounting connector, its sync state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from momentsync.ports import AccountingConnector
from momentsync.sync.sync_state import SyncLink
from momentsync.tenants import Tenant


class MomentApi(Protocol):
    def get_customer(self, customer_id: int) -> Any: ...

    def get_project(self, project_id: int) -> Any: ...

    def get_invoice(self, invoice_id: int) -> Any: ...

    def get_invoice_pdf(self, invoice_id: int) -> bytes: ...


class SyncStateStore(Protocol):
    def get(self, tenant_id: str, entity_type: str, moment_id: int) -> SyncLink | None: ...

    def save(self, link: SyncLink) -> SyncLink: ...


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
