"""The tenant's transfer choices (``Tenant.transfer``), applied to one record: why it is not
transferred, or None. Only events *about* the record are filtered; a customer or project an invoice
needs is brought along with the invoice whatever the filters say (the invoice cannot do without)."""

from __future__ import annotations

from typing import Any

from momentsync.moment.models import _loose
from momentsync.tenants import Tenant

_PLURAL = {"customer": "customers", "project": "projects", "invoice": "invoices"}


def not_transferred(tenant: Tenant, entity_type: str) -> str | None:
    if entity_type not in tenant.transfer.data_types:
        return f"{_PLURAL[entity_type]} are not transferred for this tenant (tenants settings --data-types)"
    return None


def filtered_out(tenant: Tenant, entity_type: str, record: Any) -> str | None:
    choices = tenant.transfer
    if entity_type == "customer" and choices.customer_states is not None:
        state = record.customer_state or "active"  # a missing state counts as active (Customer.active)
        if _loose(state) not in {_loose(s) for s in choices.customer_states}:
            return (
                f"customer state {state} is not among the transferred ({', '.join(choices.customer_states)})"
            )
    if entity_type == "project" and choices.project_states is not None:
        state = record.project_state or "-"
        if _loose(state) not in {_loose(s) for s in choices.project_states}:
            return f"project state {state} is not among the transferred ({', '.join(choices.project_states)})"
    cutover = choices.cutover_date
    if entity_type == "invoice" and cutover and record.invoice_date and record.invoice_date < cutover:
        return f"dated {record.invoice_date}, before the cutover date {cutover}"
    return None
