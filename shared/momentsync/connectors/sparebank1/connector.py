"""The SpareBank 1 Regnskap connector: momentsync's accounting port on the Unimicro platform.

Platform rules live here: upsert by number (customers, projects), a filter re-checked on every row,
IDs looked up from numbers and cached per company (currencies, sales accounts, VAT types), project
statuses moved by transitions, and invoices booked as one voucher each.

Exactly once for invoices: every voucher carries its natural key in ``JournalEntry.ExternalSource`` /
``ExternalReference`` (tenant + Moment's invoice id). ``create_invoice`` looks that key up before it
books (one GET; so a lost sync state books nothing twice either), and ``find_invoice`` (called by the
use case after any ambiguous failure) and a 400 on booking look it up too. Vouchers booked before the
key existed (or by a platform that drops it) are still found by the older search: journal lines by
Moment's invoice number, carrying our voucher number or the customer's sub-ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from momentsync.connectors.credits import over_credit_reason
from momentsync.connectors.sparebank1 import mapping
from momentsync.connectors.sparebank1.client import (
    SpareBank1Client,
    SpareBank1NotFound,
    SpareBank1ValidationError,
)
from momentsync.connectors.sparebank1.models import (
    CUSTOMER_ACTIVE,
    CUSTOMER_EXPAND,
    CUSTOMER_INACTIVE,
    JOURNAL_ENTRY_KEY_SELECT,
    JOURNAL_LINE_SELECT,
    Account,
    CurrencyCode,
    Customer,
    JournalEntry,
    JournalEntryLine,
    Project,
    VatType,
    quote,
)
from momentsync.errors import PermanentError, TransientError
from momentsync.moment.models import Customer as MomentCustomer
from momentsync.moment.models import Invoice as MomentInvoice
from momentsync.moment.models import Project as MomentProject
from momentsync.observability import logger
from momentsync.ports import InvoiceContent, InvoiceParties, InvoiceTotals, RemoteRecord
from momentsync.sync.sync_state import SyncLink
from momentsync.tenants import Tenant

KIND_INVOICE, KIND_CREDIT_NOTE = "voucher", "credit_voucher"
# Vouchers whose lines one deep-check request asks for (an ``or`` of IDs: the URL stays under 2 KB).
VOUCHERS_PER_READ = 40

# Per process and company: IDs behind numbers and codes change rarely; caching them saves a call or two
# on every record. A stale ID shows up as a foreign-key error naming the field (a cold start forgets it).
_company_ids: dict[str, dict[str, Any]] = {}
_ids_lock = threading.Lock()


class SpareBank1Connector:
    def __init__(self, tenant: Tenant, client: SpareBank1Client, *, amounts_include_vat: bool = True) -> None:
        self.tenant = tenant
        self.client = client
        # [INF] docs/reference/sparebank1.md §6.2: a draft line with an output VAT type carries the gross
        # amount.
        self.amounts_include_vat = amounts_include_vat
        self._read_back: dict[str, InvoiceTotals] = {}
        self._customer_accounts: dict[int, int] = {}

    @property
    def remote_calls(self) -> int:
        return self.client.requests_sent

    # ------------------------------------------------------------------ backfill
    def natural_keys(self, entity_type: str) -> dict[str, str]:
        """Every record of one kind in the company, natural key -> platform ID, read once (paged), keyed
        as the processor looks records up: customers and projects by number; vouchers by our external
        key, else by Moment's invoice number on their lines together with the voucher number."""
        index: dict[str, str] = {}
        if entity_type == "customer":
            for row in self.client.list_all("customers", select="ID,CustomerNumber"):
                if row.get("ID") is not None and row.get("CustomerNumber") is not None:
                    index.setdefault(f"number:{row['CustomerNumber']}", str(row["ID"]))
        elif entity_type == "project":
            for row in self.client.list_all("projects", select="ID,ProjectNumber"):
                if row.get("ID") is not None and row.get("ProjectNumber"):
                    index.setdefault(f"number:{str(row['ProjectNumber']).strip()}", str(row["ID"]))
        else:
            for row in self.client.find(
                "journalentries",
                f"ExternalSource eq {quote(mapping.EXTERNAL_SOURCE)}",
                lambda row: row.get("ExternalSource") == mapping.EXTERNAL_SOURCE,
                select=JOURNAL_ENTRY_KEY_SELECT,
                orderby="ID",
            ):
                if row.get("ExternalReference") and row.get("ID") is not None:
                    index.setdefault(f"ref:{row['ExternalReference']}", str(row["ID"]))
            # Vouchers without our key (earlier releases, Moment's own integration): Moment's invoice
            # number on a line plus the voucher number (``N`` of ``N-YYYY``), as ``find_invoice`` matches.
            for row in self.client.find(
                "journalentrylines",
                "InvoiceNumber ne null",
                lambda row: bool(row.get("InvoiceNumber")) and row.get("JournalEntryID") is not None,
                select=JOURNAL_LINE_SELECT,
                orderby="ID",
            ):
                voucher = str(row.get("JournalEntryNumber") or "").split("-", 1)[0]
                key = f"invoice:{row['InvoiceNumber']}:voucher:{voucher}"
                index.setdefault(key, str(row["JournalEntryID"]))
        return index

    def natural_keys_of(self, entity_type: str, record: Any) -> list[str]:
        """The keys ``natural_keys`` indexes, for one Moment record, in the order they are tried. A record
        Moment's rules refuse (a number the platform does not allow) has none: the processor will say why."""
        try:
            if entity_type == "customer":
                return [f"number:{mapping.customer_number(record)}"]
            if entity_type == "project":
                return [f"number:{mapping.project_number(record)}"]
            return [
                f"ref:{mapping.external_reference(self.tenant.tenant_id, record)}",
                f"invoice:{record.invoice_number}:voucher:{mapping.voucher_number(record)}",
            ]
        except PermanentError:
            return []

    def search_natural_key(self, entity_type: str, record: Any) -> str | None:
        return None  # every key is in the lists (unlike Fiken's write-only memberNumberString)

    # ------------------------------------------------------------------ deep check
    def target_records(
        self, entity_type: str, links: list[SyncLink] | None = None
    ) -> dict[str, dict[str, Any]]:
        """What the books hold of the linked records, keyed by platform ID, with the number and, for
        vouchers, the gross as booked (øre, the totals check's signs) and whether someone reversed the
        voucher by hand (its lines credited). Customers and projects: their lists, read once (paged);
        a deleted one is not listed. Vouchers: only the linked ones' lines, a chunk of IDs per request
        (a company's journal holds every bank and purchase voucher too)."""
        # ``Deleted`` selected too: the platform deletes softly, and a list that returned deleted rows
        # must not hide a deletion (the emulator, like the platform's UI, leaves them out).
        if entity_type == "customer":
            return {
                str(row["ID"]): {"number": _text(row.get("CustomerNumber"))}
                for row in self.client.list_all("customers", select="ID,CustomerNumber,Deleted")
                if row.get("ID") is not None and not row.get("Deleted")
            }
        if entity_type == "project":
            return {
                str(row["ID"]): {"number": _text(row.get("ProjectNumber"))}
                for row in self.client.list_all("projects", select="ID,ProjectNumber,Deleted")
                if row.get("ID") is not None and not row.get("Deleted")
            }
        ids = [link.remote_id for link in links or ()]
        wanted = sorted({int(remote_id) for remote_id in ids if remote_id and _is_id(remote_id)})
        by_entry: dict[int, list[JournalEntryLine]] = {}
        for start in range(0, len(wanted), VOUCHERS_PER_READ):
            chunk = set(wanted[start : start + VOUCHERS_PER_READ])

            def in_chunk(row: dict[str, Any], chunk: set[int] = chunk) -> bool:
                return row.get("JournalEntryID") in chunk

            rows = self.client.find(
                "journalentrylines",
                " or ".join(f"JournalEntryID eq {entry_id}" for entry_id in sorted(chunk)),
                in_chunk,
                select=JOURNAL_LINE_SELECT + ",ReferenceCreditPostID",
                orderby="ID",
            )
            for row in rows:
                line = JournalEntryLine.model_validate(row)
                by_entry.setdefault(int(row["JournalEntryID"]), []).append(line)
        records: dict[str, dict[str, Any]] = {}
        for entry_id, lines in by_entry.items():
            totals = mapping.voucher_totals(lines, self._vat_account_ids(), self._vat_codes())
            found: dict[str, Any] = {"number": lines[0].JournalEntryNumber, "gross": totals.gross}
            # The platform's "credit voucher" posts a reversal and points each original line at it.
            if any(line.ReferenceCreditPostID for line in lines):
                found["state"] = "reversed"
            records[str(entry_id)] = found
        return records

    def target_key(self, entity_type: str, link: SyncLink) -> str:
        return str(link.remote_id)

    # ------------------------------------------------------------------ customers
    def customer_content(self, customer: MomentCustomer) -> dict[str, Any]:
        return mapping.customer_content(customer)

    def upsert_customer(
        self, customer: MomentCustomer, link: SyncLink | None, taken: Callable[[str], bool] | None = None
    ) -> RemoteRecord:
        # ``taken`` is not needed: customers are found by CustomerNumber, which one customer holds.
        owned = mapping.customer_content(customer)  # Moment's rules fail here, before any call
        number = owned["CustomerNumber"]
        existing = self._linked_customer(link, number) or self._find_customer(number)
        currency_id = self._currency_id(owned["CurrencyCode"]) if owned["CurrencyCode"] else None
        if existing is None:
            body = mapping.customer_body(self.tenant.tenant_id, customer, None, currency_id=currency_id)
            try:
                record = Customer.model_validate(self.client.create("customers", body.new_body()))
            except SpareBank1ValidationError as exc:
                # A replayed _createguid means an earlier attempt was saved: continue with what it made.
                existing = self._find_customer(number) if "_createguid" in exc.fields else None
                if existing is None:
                    raise PermanentError(
                        f"SpareBank 1 refused customer {number}: {exc.platform_message}"
                    ) from exc
        if existing is not None:
            body = mapping.customer_body(self.tenant.tenant_id, customer, existing, currency_id=currency_id)
            try:
                self.client.update("customers", _id(existing), body.echo_body())
            except SpareBank1ValidationError as exc:
                raise PermanentError(
                    f"SpareBank 1 refused customer {number}: {exc.platform_message}"
                ) from exc
            record = existing
        self._set_customer_status(_id(record), record.StatusCode, active=owned["Active"])
        return RemoteRecord(str(record.ID), str(number))

    def _linked_customer(self, link: SyncLink | None, number: int) -> Customer | None:
        if not (link and link.remote_id):
            return None
        try:
            found = Customer.model_validate(
                self.client.get("customers", int(link.remote_id), expand=CUSTOMER_EXPAND)
            )
        except SpareBank1NotFound:
            return None  # deleted in the books: found by number or created again
        # Renumbered in Moment: the row stays ours, unless another customer already holds the number.
        return found if found.CustomerNumber in (number, None) or not self._find_customer(number) else None

    def _find_customer(self, number: int) -> Customer | None:
        rows = self.client.find(
            "customers",
            f"CustomerNumber eq {number}",
            lambda row: row.get("CustomerNumber") == number,
            expand=CUSTOMER_EXPAND,
        )
        return Customer.model_validate(rows[0]) if rows else None

    def _set_customer_status(self, customer_id: int, status: int | None, *, active: bool) -> None:
        if active and status == CUSTOMER_INACTIVE:
            self.client.action("PUT", "customers", "activate", params={"id": customer_id})
        elif not active and status in (CUSTOMER_ACTIVE, None):
            self.client.action("PUT", "customers", "deactivate", params={"id": customer_id})

    # ------------------------------------------------------------------ projects
    def project_content(self, project: MomentProject, customer: RemoteRecord | None) -> dict[str, Any]:
        return mapping.project_content(project, _int(customer))

    def upsert_project(
        self, project: MomentProject, customer: RemoteRecord | None, link: SyncLink | None
    ) -> RemoteRecord:
        number = mapping.project_number(project)  # Moment's rule, before any call
        existing = self._linked_project(link) or self._find_project(number)
        body = mapping.project_body(project, existing, _int(customer))
        try:
            if existing is None:
                record = Project.model_validate(self.client.create("projects", body.new_body()))
            else:
                self.client.update("projects", _id(existing), body.echo_body())
                record = existing
        except SpareBank1ValidationError as exc:
            raise PermanentError(
                f"SpareBank 1 refused project {number} '{project.name}': {exc.platform_message}"
            ) from exc
        status = self._steer_project(_id(record), record.StatusCode, mapping.wanted_project_status(project))
        return RemoteRecord(str(record.ID), str(number), {"status": status} if status else {})

    def _linked_project(self, link: SyncLink | None) -> Project | None:
        if not (link and link.remote_id):
            return None
        try:
            return Project.model_validate(self.client.get("projects", int(link.remote_id)))
        except SpareBank1NotFound:
            return None

    def _find_project(self, number: int) -> Project | None:
        rows = self.client.find(
            "projects",
            f"ProjectNumber eq {quote(str(number))}",
            lambda row: row.get("ProjectNumber") == str(number),
        )
        return Project.model_validate(rows[0]) if rows else None

    def _steer_project(self, project_id: int, current: int | None, wanted: int | None) -> int | None:
        """Moves the status through the platform's transitions (a written StatusCode is ignored)."""
        path = mapping.project_transitions(current, wanted)
        if path is None:
            # E.g. back to "registered" from "in progress": the platform has no such transition.
            logger.warning(
                "sparebank1 project status cannot follow Moment",
                extra={"project_id": project_id, "current": current, "wanted": wanted},
            )
            return current
        for action in path:
            self.client.action(
                "POST", "projects", action, record_id=project_id, params={"projectID": project_id}
            )
        return wanted if path else current

    # ------------------------------------------------------------------ invoices
    def invoice_content(self, invoice: MomentInvoice, parties: InvoiceParties) -> InvoiceContent:
        lines = mapping.sales_lines(invoice, self.tenant.mapping)
        fields = {
            "kind": KIND_CREDIT_NOTE if invoice.is_credit_note else KIND_INVOICE,
            "number": invoice.invoice_number,
            "voucher": mapping.voucher_number(invoice),
            "date": str(invoice.invoice_date),
            "customer": parties.customer.remote_id,
            "project": parties.project.remote_id if parties.project else None,
            "kid": invoice.payment_id,
            "lines": [[li.account_number, li.vat_code, li.net, li.vat, li.description] for li in lines],
            "credits": parties.credited.remote_id if parties.credited else None,
        }
        return InvoiceContent(fields, due_date=invoice.due_date)

    def find_invoice(self, invoice: MomentInvoice, parties: InvoiceParties) -> RemoteRecord | None:
        """The voucher an earlier attempt booked: by its external key, else by the invoice number."""
        return self._find_by_external_key(invoice) or self._find_by_invoice_number(invoice, parties)

    def _find_by_external_key(self, invoice: MomentInvoice) -> RemoteRecord | None:
        reference = mapping.external_reference(self.tenant.tenant_id, invoice)
        rows = self.client.find(
            "journalentries",
            f"ExternalSource eq {quote(mapping.EXTERNAL_SOURCE)} and ExternalReference eq {quote(reference)}",
            lambda row: (
                row.get("ExternalSource") == mapping.EXTERNAL_SOURCE
                and row.get("ExternalReference") == reference
            ),
            select=JOURNAL_ENTRY_KEY_SELECT,
            orderby="ID",
        )
        if not rows:
            return None
        entry = JournalEntry.model_validate(rows[0])  # the first booked, should there ever be two
        assert entry.ID is not None
        voucher = entry.JournalEntryNumber or mapping.voucher_number(invoice)
        return RemoteRecord(str(entry.ID), voucher, {"kind": self._kind(invoice), "voucher": voucher})

    def _find_by_invoice_number(self, invoice: MomentInvoice, parties: InvoiceParties) -> RemoteRecord | None:
        """Vouchers booked without the external key (older releases): journal lines by invoice number."""
        number = str(invoice.invoice_number)
        rows = self.client.find(
            "journalentrylines",
            f"InvoiceNumber eq {quote(number)}",
            lambda row: str(row.get("InvoiceNumber") or "") == number,
            select=JOURNAL_LINE_SELECT,
            orderby="ID",
        )
        lines = [JournalEntryLine.model_validate(row) for row in rows if row.get("JournalEntryID")]
        if not lines:
            return None
        wanted = mapping.voucher_number(invoice)
        ours = [line for line in lines if mapping.voucher_matches(line, wanted)]
        if not ours:
            account = self._customer_account_id(parties.customer)
            ours = [line for line in lines if line.SubAccountID == account]
        if not ours:
            return None
        entry_id = min(line.JournalEntryID for line in ours if line.JournalEntryID)
        voucher = next(line.JournalEntryNumber for line in ours if line.JournalEntryID == entry_id)
        return RemoteRecord(str(entry_id), voucher, {"kind": self._kind(invoice), "voucher": voucher})

    def create_invoice(self, invoice: MomentInvoice, parties: InvoiceParties) -> RemoteRecord:
        # The use case has already looked the voucher up by its natural key (find_invoice) before any
        # create, with or without sync state, so no second lookup here.
        entry = self._voucher(invoice, parties)
        self._check_period_open(invoice)
        self._refuse_over_credit(invoice, parties)
        try:
            answer = self.client.action(
                "POST", "journalentries", "book-journal-entries", body=[entry.new_body()]
            )
        except SpareBank1ValidationError as exc:
            # Nothing was booked by this request; the number may be taken by our own earlier attempt.
            found = self.find_invoice(invoice, parties)
            if found is not None:
                return found
            if "JournalEntryNumber" in exc.fields:
                raise PermanentError(
                    f"voucher number {entry.JournalEntryNumber} of invoice {invoice.invoice_number} is "
                    f"already used by another voucher in SpareBank 1 Regnskap: {exc.platform_message}"
                ) from exc
            raise PermanentError(
                f"SpareBank 1 refused the voucher for invoice {invoice.invoice_number}: "
                f"{exc.platform_message}"
            ) from exc
        booked = JournalEntry.model_validate(
            answer[0] if isinstance(answer, list) and answer else answer or {}
        )
        if booked.ID is None:
            # The published description declares a bare object, not the entry: never fail after
            # booking for want of an ID; find the voucher by its natural key (the intent recorded
            # before booking makes a retry look it up too, so nothing is booked twice).
            found = self.find_invoice(invoice, parties)
            if found is None:
                raise TransientError(
                    f"SpareBank 1 booked invoice {invoice.invoice_number} without naming the voucher, "
                    "and it is not found yet; the retry looks it up again"
                )
            return found
        if booked.Lines:
            self._read_back[str(booked.ID)] = mapping.voucher_totals(
                booked.Lines, self._vat_account_ids(), self._vat_codes()
            )
        voucher = booked.JournalEntryNumber or entry.JournalEntryNumber
        return RemoteRecord(str(booked.ID), voucher, {"kind": self._kind(invoice), "voucher": voucher})

    def _check_period_open(self, invoice: MomentInvoice) -> None:
        """A voucher dated into a locked period is refused by the platform: say so, naming the date
        and the fix, before booking (CompanySettings.AccountingLockedDate / VatLockedDate)."""
        rows = self.client.list("companysettings", select="ID,AccountingLockedDate,VatLockedDate")
        settings = rows[0] if isinstance(rows, list) and rows else {}
        dated = invoice.invoice_date
        for field, what in (("AccountingLockedDate", "accounting"), ("VatLockedDate", "VAT")):
            locked = str(settings.get(field) or "")[:10]
            if dated is not None and locked and dated.isoformat() <= locked:
                raise PermanentError(
                    f"invoice {invoice.invoice_number} is dated {dated.isoformat()}, in a period whose "
                    f"{what} is locked in SpareBank 1 Regnskap up to {locked} ({field}); open the period "
                    "in SpareBank 1 Regnskap (company settings, lock dates) or re-date the invoice in "
                    "Moment, then replay the event"
                )

    def _refuse_over_credit(self, invoice: MomentInvoice, parties: InvoiceParties) -> None:
        """Before booking a credit note: what is left on the credited voucher, from the customer's
        sub-ledger (the original's receivable and the receivables of earlier credit notes on it)."""
        credited = parties.credited
        if not (invoice.is_credit_note and credited):
            return
        account = self._customer_account_id(parties.customer)
        rows = self.client.find(
            "journalentrylines",
            f"SubAccountID eq {account}",
            lambda row: row.get("SubAccountID") == account,
            select=JOURNAL_LINE_SELECT + ",Description",
        )
        lines = [JournalEntryLine.model_validate(row) for row in rows]
        voucher = credited.details.get("voucher") or credited.remote_number
        original = sum(
            mapping.to_ore(line.Amount or Decimal(0))
            for line in lines
            if str(line.JournalEntryID) == credited.remote_id
        )
        if not original:
            # Nothing of the original on this customer's sub-ledger: a zero total, or another customer's.
            entry_id = int(credited.remote_id)
            owners = {
                row.get("SubAccountID")
                for row in self.client.find(
                    "journalentrylines",
                    f"JournalEntryID eq {entry_id}",
                    lambda row: row.get("JournalEntryID") == entry_id,
                    select=JOURNAL_LINE_SELECT,
                )
                if row.get("SubAccountID")
            }
            if owners - {account}:
                who = invoice.customer.customer_number or f"id {invoice.customer.id}"
                raise PermanentError(
                    f"credit note {invoice.invoice_number} is for customer {who}, but voucher "
                    f"{credited.remote_number} it credits is on another customer's sub-ledger: a credit "
                    "note belongs to the credited invoice's customer; correct it in Moment"
                )
        already = -sum(
            mapping.to_ore(line.Amount or Decimal(0))
            for line in lines
            if line.InvoiceNumber != str(invoice.invoice_number)
            and mapping.credits_invoice(line.Description, invoice.credited_invoice_number, voucher)
        )
        refused = over_credit_reason(invoice, credited.remote_number, original, already)
        if refused:
            raise PermanentError(refused)

    def _voucher(self, invoice: MomentInvoice, parties: InvoiceParties) -> JournalEntry:
        lines = mapping.sales_lines(invoice, self.tenant.mapping)
        vat_types = self._vat_types()
        for line in lines:
            vat_type = vat_types.get(line.vat_code) if line.vat_code else None
            if line.vat_code and vat_type is None:
                raise PermanentError(
                    f"VAT code {line.vat_code} (invoice {invoice.invoice_number}, account "
                    f"{line.account_number}) does not exist in SpareBank 1 Regnskap; make the VAT codes "
                    "equal in both systems"
                )
            mapping.check_vat(invoice, line, vat_type)
        credited = parties.credited
        return mapping.voucher(
            self.tenant.tenant_id,
            invoice,
            lines,
            customer_account_id=self._customer_account_id(parties.customer),
            sales_accounts={
                line.account_number: self._sales_account_id(line.account_number) for line in lines
            },
            vat_types=vat_types,
            project_id=_int(parties.project),
            customer_name=invoice.customer.name,
            credited_voucher=(credited.details.get("voucher") or credited.remote_number)
            if credited
            else None,
            amounts_include_vat=self.amounts_include_vat,
        )

    def has_invoice_pdf(self, remote: RemoteRecord, invoice_number: int | None = None) -> bool:
        return False  # no PDFs are sent (below), so there is nothing to look for

    def attach_invoice_pdf(self, remote: RemoteRecord, filename: str, pdf: bytes) -> None:
        # Moment's own SB1 integration sends no attachments; the files service is a v2 item (README).
        return None

    def update_invoice_due_date(self, remote: RemoteRecord, due_date: date) -> bool:
        return False  # a booked voucher is not changed; the use case flags the new due date

    def invoice_totals(self, remote: RemoteRecord) -> InvoiceTotals:
        known = self._read_back.pop(remote.remote_id, None)
        if known is not None:
            return known
        rows = self.client.find(
            "journalentrylines",
            f"JournalEntryID eq {int(remote.remote_id)}",
            lambda row: row.get("JournalEntryID") == int(remote.remote_id),
            select=JOURNAL_LINE_SELECT,
        )
        lines = [JournalEntryLine.model_validate(row) for row in rows]
        return mapping.voucher_totals(lines, self._vat_account_ids(), self._vat_codes())

    def expected_totals(self, invoice: MomentInvoice) -> InvoiceTotals:
        return mapping.expected_totals(invoice, mapping.sales_lines(invoice, self.tenant.mapping))

    @staticmethod
    def _kind(invoice: MomentInvoice) -> str:
        return KIND_CREDIT_NOTE if invoice.is_credit_note else KIND_INVOICE

    # ------------------------------------------------------------------ IDs behind numbers (cached)
    def _ids(self) -> dict[str, Any]:
        with _ids_lock:
            return _company_ids.setdefault(self.client.company_key.lower(), {})

    def _currency_id(self, code: str) -> int:
        cache: dict[str, int] = self._ids().setdefault("currencies", {})
        if code not in cache:
            rows = self.client.find(
                "currencycodes",
                f"Code eq {quote(code)}",
                lambda row: str(row.get("Code", "")).upper() == code,
            )
            if not rows:
                raise PermanentError(f"currency {code} does not exist in SpareBank 1 Regnskap")
            cache[code] = CurrencyCode.model_validate(rows[0]).ID
        return cache[code]

    def _sales_account_id(self, number: str) -> int:
        cache: dict[str, int] = self._ids().setdefault("accounts", {})
        if number not in cache:
            if not number.isdigit():
                raise PermanentError(f"account {number} is not a number; SpareBank 1 accounts are numeric")
            rows = self.client.find(
                "accounts",
                f"AccountNumber eq {int(number)}",
                lambda row: row.get("AccountNumber") == int(number) and not row.get("CustomerID"),
                select="ID,AccountNumber,CustomerID,VatTypeID,Locked,LockManualPosts",
            )
            if not rows:
                raise PermanentError(
                    f"account {number} does not exist in SpareBank 1 Regnskap; make the account numbers "
                    "equal in Moment and SpareBank 1"
                )
            account = Account.model_validate(rows[0])
            if account.Locked or account.LockManualPosts:
                # Not cached: once someone unlocks it, the next attempt (a replay) books.
                how = (
                    "locked"
                    if account.Locked
                    else "locked against manual posting (sperret for manuelle føringer)"
                )
                raise PermanentError(
                    f"account {number} is {how} in SpareBank 1 Regnskap; unlock it in the chart of accounts "
                    f"or map Moment's account to another (`momentsync tenants settings TENANT --account "
                    f"{number}=OTHER`), then replay the event"
                )
            cache[number] = account.ID
        return cache[number]

    def _customer_account_id(self, customer: RemoteRecord) -> int:
        """The customer's sub-ledger account (the receivable leg books on it)."""
        customer_id = int(customer.remote_id)
        if customer_id not in self._customer_accounts:
            rows = self.client.find(
                "accounts",
                f"CustomerID eq {customer_id}",
                lambda row: row.get("CustomerID") == customer_id,
                select="ID,AccountNumber,CustomerID",
            )
            if not rows:
                raise PermanentError(
                    f"customer {customer.remote_number} has no customer account in SpareBank 1"
                )
            self._customer_accounts[customer_id] = Account.model_validate(rows[0]).ID
        return self._customer_accounts[customer_id]

    def _vat_types(self) -> dict[str, VatType]:
        ids = self._ids()
        if "vat_types" not in ids:
            rows = self.client.list_all(
                "vattypes",
                select="ID,VatCode,VatPercent,OutgoingAccountID,OutputVat,VatTypePercentages",
                expand="VatTypePercentages",  # the rate valid on the invoice date, not only today's
            )
            types = [VatType.model_validate(row) for row in rows]
            ids["vat_types"] = {str(t.VatCode): t for t in types if t.VatCode is not None}
        vat_types: dict[str, VatType] = ids["vat_types"]
        return vat_types

    def _vat_codes(self) -> dict[int, str]:
        return {t.ID: code for code, t in self._vat_types().items()}

    def _vat_account_ids(self) -> set[int]:
        return {t.OutgoingAccountID for t in self._vat_types().values() if t.OutgoingAccountID}


def _text(value: Any) -> str | None:
    return str(value).strip() if value is not None else None


def _is_id(value: str | None) -> bool:
    return bool(value) and str(value).isdigit()


def _id(record: Customer | Project) -> int:
    assert record.ID is not None
    return record.ID


def _int(record: RemoteRecord | None) -> int | None:
    return int(record.remote_id) if record is not None else None
