"""The port every accounting system implements (Fiken, SpareBank 1 Regnskap): one small interface.

Connectors own the target's field names, natural-key lookups and write rules; the use cases own
the decisions that are the same everywhere (re-fetch, unchanged -> no call, state, outcomes).
``*_content`` methods are pure: the mapped fields we own, whose hash decides "unchanged".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from momentsync.sync.sync_state import SyncLink


@dataclass(frozen=True)
class RemoteRecord:
    remote_id: str
    remote_number: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class AccountingConnector(Protocol):
    system: str

    @property
    def remote_calls(self) -> int:
        """Requests sent to the target so far (for the transfer log and the benchmarks)."""
        ...

    def customer_content(self, customer: Any) -> dict[str, Any]: ...

    def upsert_customer(self, customer: Any, link: SyncLink | None) -> RemoteRecord: ...

    def deactivate_customer(self, link: SyncLink) -> None: ...

    def project_content(self, project: Any, customer: RemoteRecord) -> dict[str, Any]: ...

    def upsert_project(self, project: Any, customer: RemoteRecord, link: SyncLink | None) -> RemoteRecord: ...

    def invoice_content(self, invoice: Any, parties: InvoiceParties) -> dict[str, Any]: ...

    def find_invoice(self, invoice: Any, parties: InvoiceParties) -> RemoteRecord | None: ...

    def create_invoice(self, invoice: Any, parties: InvoiceParties) -> RemoteRecord: ...

    def has_invoice_pdf(self, remote: RemoteRecord) -> bool:
        """Whether the document already carries a PDF (checked before an upload is sent again)."""
        ...

    def attach_invoice_pdf(self, remote: RemoteRecord, filename: str, pdf: bytes) -> None: ...

    def update_invoice_due_date(self, remote: RemoteRecord, due_date: date) -> bool:
        """True when the target took the new due date; False when its document cannot change it."""
        ...

    def invoice_totals(self, remote: RemoteRecord) -> InvoiceTotals: ...


@dataclass(frozen=True)
class InvoiceParties:
    """What an invoice refers to in the target, resolved (and synced if needed) before it is mapped."""

    customer: RemoteRecord
    project: RemoteRecord | None = None
    # For a credit note: the target's record of the invoice it credits.
    credited: RemoteRecord | None = None


@dataclass(frozen=True)
class InvoiceTotals:
    net: int
    vat: int
    gross: int
