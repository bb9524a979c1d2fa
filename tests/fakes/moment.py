"""Moment's API in memory: the records the use cases re-fetch, ``MomentRecordNotFound`` for an id
Moment does not know (what the real client raises on 404), and every call recorded."""

from __future__ import annotations

from momentsync.moment.client import MomentRecordNotFound
from momentsync.moment.models import Customer, Invoice, Project


class InMemoryMoment:
    def __init__(self) -> None:
        self.customers: dict[int, Customer] = {}
        self.projects: dict[int, Project] = {}
        self.invoices: dict[int, Invoice] = {}
        self.pdfs: dict[int, bytes] = {}
        self.calls: list[tuple[str, int]] = []

    def add(self, *records: Customer | Project | Invoice) -> None:
        for record in records:
            if isinstance(record, Customer):
                self.customers[record.id] = record
            elif isinstance(record, Project):
                self.projects[record.id] = record
            else:
                self.invoices[record.id] = record
                self.pdfs.setdefault(record.id, b"%PDF-1.4 invoice " + str(record.invoice_number).encode())

    def get_customer(self, customer_id: int) -> Customer:
        return self._get("customer", self.customers, customer_id)

    def get_project(self, project_id: int) -> Project:
        return self._get("project", self.projects, project_id)

    def get_invoice(self, invoice_id: int) -> Invoice:
        return self._get("invoice", self.invoices, invoice_id)

    def get_invoice_pdf(self, invoice_id: int) -> bytes:
        return self._get("invoice_pdf", self.pdfs, invoice_id)

    def _get(self, kind: str, records: dict, record_id: int):
        self.calls.append((kind, record_id))
        if record_id not in records:
            raise MomentRecordNotFound(kind, record_id)
        return records[record_id]
