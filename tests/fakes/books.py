"""An accounting system in memory behind the ``AccountingConnector`` port: what the use cases rely on
from Fiken and SpareBank 1, without their field names.

- Customers, projects and documents are found by their natural keys (customer number, project
  number, the Moment invoice number as the order reference), as the real connectors search before
  they create: the target has no idempotency keys.
- A document is immutable once made, except its due date (invoices only; sales and credit notes
  answer False, as Fiken's do) and its attachments.
- Faults the exactly-once rules exist for can be switched on: ``lose_next_create_answer`` makes the
  document and then raises a ``TransientError`` (the 201 lost on the way back), and
  ``lose_next_upload_answer`` does the same for a PDF upload.
- Every call that would be a request counts in ``remote_calls``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from momentsync.errors import PermanentError, TransientError
from momentsync.moment.models import Customer, Invoice, Project
from momentsync.ports import InvoiceContent, InvoiceParties, InvoiceTotals, RemoteRecord
from momentsync.sync.sync_state import SyncLink

KIND_INVOICE = "invoice"
KIND_CREDIT_NOTE = "credit_note"


@dataclass
class Document:
    document_id: str
    kind: str
    order_reference: str
    customer_id: str
    project_id: str | None
    due_date: str | None
    net: int
    vat: int
    credits: str | None = None
    attachments: list[str] = field(default_factory=list)


class InMemoryBooks:
    system = "books"

    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, Document] = {}
        self.calls: list[str] = []  # operation names, in order
        self.lose_next_create_answer = False
        self.lose_next_upload_answer = False
        # What the books book differs from what was sent by this many øre of VAT (a rounding target).
        self.vat_booked_off_by = 0
        self._next_id = 100

    @property
    def remote_calls(self) -> int:
        return len(self.calls)

    # ---------------------------------------------------------------- customers
    def customer_content(self, customer: Customer) -> dict[str, Any]:
        return {
            "name": customer.name,
            "number": customer.customer_number,
            "organizationNumber": customer.organization_number,
            "email": customer.email,
        }

    def upsert_customer(
        self, customer: Customer, link: SyncLink | None, taken: Callable[[str], bool] | None = None
    ) -> RemoteRecord:
        # ``taken`` guards a key two customers may share; this fake finds by customer number only.
        content = self.customer_content(customer)
        contact_id = link.remote_id if link and link.remote_id in self.contacts else None
        if contact_id is None:
            self.calls.append("find_contact")
            contact_id = next(
                (cid for cid, c in self.contacts.items() if c["number"] == customer.customer_number), None
            )
        if contact_id is None:
            self.calls.append("create_contact")
            contact_id = self._new_id()
        else:
            self.calls.append("replace_contact")
        self.contacts[contact_id] = content
        return RemoteRecord(contact_id, customer.customer_number)

    def deactivate_customer(self, link: SyncLink) -> None:
        self.calls.append("deactivate_contact")
        if link.remote_id in self.contacts:
            self.contacts[link.remote_id]["inactive"] = True

    # ---------------------------------------------------------------- projects
    def project_content(self, project: Project, customer: RemoteRecord | None) -> dict[str, Any]:
        return {
            "number": project.project_number,
            "name": project.name,
            "startDate": str(project.start_date),
            "endDate": str(project.end_date) if project.end_date else None,
            "contact": customer.remote_id if customer else None,
        }

    def upsert_project(
        self, project: Project, customer: RemoteRecord | None, link: SyncLink | None
    ) -> RemoteRecord:
        content = self.project_content(project, customer)
        project_id = link.remote_id if link and link.remote_id in self.projects else None
        if project_id is None:
            self.calls.append("find_project")
            project_id = next(
                (pid for pid, p in self.projects.items() if p["number"] == project.project_number), None
            )
        self.calls.append("create_project" if project_id is None else "update_project")
        project_id = project_id or self._new_id()
        self.projects[project_id] = content
        return RemoteRecord(project_id, project.project_number)

    # ---------------------------------------------------------------- invoices
    def invoice_content(self, invoice: Invoice, parties: InvoiceParties) -> InvoiceContent:
        content: dict[str, Any] = {
            "kind": KIND_CREDIT_NOTE if invoice.is_credit_note else KIND_INVOICE,
            "number": invoice.invoice_number,
            "issueDate": str(invoice.invoice_date),
            "customer": parties.customer.remote_id,
            "project": parties.project.remote_id if parties.project else None,
            "lines": [[li.account_number, li.amount_excl_vat_ore, li.vat_amount_ore] for li in invoice.lines],
        }
        if parties.credited:
            content["credits"] = parties.credited.remote_id
        return InvoiceContent(content, due_date=invoice.due_date)

    def find_invoice(self, invoice: Invoice, parties: InvoiceParties) -> RemoteRecord | None:
        self.calls.append("find_invoice")
        for document in self.documents.values():
            if (
                document.order_reference == str(invoice.invoice_number)
                and document.customer_id == parties.customer.remote_id
            ):
                return self._record(document)
        return None

    def create_invoice(self, invoice: Invoice, parties: InvoiceParties) -> RemoteRecord:
        self.calls.append("create_invoice")
        if invoice.is_credit_note and parties.credited is None:
            raise PermanentError("a credit note needs the document it credits")
        document = Document(
            document_id=self._new_id(),
            kind=KIND_CREDIT_NOTE if invoice.is_credit_note else KIND_INVOICE,
            order_reference=str(invoice.invoice_number),
            customer_id=parties.customer.remote_id,
            project_id=parties.project.remote_id if parties.project else None,
            due_date=str(invoice.due_date) if invoice.due_date else None,
            net=invoice.total_excl_vat_ore,
            vat=invoice.total_vat_ore + self.vat_booked_off_by,
            credits=parties.credited.remote_id if parties.credited else None,
        )
        self.documents[document.document_id] = document
        if self.lose_next_create_answer:
            self.lose_next_create_answer = False
            raise TransientError("connection reset after the create was sent")
        return self._record(document)

    def has_invoice_pdf(self, remote: RemoteRecord, invoice_number: Any = None) -> bool:
        self.calls.append("list_attachments")
        names = self.documents[remote.remote_id].attachments
        return any(str(invoice_number) in name for name in names)

    def attach_invoice_pdf(self, remote: RemoteRecord, filename: str, pdf: bytes) -> None:
        self.calls.append("upload_attachment")
        self.documents[remote.remote_id].attachments.append(filename)
        if self.lose_next_upload_answer:
            self.lose_next_upload_answer = False
            raise TransientError("connection reset after the upload was sent")

    def update_invoice_due_date(self, remote: RemoteRecord, due_date: date) -> bool:
        document = self.documents[remote.remote_id]
        if document.kind != KIND_INVOICE:
            return False  # a credit note's due date cannot change (no call, as in Fiken's connector)
        self.calls.append("patch_due_date")
        document.due_date = str(due_date)
        return True

    def invoice_totals(self, remote: RemoteRecord) -> InvoiceTotals:
        self.calls.append("get_document")
        document = self.documents[remote.remote_id]
        return InvoiceTotals(document.net, document.vat, document.net + document.vat)

    def expected_totals(self, invoice: Invoice) -> InvoiceTotals:
        return InvoiceTotals(invoice.total_excl_vat_ore, invoice.total_vat_ore, invoice.total_incl_vat_ore)

    # ---------------------------------------------------------------- backfill and deep check
    def natural_keys(self, entity_type: str) -> dict[str, str]:
        """Natural key -> remote id of every record of that type in the books (one listing)."""
        self.calls.append(f"list_{entity_type}s")
        if entity_type == "customer":
            return {str(c["number"]): cid for cid, c in self.contacts.items()}
        if entity_type == "project":
            return {str(p["number"]): pid for pid, p in self.projects.items()}
        return {d.order_reference: d.document_id for d in self.documents.values()}

    def natural_keys_of(self, entity_type: str, record: Any) -> list[str]:
        number = {"customer": "customer_number", "project": "project_number"}.get(
            entity_type, "invoice_number"
        )
        value = getattr(record, number, None)
        return [str(value)] if value is not None else []

    def search_natural_key(self, entity_type: str, record: Any) -> str | None:
        keys = self.natural_keys_of(entity_type, record)
        found = self.natural_keys(entity_type)
        return next((found[key] for key in keys if key in found), None)

    def target_records(self, entity_type: str, links: Any = None) -> dict[str, dict[str, Any]]:
        # ``links``: for a target reading only the linked records; this fake lists everything, as Fiken.
        self.calls.append(f"list_{entity_type}s")
        if entity_type == "customer":
            return {cid: dict(c) for cid, c in self.contacts.items()}
        if entity_type == "project":
            return {pid: dict(p) for pid, p in self.projects.items()}
        return {d.document_id: {"gross": d.net + d.vat} for d in self.documents.values()}

    def target_key(self, entity_type: str, link: SyncLink) -> str:
        return link.remote_id or ""

    # ---------------------------------------------------------------- helpers of the fake
    def documents_for(self, invoice_number: int) -> list[Document]:
        return [d for d in self.documents.values() if d.order_reference == str(invoice_number)]

    def _record(self, document: Document) -> RemoteRecord:
        return RemoteRecord(
            document.document_id,
            document.order_reference,
            {"kind": document.kind},
            due_date=date.fromisoformat(document.due_date) if document.due_date else None,
        )

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)
