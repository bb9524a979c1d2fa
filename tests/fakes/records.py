"""Moment records and tenants as the use cases get them (the models the Moment client returns)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from emulators.moment.fixtures import make_line, with_totals
from momentsync.moment.models import Customer, CustomerRef, Invoice, InvoiceRef, Project, ProjectRef
from momentsync.sync.session import TenantSession
from momentsync.tenants import TargetSystem, Tenant
from momentsync.webhook_secret import hash_webhook_secret

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WEBHOOK_SECRET = "s" * 43  # the secret of every tenant() (its URL's last segment)


def tenant(tenant_id: str = "acme", **fields: Any) -> Tenant:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "name": "Acme AS",
        "target": TargetSystem.FIKEN,
        "moment_company_code": "acme",
        "fiken_company_slug": "acme-as",
        "webhook_secret_hash": hash_webhook_secret(tenant_id, WEBHOOK_SECRET),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Tenant(**{**values, **fields})


def customer(customer_id: int = 7, **fields: Any) -> Customer:
    values: dict[str, Any] = {
        "id": customer_id,
        "name": "Fjordlys AS",
        "customer_number": f"1{customer_id:05d}",
        "organization_number": "923609016",
        "email": "post@fjordlys.example",
        "last_modified": NOW,
    }
    return Customer(**{**values, **fields})


def project(project_id: int = 3, customer_id: int | None = 7, **fields: Any) -> Project:
    values: dict[str, Any] = {
        "id": project_id,
        "name": "Ny kai",
        "project_number": f"P{project_id}",
        "customer": CustomerRef(id=customer_id) if customer_id else None,
        "start_date": date(2026, 1, 5),
        "last_modified": NOW,
    }
    return Project(**{**values, **fields})


def invoice(invoice_id: int = 9, number: int = 20002, customer_id: int = 7, **fields: Any) -> Invoice:
    """A finalized NOK invoice: 7.5 hours at 1,250 kr on 3000 (25 % VAT), totals equal to its lines."""
    values: dict[str, Any] = {
        "id": invoice_id,
        "invoice_number": number,
        "customer": CustomerRef(id=customer_id),
        "invoice_date": date(2026, 11, 20),
        "due_date": date(2026, 12, 4),
        "payment_id": f"{number}4",
        "invoice_state": "finalized",
        "lines": [make_line("3000", "7.5", 1250, description="Timer")],
        "last_modified": NOW,
    }
    return with_totals(Invoice(**{**values, **fields}))


def credit_note(credit_id: int, number: int, credits: Invoice, **fields: Any) -> Invoice:
    """A full credit of ``credits``: the same lines, negative."""
    lines = [make_line("3000", "-7.5", 1250, description="Timer")]
    return invoice(
        credit_id,
        number,
        credits.customer.id,
        credit_note=True,
        credited_invoice=InvoiceRef(id=credits.id, invoice_number=credits.invoice_number),
        lines=lines,
        **fields,
    )


def project_ref(project_id: int) -> ProjectRef:
    return ProjectRef(id=project_id)


def session(moment, books, state, **tenant_fields: Any) -> TenantSession:
    return TenantSession(tenant=tenant(**tenant_fields), moment=moment, connector=books, state=state)
