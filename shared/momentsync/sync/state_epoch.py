"""State complete since: a per-tenant proof that a new Moment invoice is not in the books yet.

Fiken has no idempotency key, so before creating a document we look it up by its natural key unless our
state proves the books cannot hold it (docs/exactly-once.md). The epoch is that proof:

- It says: every Moment invoice with an id above ``invoice_id_floor`` (created after the epoch, as
  Moment's ids are one increasing sequence) reaches these books only through us, and every attempt
  we made to create one is recorded in this sync-state table (the intent is written before the
  create call). So for such an invoice, *no link at all* means we never tried: nothing to look up.
- It is bound to what a loss of state changes: the sync-state table's generation (its ARN and
  creation time, and its ``TableId`` where AWS gives one): a restore from a backup or to a point in
  time makes a new table, so an old epoch brought back with it no longer matches; the tenant
  record's ``created_at`` (removed and added again: a new tenant); and the books it was proven for
  (target and company). It lives in the tenant's own partition of that
  table, so anything that deletes the tenant's state deletes it too; it must go first (see
  ``forget``), and the chaos run's wipe does exactly that.
- It is set only by something that saw the whole picture: a backfill that listed every Moment
  invoice and the books' lists (the floor is the highest Moment invoice id it saw). It is reset by
  ``momentsync tenants settings --state-incomplete`` (another writer touched the books, e.g. Moment's
  own integration ran again) and replaced by the next backfill.

Whenever anything does not match, the answer is "not proven" and the lookup runs.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from momentsync.tenants import Tenant

# In the tenant's partition beside its links; "meta#" items are never read as links.
STATE_EPOCH_KEY = "meta#state-epoch"


class StateEpoch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenant_id: str
    since: datetime
    invoice_id_floor: int
    table_generation: str
    tenant_created_at: datetime
    books: str
    established_by: str

    def proves_never_sent(self, tenant: Tenant, table_generation: str, moment_invoice_id: int) -> bool:
        """True only when this epoch still holds for ``tenant`` and the invoice is newer than it."""
        return (
            self.tenant_id == tenant.tenant_id
            and self.table_generation == table_generation
            and self.tenant_created_at == tenant.created_at
            and self.books == books_of(tenant)
            and moment_invoice_id > self.invoice_id_floor
        )


def books_of(tenant: Tenant) -> str:
    """The books an epoch was proven for: reconnecting to another company voids it."""
    company = tenant.fiken_company_slug or tenant.sparebank1_company_key or ""
    return f"{tenant.target.value}:{company}"
