"""What a use case needs for one tenant: its Moment API, its accounting connector, its sync state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from momentsync.ports import AccountingConnector, MomentApi, StateEpochStore, SyncStateStore
from momentsync.sync.sync_state import SyncLink
from momentsync.tenants import Tenant


@dataclass
class TenantSession:
    tenant: Tenant
    moment: MomentApi
    connector: AccountingConnector
    state: SyncStateStore
    # None: no epoch can prove anything, every new invoice is looked up by its natural key first.
    epochs: StateEpochStore | None = None

    def link(self, entity_type: str, moment_id: int) -> SyncLink | None:
        return self.state.get(self.tenant.tenant_id, entity_type, moment_id)

    def linked_to_another(self, entity_type: str, moment_id: int) -> Callable[[str], bool]:
        """Whether a target record is already the link of another Moment record of the type: asked
        (one Query of the tenant's links of the type, at most once per event) only when a record would be
        adopted by a key two Moment records may share (Fiken's organisation number)."""
        linked: dict[str, set[int]] = {}

        def check(remote_id: str) -> bool:
            if not linked:
                for other in self.state.list(self.tenant.tenant_id, entity_type):
                    if other.remote_id and other.last_outcome != "deleted":
                        linked.setdefault(str(other.remote_id), set()).add(other.moment_id)
                linked.setdefault("", set())  # read once, even when the tenant has no links
            return bool(linked.get(str(remote_id), set()) - {moment_id})

        return check

    def proves_never_sent(self, moment_invoice_id: int) -> bool:
        """The tenant's "state complete since" epoch proves this invoice never reached the books."""
        return self.epochs is not None and self.epochs.proves_never_sent(self.tenant, moment_invoice_id)

    def new_link(self, entity_type: str, moment_id: int) -> SyncLink:
        return SyncLink(tenant_id=self.tenant.tenant_id, entity_type=entity_type, moment_id=moment_id)
