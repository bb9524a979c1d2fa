"""What the Moment emulator remembers: per company code, customers, projects and invoices.

Records are ``momentsync.moment.models`` instances (so they serialise with exactly the field
names the client reads). Every create/update stamps ``lastModifiedDate`` from the clock, strictly
increasing, so ``lastModifiedDateFrom`` filters are deterministic. Ids come from one counter shared
by all companies and kinds (Moment's ids look like one database sequence). Thread-safe: one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from emulators.moment.fixtures import (
    MomentDataset,
    credit_note_for,
    customer_ref,
    kid_mod10,
    project_ref,
    with_totals,
)
from momentsync.moment.models import (
    Customer,
    CustomerRef,
    Invoice,
    InvoiceLine,
    InvoiceState,
    Project,
    ProjectRef,
)

Record = Customer | Project | Invoice
KIND_MODELS: dict[str, type[BaseModel]] = {"customer": Customer, "project": Project, "invoice": Invoice}
COLLECTIONS = {"customers": "customer", "projects": "project", "invoices": "invoice"}


class UnknownRecord(KeyError):
    pass


@dataclass
class Company:
    code: str
    records: dict[str, dict[int, Any]] = field(default_factory=lambda: {kind: {} for kind in KIND_MODELS})
    next_customer_number: int = 10001
    next_project_number: int = 1
    next_invoice_number: int = 1


@dataclass
class ApiKey:
    key: str
    companies: set[str]
    revoked: bool = False


def utc_now() -> datetime:
    return datetime.now(UTC)


class MomentState:
    def __init__(self, *, clock: Callable[[], datetime] = utc_now, first_id: int = 70_000_000) -> None:
        self.lock = threading.RLock()
        self._clock = clock
        self._first_id = first_id
        self.reset()

    def reset(self) -> None:
        """Forget every company, record and API key."""
        with self.lock:
            self.companies: dict[str, Company] = {}
            self.api_keys: dict[str, ApiKey] = {}
            self._next_id = self._first_id
            self._last_stamp: datetime | None = None

    # -- companies and keys -----------------------------------------------------------------------

    def company(self, code: str, *, create: bool = False) -> Company:
        with self.lock:
            if code not in self.companies:
                if not create:
                    raise UnknownRecord(f"company {code}")
                self.companies[code] = Company(code)
            return self.companies[code]

    def add_api_key(self, company: str, key: str) -> None:
        """Register ``key`` with access to ``company`` (created if new); a key may serve several."""
        with self.lock:
            self.company(company, create=True)
            entry = self.api_keys.setdefault(key, ApiKey(key, set()))
            entry.companies.add(company)
            entry.revoked = False

    def revoke_api_key(self, key: str) -> None:
        """The key now answers 401 (what an expired Moment key does)."""
        with self.lock:
            if key in self.api_keys:
                self.api_keys[key].revoked = True

    def key_access(self, key: str, company: str) -> str:
        """``ok``, ``unknown`` (401) or ``forbidden`` (403: valid key, not this company)."""
        with self.lock:
            entry = self.api_keys.get(key)
            if entry is None or entry.revoked:
                return "unknown"
            return "ok" if company in entry.companies else "forbidden"

    # -- time and ids ---------------------------------------------------------------------------------

    def stamp(self) -> datetime:
        """Now, but always after the previous stamp (millisecond steps, like Moment's timestamps)."""
        with self.lock:
            now = self._clock().astimezone(UTC)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            if self._last_stamp is not None and now <= self._last_stamp:
                now = self._last_stamp + timedelta(milliseconds=1)
            self._last_stamp = now
            return now

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id - 1

    # -- generic record access --------------------------------------------------------------------

    def get(self, company: str, kind: str, record_id: int) -> Any:
        with self.lock:
            record = self.company(company).records[kind].get(record_id)
            if record is None:
                raise UnknownRecord(f"{kind} {record_id}")
            return record

    def find(self, company: str, kind: str, record_id: int) -> Any | None:
        with self.lock:
            if company not in self.companies:
                return None
            return self.companies[company].records[kind].get(record_id)

    def list(
        self,
        company: str,
        kind: str,
        *,
        modified_from: datetime | None = None,
        modified_to: datetime | None = None,
        descending: bool = False,
    ) -> list[Any]:
        with self.lock:
            records = sorted(
                self.company(company).records[kind].values(), key=lambda r: r.id, reverse=descending
            )
        return [
            r
            for r in records
            if (modified_from is None or (r.last_modified and r.last_modified >= modified_from))
            and (modified_to is None or (r.last_modified and r.last_modified <= modified_to))
        ]

    def put(self, company: str, record: Record, *, keep_timestamp: bool = False) -> Any:
        """Store ``record`` as is (fixtures, loads); stamps it unless ``keep_timestamp``."""
        kind = _kind_of(record)
        with self.lock:
            target = self.company(company, create=True)
            if not keep_timestamp or record.last_modified is None:
                record = record.model_copy(update={"last_modified": self.stamp()})
            target.records[kind][record.id] = record
            self._next_id = max(self._next_id, record.id + 1)
            _advance_numbers(target, record)
            return record

    def put_raw(self, company: str, kind: str, data: dict[str, Any]) -> Any:
        """The record of a raw sample (served as sent by ``MomentEmulator.serve_raw``): read with
        our models when it fits (the PDF needs its number), else a placeholder holding its place."""
        try:
            record = KIND_MODELS[kind].model_validate(data)
        except ValidationError:
            placeholder = {"customer": {"id": 0}} if kind == "invoice" else {"name": "(raw sample)"}
            record = KIND_MODELS[kind].model_validate({"id": int(data["id"]), **placeholder})
        return self.put(company, record)

    def create(self, company: str, kind: str, fields: dict[str, Any]) -> Any:
        with self.lock:
            target = self.company(company, create=True)
            fields = self._complete(target, kind, dict(fields))
            record = KIND_MODELS[kind].model_validate({**fields, "last_modified": self.stamp()})
            target.records[kind][record.id] = record
            _advance_numbers(target, record)
            return record

    def update(self, company: str, kind: str, record_id: int, changes: dict[str, Any]) -> Any:
        with self.lock:
            current = self.get(company, kind, record_id)
            merged = {**dict(current), **(current.model_extra or {}), **self._refs(company, kind, changes)}
            merged.pop("id", None)
            record = KIND_MODELS[kind].model_validate(
                {**merged, "id": record_id, "last_modified": self.stamp()}
            )
            if (
                kind == "invoice"
                and "lines" in changes
                and not {"total_incl_vat", "total_excl_vat"} & set(changes)
            ):
                record = with_totals(record)
            self.company(company).records[kind][record_id] = record
            return record

    def delete(self, company: str, kind: str, record_id: int) -> Any:
        with self.lock:
            record = self.get(company, kind, record_id)
            del self.company(company).records[kind][record_id]
            return record

    def load(
        self, company: str, dataset: MomentDataset | Iterable[Record], *, keep_timestamps: bool = True
    ) -> None:
        records = dataset.records() if isinstance(dataset, MomentDataset) else dataset
        with self.lock:
            for record in records:
                self.put(company, record, keep_timestamp=keep_timestamps)

    # -- invoice workflow ----------------------------------------------------------------------------

    def finalize_invoice(self, company: str, invoice_id: int) -> Invoice:
        """A draft gets the next invoice number and becomes finalized ("To transfer")."""
        with self.lock:
            invoice = self.get(company, "invoice", invoice_id)
            if invoice.finalized:
                return invoice
            target = self.company(company)
            number = target.next_invoice_number
            return self.update(
                company,
                "invoice",
                invoice_id,
                {"invoice_number": number, "invoice_state": InvoiceState.FINALIZED.value},
            )

    def credit_invoice(self, company: str, invoice_id: int, *, credit_date: date | None = None) -> Invoice:
        """A finalized full credit note for ``invoice_id`` (Moment's "credit note for this invoice")."""
        with self.lock:
            original = self.get(company, "invoice", invoice_id)
            target = self.company(company)
            credit = credit_note_for(
                original,
                credit_id=self.new_id(),
                credit_number=target.next_invoice_number,
                credit_date=credit_date or self._clock().date(),
                modified=self.stamp(),
            )
            target.records["invoice"][credit.id] = credit
            _advance_numbers(target, credit)
            return credit

    # -- internals ------------------------------------------------------------------------------------

    def _complete(self, target: Company, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Fill what Moment assigns itself: id, customer/project/invoice numbers, totals, KID."""
        fields = self._refs(target.code, kind, fields)
        fields.setdefault("id", self.new_id())
        if kind == "customer":
            fields.setdefault("customer_number", str(target.next_customer_number))
            fields.setdefault("customer_state", "active")
        elif kind == "project":
            fields.setdefault("project_number", str(target.next_project_number))
            fields.setdefault("project_state", "inProgress")
        elif kind == "invoice":
            draft = fields.get("invoice_state") == InvoiceState.DRAFT.value
            if not draft:
                fields.setdefault("invoice_number", target.next_invoice_number)
                fields.setdefault("invoice_state", InvoiceState.FINALIZED.value)
                fields.setdefault("export_status", "toTransfer")
            if isinstance(fields.get("invoice_date"), str):
                fields["invoice_date"] = date.fromisoformat(fields["invoice_date"])
            fields.setdefault("invoice_date", self._clock().date())
            fields.setdefault("due_date", fields["invoice_date"] + timedelta(days=14))
            fields["lines"] = [
                InvoiceLine.model_validate(line) if isinstance(line, dict) else line
                for line in fields.get("lines", [])
            ]
            if "total_incl_vat" not in fields:
                net = sum((line.amount_excl_vat for line in fields["lines"]), Decimal(0))
                vat = sum((line.vat_amount for line in fields["lines"]), Decimal(0))
                fields.update(total_excl_vat=net, total_vat=vat, total_incl_vat=net + vat)
            customer = fields.get("customer")
            if (
                "payment_id" not in fields
                and fields.get("invoice_number")
                and isinstance(customer, CustomerRef)
            ):
                fields["payment_id"] = kid_mod10(
                    f"{customer.customer_number or 0}{fields['invoice_number']:06d}"
                )
        return fields

    def _refs(self, company: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Let admin callers pass ids or records for ``customer``/``project``; store Moment's refs."""
        fields = dict(fields)
        for name, ref_kind in (("customer", "customer"), ("project", "project")):
            value = fields.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                value = self.get(company, ref_kind, value)
            if isinstance(value, Customer):
                fields[name] = customer_ref(value)
            elif isinstance(value, Project):
                fields[name] = project_ref(value)
        project = fields.get("project")
        if kind == "invoice" and fields.get("customer") is None and isinstance(project, ProjectRef):
            owner = self.get(company, "project", project.id).customer
            fields["customer"] = owner
        return fields


def _kind_of(record: Any) -> str:
    for kind, model in KIND_MODELS.items():
        if isinstance(record, model):
            return kind
    raise TypeError(f"not a Moment record: {type(record).__name__}")


def _advance_numbers(target: Company, record: Any) -> None:
    """Keep Moment's own counters past any number a fixture or admin call chose."""
    number = getattr(record, "customer_number", None) if isinstance(record, Customer) else None
    if number and number.isdigit():
        target.next_customer_number = max(target.next_customer_number, int(number) + 1)
    number = record.project_number if isinstance(record, Project) else None
    if number and number.isdigit():
        target.next_project_number = max(target.next_project_number, int(number) + 1)
    if isinstance(record, Invoice) and record.invoice_number is not None:
        target.next_invoice_number = max(target.next_invoice_number, record.invoice_number + 1)
