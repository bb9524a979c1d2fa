"""The Fiken connector: momentsync's accounting port, implemented with the Fiken API v2 client.

Fiken-specific rules live here: find before create (no idempotency keys), GET-merge-PUT for
contacts (PUT replaces the whole contact), immutable project numbers, the bank account invoices
are issued on, the invoice counter, and which document a Moment invoice becomes (invoice, sale,
full or partial credit note).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import unquote

from momentsync.connectors.credits import over_credit_reason
from momentsync.connectors.fiken import mapping
from momentsync.connectors.fiken.client import FikenClient, FikenConflict, FikenNotFound, FikenValidationError
from momentsync.connectors.fiken.models import (
    Attachment,
    BankAccountRequest,
    BankAccountType,
    Contact,
    ContactResult,
    CreditNoteResult,
    InvoiceResult,
    SaleResult,
    UpdateInvoiceRequest,
)
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem
from momentsync.moment.models import Customer, Invoice, Project
from momentsync.ports import InvoiceContent, InvoiceParties, InvoiceTotals, RemoteRecord
from momentsync.sync.sync_state import SyncLink
from momentsync.tenants import ForeignCurrency, InvoiceMode, Tenant

# Per process (one Lambda container): the bank account code and VAT status of each tenant's company
# change rarely; caching them saves two calls on every invoice. Keyed by the tenant AND its company (a
# tenant reconnected to another company starts afresh), and the bank account code by the account number
# the tenant's settings ask for (an operator's `tenants settings --bank-account` applies to the next
# invoice, not when the container is recycled).
_company_facts: dict[tuple[str, str], dict[str, Any]] = {}
_facts_lock = threading.Lock()

KIND_INVOICE, KIND_SALE, KIND_CREDIT_NOTE = "invoice", "sale", "credit_note"


class FikenConnector:
    def __init__(self, tenant: Tenant, client: FikenClient) -> None:
        self.tenant = tenant
        self.client = client
        # Totals of documents already read in this event (after create, or found by key): the totals
        # check uses them instead of reading the same document again (a quarter of an invoice's calls).
        self._read_back: dict[tuple[str, str], InvoiceTotals] = {}

    @property
    def remote_calls(self) -> int:
        return self.client.requests_sent

    # ------------------------------------------------------------------ backfill
    def natural_keys(self, entity_type: str) -> dict[str, str]:
        """Every record of one kind in Fiken, natural key -> Fiken id, read once (paged): a backfill
        matches thousands of Moment records in memory instead of searching Fiken once per record."""
        index: dict[str, str] = {}
        if entity_type == "customer":
            # memberNumberString is write-only in Fiken (never returned): a list can only be matched by
            # organisation number; ``search_natural_key`` asks Fiken for the rest, one record at a time.
            for contact in self.client.find_contacts():
                org = mapping._digits(contact.organization_number)
                if contact.customer is not False and org:
                    index.setdefault(f"org:{org}", str(contact.contact_id))
        elif entity_type == "project":
            index = {f"number:{p.number}": str(p.project_id) for p in self.client.find_projects() if p.number}
        elif self.tenant.mapping.invoice_mode is InvoiceMode.SALE:
            index = {
                f"number:{s.sale_number}": str(s.sale_id)
                for s in self.client.find_sales()
                if s.sale_number and not s.deleted
            }
        else:
            index = {
                f"number:{i.order_reference}": str(i.invoice_id)
                for i in self.client.find_invoices()
                if i.order_reference
            }
            for note in self.client.find_credit_notes():
                if note.order_reference:
                    index.setdefault(f"number:{note.order_reference}", str(note.credit_note_id))
        return index

    def search_natural_key(self, entity_type: str, record: Any) -> str | None:
        """For a record ``natural_keys`` could not match: Fiken searched by a key it does not return."""
        if entity_type != "customer":
            return None  # projects and documents are matched completely from their lists
        found = self.client.find_contacts(member_number_string=mapping.member_number(record))
        return str(found[0].contact_id) if found else None

    def natural_keys_of(self, entity_type: str, record: Any) -> list[str]:
        """The keys ``natural_keys`` indexes, for one Moment record, in the order they are tried."""
        if entity_type == "customer":
            # Written to Fiken as digits only (mapping), so "912 345 670" in Moment is 912345670 there.
            org = mapping._digits(record.organization_number)
            return [f"org:{org}"] if org else []
        if entity_type == "project":
            return [f"number:{record.project_number}"] if record.project_number else []
        return [f"number:{mapping.order_reference(record)}"]

    # ------------------------------------------------------------------ deep check
    def target_records(self, entity_type: str, links: Any = None) -> dict[str, dict[str, Any]]:
        """Every record of one kind in Fiken, read once (paged), keyed as ``target_key`` keys a link,
        with what the deep check compares: the number Fiken gave it and, for documents, the gross."""
        if entity_type == "customer":
            return {
                str(c.contact_id): {"number": _number(c.customer_number)}
                for c in self.client.find_contacts()
                if c.customer is not False
            }
        if entity_type == "project":
            return {str(p.project_id): {"number": p.number} for p in self.client.find_projects()}
        # The kinds the links name (a tenant that changed --invoice-mode keeps its documents of before,
        # linked as what they are); without links, the tenant's current mode.
        sale_mode = self.tenant.mapping.invoice_mode is InvoiceMode.SALE
        kinds = (
            {self.target_key(entity_type, link).split(":", 1)[0] for link in links}
            if links
            else ({KIND_SALE} if sale_mode else {KIND_INVOICE, KIND_CREDIT_NOTE})
        )
        records: dict[str, dict[str, Any]] = {}
        if KIND_SALE in kinds:
            # A deleted sale is as good as missing: the books no longer show it.
            records.update(
                {
                    f"{KIND_SALE}:{s.sale_id}": {"number": s.sale_number, "gross": _sale_totals(s).gross}
                    for s in self.client.find_sales()
                    if not s.deleted
                }
            )
        if kinds & {KIND_INVOICE, KIND_CREDIT_NOTE}:  # read together, as they were always
            records.update(
                {
                    f"{KIND_INVOICE}:{i.invoice_id}": {
                        "number": _number(i.invoice_number),
                        "gross": _invoice_totals(i).gross,
                    }
                    for i in self.client.find_invoices()
                }
            )
        for note in self.client.find_credit_notes() if kinds & {KIND_INVOICE, KIND_CREDIT_NOTE} else ():
            records[f"{KIND_CREDIT_NOTE}:{note.credit_note_id}"] = {
                "number": _number(note.credit_note_number),
                "gross": _credit_note_totals(note).gross,
            }
        return records

    def target_key(self, entity_type: str, link: SyncLink) -> str:
        if entity_type != "invoice":
            return str(link.remote_id)
        default = KIND_SALE if self.tenant.mapping.invoice_mode is InvoiceMode.SALE else KIND_INVOICE
        return f"{link.details.get('kind', default)}:{link.remote_id}"

    # ------------------------------------------------------------------ customers
    def customer_content(self, customer: Customer) -> dict[str, Any]:
        return mapping.contact_from_customer(customer).to_body()

    def upsert_customer(
        self, customer: Customer, link: SyncLink | None, taken: Callable[[str], bool] | None = None
    ) -> RemoteRecord:
        wanted = mapping.contact_from_customer(customer)
        existing = self._linked_contact(link) or self._find_contact(customer, wanted, taken)
        if existing is None:
            contact_id = self.client.create_contact(wanted)
            # customerNumber is assigned by Fiken; read it back for the sync state.
            created = self.client.get_contact(contact_id)
            return RemoteRecord(str(contact_id), _number(created.customer_number))
        # PUT replaces the whole contact: start from Fiken's copy so contact persons, groups and
        # notes that Fiken owns survive, and overwrite only the fields Moment owns and sent.
        owned = mapping.owned_contact_fields(wanted, customer, existing.address)
        self.client.replace_contact(existing.contact_id, existing.to_contact(**owned))
        return RemoteRecord(str(existing.contact_id), _number(existing.customer_number))

    def _linked_contact(self, link: SyncLink | None) -> ContactResult | None:
        if not (link and link.remote_id):
            return None
        try:
            return self.client.get_contact(int(link.remote_id))
        except FikenNotFound:
            return None  # deleted in Fiken: find or create it again

    def _find_contact(
        self, customer: Customer, wanted: Contact, taken: Callable[[str], bool] | None = None
    ) -> ContactResult | None:
        """No link yet (or a lost create response): look Fiken up by our keys before any POST.

        The organisation number is not one customer's: two departments of a company are two Moment
        customers with one number. A contact found only by it is adopted only when no other Moment
        customer is linked to it (memberNumberString, which would say whose it is, is write-only)."""
        found = self.client.find_contacts(member_number_string=wanted.member_number_string)
        if not found and wanted.organization_number:
            found = [
                c
                for c in self.client.find_contacts(organization_number=wanted.organization_number)
                if c.customer is not False and not (taken and taken(str(c.contact_id)))
            ]
        return found[0] if found else None

    # ------------------------------------------------------------------ projects
    def project_content(self, project: Project, customer: RemoteRecord | None) -> dict[str, Any]:
        return mapping.project_request(project, _int(customer)).to_body()

    def upsert_project(
        self, project: Project, customer: RemoteRecord | None, link: SyncLink | None
    ) -> RemoteRecord:
        wanted = mapping.project_request(project, _int(customer))
        project_id = int(link.remote_id) if link and link.remote_id else None
        if project_id is None:
            found = [p for p in self.client.find_projects(number=wanted.number) if p.number == wanted.number]
            project_id = found[0].project_id if found else None
        try:
            if project_id is None:
                project_id = self.client.create_project(wanted)
            else:
                self.client.update_project(project_id, mapping.project_update(wanted))
        except FikenValidationError as exc:
            raise PermanentError(
                f"Fiken refused project {wanted.number} '{wanted.name}': {exc.fiken_message}"
            ) from exc
        return RemoteRecord(str(project_id), wanted.number)

    # ------------------------------------------------------------------ invoices
    def _kind(self, invoice: Invoice, parties: InvoiceParties) -> str:
        """The document Moment's invoice becomes. A credit note follows what it credits: a credited
        sale gets a (negative) sale, a credited Fiken invoice a credit note, whatever the mode now."""
        sale_mode = self.tenant.mapping.invoice_mode is InvoiceMode.SALE
        if invoice.is_credit_note:
            credited_kind = parties.credited.details.get("kind") if parties.credited else None
            if credited_kind == KIND_SALE or (credited_kind is None and sale_mode):
                return KIND_SALE
            return KIND_CREDIT_NOTE
        return KIND_SALE if sale_mode else KIND_INVOICE

    def invoice_content(self, invoice: Invoice, parties: InvoiceParties) -> InvoiceContent:
        kind = self._kind(invoice, parties)
        vat_registered = self._vat_registered()
        groups = mapping.group_lines(invoice, self.tenant.mapping, vat_registered=vat_registered)
        content: dict[str, Any] = {
            "kind": kind,
            "number": invoice.invoice_number,
            "issueDate": str(invoice.invoice_date),
            "customer": parties.customer.remote_id,
            "project": parties.project.remote_id if parties.project else None,
            "currency": invoice.currency_code,
            "kid": invoice.payment_id,
            "lines": [[g.account, g.vat_type, g.net, g.vat, g.description] for g in _per_account(groups)],
        }
        if parties.credited:
            content["credits"] = parties.credited.remote_id
        return InvoiceContent(content, due_date=invoice.due_date)

    def find_invoice(self, invoice: Invoice, parties: InvoiceParties) -> RemoteRecord | None:
        kind = self._kind(invoice, parties)
        reference = mapping.order_reference(invoice)
        customer_id = _int(parties.customer)
        if kind == KIND_SALE:
            # Each answer re-checked against our key: a server filtering loosely (2 finds 23) or not at
            # all must never make one Moment invoice adopt another's document.
            sales = [
                s
                for s in self.client.find_sales(sale_number=reference)
                if not s.deleted and str(s.sale_number) == reference
            ]
            if not sales:
                # Booked as a Fiken invoice before the tenant moved to sale mode (our state of it lost):
                # that document is this invoice's, never a second one beside it.
                return self._find_as_invoice(reference, customer_id)
            self._remember(kind, sales[0].sale_id, _sale_totals(sales[0]))
            return RemoteRecord(str(sales[0].sale_id), sales[0].sale_number, {"kind": kind})
        if kind == KIND_CREDIT_NOTE:
            # Fiken cannot filter credit notes by reference: list the customer's, match on ours.
            for note in self.client.find_credit_notes(customer_id=customer_id):
                credited = _int(parties.credited)
                if note.order_reference == reference or (
                    note.associated_invoice_id == credited
                    and note.credit_note_text
                    and mapping.is_credit_note_text_of(note.credit_note_text, invoice.invoice_number)
                ):
                    self._remember(kind, note.credit_note_id, _credit_note_totals(note))
                    return RemoteRecord(
                        str(note.credit_note_id), _number(note.credit_note_number), {"kind": kind}
                    )
            return None
        return self._find_as_invoice(reference, customer_id)

    def _find_as_invoice(self, reference: str, customer_id: int | None) -> RemoteRecord | None:
        kind = KIND_INVOICE
        for found in self.client.find_invoices(order_reference=reference):
            if found.order_reference != reference:
                continue  # not our key: see the sales above
            if found.customer is None or found.customer.contact_id == customer_id:
                self._remember(kind, found.invoice_id, _invoice_totals(found))
                # The due date it was made with: Moment may have moved it since that attempt.
                return RemoteRecord(
                    str(found.invoice_id),
                    _number(found.invoice_number),
                    {"kind": kind},
                    due_date=found.due_date,
                )
        return None

    def create_invoice(self, invoice: Invoice, parties: InvoiceParties) -> RemoteRecord:
        kind = self._kind(invoice, parties)
        if kind != KIND_SALE and invoice.currency_code.upper() != "NOK":
            self._refuse_target_rate(invoice)
        vat_registered = self._vat_registered()
        customer_id = int(parties.customer.remote_id)
        project_id = _int(parties.project)
        if kind == KIND_CREDIT_NOTE:
            return self._create_credit_note(invoice, parties, vat_registered, customer_id, project_id)
        groups = mapping.group_lines(invoice, self.tenant.mapping, vat_registered=vat_registered)
        if kind == KIND_SALE and invoice.is_credit_note:
            return self._create_sale_credit(invoice, parties, groups, customer_id, project_id)
        if kind == KIND_SALE:
            sale_id = self.client.create_sale(
                mapping.sale_request(invoice, groups, customer_id=customer_id, project_id=project_id)
            )
            return RemoteRecord(str(sale_id), str(invoice.invoice_number), {"kind": kind})
        request = mapping.invoice_request(
            self.tenant.tenant_id,
            invoice,
            groups,
            customer_id=customer_id,
            project_id=project_id,
            bank_account_code=self._bank_account_code(),
        )
        try:
            invoice_id = self.client.create_invoice(request)
        except (FikenValidationError, FikenConflict) as exc:
            # Not the 409 alone (the spec declares none): any refusal that names the counter, checked
            # against the counter itself.
            if not _about_counter(exc.fiken_message) or self.client.get_invoice_counter() is not None:
                raise
            # A company that never issued an invoice has no counter; start it at Fiken's default.
            # A 400 means nothing was created, so creating again is safe.
            self.client.initialise_invoice_counter()
            invoice_id = self.client.create_invoice(request)
        created = self.client.get_invoice(invoice_id)
        self._remember(kind, invoice_id, _invoice_totals(created))
        return RemoteRecord(str(invoice_id), _number(created.invoice_number), {"kind": kind})

    def _create_credit_note(
        self,
        invoice: Invoice,
        parties: InvoiceParties,
        vat_registered: bool,
        customer_id: int,
        project_id: int | None,
    ) -> RemoteRecord:
        credited = parties.credited
        assert credited is not None, "a credit note is resolved with the invoice it credits"
        if credited.details.get("kind") == KIND_CREDIT_NOTE:
            # Fiken credits invoices only; a credit note's id is no invoice id (it may name another one).
            which = invoice.credited_invoice_number or f"id {invoice.credited_invoice_id}"
            raise PermanentError(
                f"credit note {invoice.invoice_number} credits credit note {which} "
                f"(Fiken credit note {credited.remote_number}), not an invoice: Fiken has no credit note on "
                "a credit note; issue a new invoice in Moment instead"
            )
        original = self.client.get_invoice(int(credited.remote_id))
        owner = original.customer.contact_id if original.customer else customer_id
        if owner != customer_id:
            # Fiken files the credit note under the invoice's customer, not Moment's: the books would
            # differ from Moment, and a lost answer's lookup (under Moment's customer) would credit twice.
            who = invoice.customer.customer_number or f"id {invoice.customer.id}"
            raise PermanentError(
                f"credit note {invoice.invoice_number} is for customer {who} (Fiken contact {customer_id}), "
                f"but invoice {original.invoice_number} it credits is for Fiken contact {owner}: a credit "
                "note belongs to the credited invoice's customer; correct it in Moment"
            )
        earlier = [
            note
            for note in self.client.find_credit_notes(customer_id=owner)
            if note.associated_invoice_id == original.invoice_id
        ]
        already = sum(abs(note.gross or 0) for note in earlier)
        refused = over_credit_reason(
            invoice, _number(original.invoice_number), original.gross or 0, already, original.currency
        )
        if refused:
            raise PermanentError(refused)
        groups = mapping.group_lines(invoice, self.tenant.mapping, vat_registered=vat_registered)
        # A zero-total invoice counts as fully credited in Fiken from the start (credited 0 >= gross 0):
        # a full credit note on it is refused, a partial one with Moment's lines books the same thing.
        full = (original.gross or 0) > 0 and not earlier
        if full and mapping.mirrors(mapping.split_of(groups), _invoice_split(original)):
            note_id = self.client.create_full_credit_note(
                mapping.full_credit_note(invoice, original.invoice_id)
            )
        else:
            note_id = self.client.create_partial_credit_note(
                mapping.partial_credit_note(
                    invoice,
                    self.tenant.mapping,
                    vat_registered=vat_registered,
                    invoice_id=original.invoice_id,
                    customer_id=customer_id,
                    project_id=project_id,
                )
            )
        note = self.client.get_credit_note(note_id)
        self._remember(KIND_CREDIT_NOTE, note_id, _credit_note_totals(note))
        return RemoteRecord(str(note_id), _number(note.credit_note_number), {"kind": KIND_CREDIT_NOTE})

    def _refuse_target_rate(self, invoice: Invoice) -> None:
        """Fiken invoices and credit notes take no exchange rate: Fiken books the NOK at its own rate.
        The tenant decides whether that is acceptable (booked, then flagged with both NOK figures)."""
        if self.tenant.mapping.foreign_currency is ForeignCurrency.REFUSE:
            raise PermanentError(
                f"invoice {invoice.invoice_number} is in {invoice.currency_code.upper()} at Moment's rate "
                f"{invoice.currency_rate}; Fiken books invoices and credit notes in NOK at its own rate "
                "and takes none from us, and this tenant refuses that (setting foreign_currency=refuse). "
                "Use sale mode (Moment's rate) or set foreign_currency=target_rate"
            )

    def _create_sale_credit(
        self,
        invoice: Invoice,
        parties: InvoiceParties,
        groups: list[mapping.LineGroup],
        customer_id: int,
        project_id: int | None,
    ) -> RemoteRecord:
        """A credit note on a sale: refused when it credits more than is left, else a negative sale."""
        credited = parties.credited
        assert credited is not None, "a credit note is resolved with the invoice it credits"
        original = self.client.get_sale(int(credited.remote_id))
        if original.deleted:
            raise PermanentError(
                f"credit note {invoice.invoice_number} credits sale {original.sale_number}, which is deleted "
                "in Fiken: a negative sale would credit nothing that is in the books; restore or re-book "
                "the sale in Fiken (or cancel the credit note in Moment), then replay the event"
            )
        owner = original.customer.contact_id if original.customer else customer_id
        if owner != customer_id:
            # A negative sale on another contact lowers that contact's balance while the original's
            # customer still owes it all; and the credits of a sale are found under its own customer.
            who = invoice.customer.customer_number or f"id {invoice.customer.id}"
            raise PermanentError(
                f"credit note {invoice.invoice_number} is for customer {who} (Fiken contact {customer_id}), "
                f"but sale {original.sale_number} it credits is for Fiken contact {owner}: a credit note "
                "belongs to the credited invoice's customer; correct it in Moment"
            )
        earlier = [
            sale
            for sale in self.client.find_sales(contact_id=customer_id)
            if not sale.deleted
            and sale.sale_number != str(invoice.invoice_number)
            and mapping.is_sale_credit_of([line.description for line in sale.lines], original.sale_number)
        ]
        already = -sum(_sale_totals(sale).gross for sale in earlier)
        refused = over_credit_reason(
            invoice, original.sale_number, _sale_totals(original).gross, already, original.currency
        )
        if refused:
            raise PermanentError(refused)
        sale_id = self.client.create_sale(
            mapping.sale_credit_request(
                invoice,
                groups,
                credited_number=original.sale_number,
                customer_id=customer_id,
                project_id=project_id,
            )
        )
        return RemoteRecord(str(sale_id), str(invoice.invoice_number), {"kind": KIND_SALE})

    def attach_invoice_pdf(self, remote: RemoteRecord, filename: str, pdf: bytes) -> None:
        kind = remote.details.get("kind", KIND_INVOICE)
        if kind == KIND_INVOICE:
            self.client.upload_invoice_attachment(int(remote.remote_id), filename, pdf)
        elif kind == KIND_SALE:
            self.client.upload_sale_attachment(int(remote.remote_id), filename, pdf)
        # Issued credit notes take no attachments in Fiken API v2 (only drafts do); Fiken renders its own.

    def has_invoice_pdf(self, remote: RemoteRecord, invoice_number: int | None = None) -> bool:
        """Whether the document already carries this invoice's PDF: ours (an upload whose answer was
        lost) or one attached before we adopted it (Moment's own Fiken integration), recognised by the
        invoice number in its file name. Fiken has no idempotency keys, so this is what keeps a retried
        upload from making a second copy; a PDF an accountant attached by hand (a timesheet) is not
        Moment's invoice and does not stop it."""
        kind = remote.details.get("kind", KIND_INVOICE)
        if kind == KIND_INVOICE:
            attachments = self.client.list_invoice_attachments(int(remote.remote_id))
        elif kind == KIND_SALE:
            attachments = self.client.list_sale_attachments(int(remote.remote_id))
        else:
            return False  # credit notes take no attachments (see attach_invoice_pdf)
        return any(_is_invoice_pdf(a, invoice_number) for a in attachments)

    def update_invoice_due_date(self, remote: RemoteRecord, due_date: date) -> bool:
        # Only issued invoices take a new due date (PATCH newDueDate); sales and credit notes cannot.
        if remote.details.get("kind", KIND_INVOICE) != KIND_INVOICE:
            return False
        self.client.patch_invoice(int(remote.remote_id), UpdateInvoiceRequest(new_due_date=due_date))
        return True

    def invoice_totals(self, remote: RemoteRecord) -> InvoiceTotals:
        kind = remote.details.get("kind", KIND_INVOICE)
        known = self._read_back.pop((kind, remote.remote_id), None)
        if known is not None:
            return known
        if kind == KIND_SALE:
            return _sale_totals(self.client.get_sale(int(remote.remote_id)))
        if kind == KIND_CREDIT_NOTE:
            return _credit_note_totals(self.client.get_credit_note(int(remote.remote_id)))
        return _invoice_totals(self.client.get_invoice(int(remote.remote_id)))

    def expected_totals(self, invoice: Invoice) -> InvoiceTotals:
        groups = mapping.group_lines(invoice, self.tenant.mapping, vat_registered=self._vat_registered())
        gross_nok = None
        if invoice.currency_code.upper() != "NOK":
            # Per line, as the sale's NOK lines are computed (mapping._order_line).
            rate = invoice.currency_rate
            gross_nok = sum(mapping.to_nok(g.net, rate) + mapping.to_nok(g.vat, rate) for g in groups)
        return InvoiceTotals(
            invoice.total_excl_vat_ore,
            invoice.total_vat_ore,
            invoice.total_incl_vat_ore,
            _labelled(mapping.split_of(groups)),
            gross_nok,
        )

    def _remember(self, kind: str, remote_id: int, totals: InvoiceTotals) -> None:
        self._read_back[(kind, str(remote_id))] = totals

    # ------------------------------------------------------------------ company facts
    def _facts(self) -> dict[str, Any]:
        with _facts_lock:
            key = (self.tenant.tenant_id, self.client.company_slug or "")
            return _company_facts.setdefault(key, {})

    def _vat_registered(self) -> bool:
        if self.tenant.mapping.vat_registered is not None:
            return self.tenant.mapping.vat_registered
        facts = self._facts()
        if "vat_registered" not in facts:
            facts["vat_registered"] = (self.client.get_company().vat_type or "").lower() != "no"
        registered: bool = facts["vat_registered"]
        return registered

    def _bank_account_code(self) -> str:
        facts = self._facts()
        wanted = self.tenant.mapping.bank_account_number
        fact = f"bank_account_code#{wanted or ''}"
        if fact in facts:
            known: str = facts[fact]
            return known
        accounts = [a for a in self.client.list_bank_accounts() if not a.inactive]
        if wanted:
            match = next((a for a in accounts if (a.bank_account_number or "") == wanted), None)
            if match is None:
                account_id = self.client.create_bank_account(
                    BankAccountRequest(
                        name=f"Driftskonto {wanted}", bank_account_number=wanted, type=BankAccountType.NORMAL
                    )
                )
                match = next(a for a in self.client.list_bank_accounts() if a.bank_account_id == account_id)
        else:
            normal = [a for a in accounts if (a.type or "normal").lower() == "normal" and a.account_code]
            if not normal:
                raise TenantLevelError(
                    TenantProblem.BANK_ACCOUNT_UNVERIFIED,
                    "the Fiken company has no bank account to issue invoices on",
                    remedy="set the tenant's bank account number (momentsync tenants settings) "
                    "or add one in Fiken",
                )
            match = normal[0]
        if not match.account_code:
            raise PermanentError(f"Fiken bank account {match.bank_account_id} has no account code")
        facts[fact] = match.account_code
        return match.account_code


def _per_account(groups: list[mapping.LineGroup]) -> list[mapping.LineGroup]:
    """One entry per (account, vatType): the hash of what Moment owns must not depend on how many
    Fiken lines rounding made of it, or a change of that rule would flag transferred invoices."""
    merged: dict[tuple[str, str], mapping.LineGroup] = {}
    for g in groups:
        seen = merged.get((g.account, g.vat_type))
        merged[(g.account, g.vat_type)] = (
            g
            if seen is None
            else mapping.LineGroup(
                g.account, g.vat_type, seen.net + g.net, seen.vat + g.vat, seen.descriptions + g.descriptions
            )
        )
    return list(merged.values())


def _labelled(split: mapping.Split) -> dict[str, tuple[int, int]]:
    return {f"account {account} {vat_type}": value for (account, vat_type), value in split.items()}


def _invoice_split(document: InvoiceResult | CreditNoteResult, sign: int = 1) -> mapping.Split:
    split: dict[tuple[str, str], tuple[int, int]] = {}
    for line in document.lines:
        key = (line.income_account or "?", line.vat_type or "?")
        net, vat = split.get(key, (0, 0))
        split[key] = (net + sign * (line.net or 0), vat + sign * (line.vat or 0))
    return {key: value for key, value in split.items() if value != (0, 0)}


def _foreign_nok(
    document: InvoiceResult | CreditNoteResult | SaleResult, gross_nok: int | None
) -> int | None:
    return gross_nok if (document.currency or "NOK").upper() != "NOK" else None


def _invoice_totals(found: InvoiceResult) -> InvoiceTotals:
    return InvoiceTotals(
        found.net or 0,
        found.vat or 0,
        found.gross or 0,
        _labelled(_invoice_split(found)),
        _foreign_nok(found, found.gross_in_nok),
    )


def _credit_note_totals(note: CreditNoteResult) -> InvoiceTotals:
    # Fiken states a credit note's amounts as positive; Moment's are negative.
    return InvoiceTotals(
        -abs(note.net or 0),
        -abs(note.vat or 0),
        -abs(note.gross or 0),
        _labelled(_invoice_split(note, sign=-1)),
        _foreign_nok(note, -abs(note.gross_in_nok or 0)),
    )


def _sale_totals(sale: SaleResult) -> InvoiceTotals:
    split: dict[tuple[str, str], tuple[int, int]] = {}
    foreign = (sale.currency or "NOK").upper() != "NOK"
    for line in sale.lines:
        # A foreign sale's own amounts are NOK; what Moment invoiced (in currency) is on the lines.
        line_net = (line.net_price_in_currency if foreign else line.net_price) or 0
        line_vat = (line.vat_in_currency if foreign else line.vat) or 0
        key = (line.account or "?", line.vat_type or "?")
        net, vat = split.get(key, (0, 0))
        split[key] = (net + line_net, vat + line_vat)
    if foreign:
        net = sum(value[0] for value in split.values())
        vat = sum(value[1] for value in split.values())
    else:
        net, vat = sale.net_amount or 0, sale.vat_amount or 0
    split = {key: value for key, value in split.items() if value != (0, 0)}
    nok = (sale.net_amount or 0) + (sale.vat_amount or 0)
    return InvoiceTotals(net, vat, net + vat, _labelled(split), _foreign_nok(sale, nok))


def _is_invoice_pdf(attachment: Attachment, invoice_number: Any) -> bool:
    # Fiken's attachment object has no filename field: the file name ends the download URL, and the
    # identifier may carry it. A PDF counts when its name carries the invoice number as a whole number
    # (ours is faktura-<number>.pdf; 2 is not 23); without a number to look for, any PDF counts.
    names = [attachment.identifier or "", unquote((attachment.download_url or "").rsplit("/", 1)[-1])]
    pdfs = [name for name in names if name.lower().endswith(".pdf")]
    if invoice_number is None:
        return bool(pdfs)
    number = re.compile(rf"(?<!\d){re.escape(str(invoice_number))}(?!\d)")
    return any(number.search(name) for name in pdfs)


def _about_counter(message: str | None) -> bool:
    text = (message or "").lower()
    return "counter" in text or "number series" in text or "nummerserie" in text


def _int(remote: RemoteRecord | None) -> int | None:
    return int(remote.remote_id) if remote else None


def _number(value: int | None) -> str | None:
    return str(value) if value is not None else None
