"""In-memory "state complete since" epochs (momentsync.sync.state_epoch), one table generation."""

from __future__ import annotations

from momentsync.sync.state_epoch import StateEpoch
from momentsync.tenants import Tenant


class InMemoryStateEpochs:
    def __init__(self, table_generation: str = "generation-1") -> None:
        self.table_generation = table_generation
        self.epochs: dict[str, StateEpoch] = {}

    def proves_never_sent(self, tenant: Tenant, moment_invoice_id: int) -> bool:
        epoch = self.epochs.get(tenant.tenant_id)
        return epoch is not None and epoch.proves_never_sent(tenant, self.table_generation, moment_invoice_id)
