"""Moment records -> SpareBank 1 Regnskap bodies: pure functions carrying the business rules.

Moment's own rules come first (docs/reference/moment.md §4.3) and fail before any remote call: a customer
number is numeric within 100000-199999, a project number is numeric.

- Customers: upserted by ``CustomerNumber``. A new customer gets every row with a ``_createguid``
  derived from the Moment record and its version (uuid5), so a replayed write cannot insert twice; an
  update changes our fields on the object we fetched, echoing the ids of rows that exist.
- Projects: upserted by number; the status moves through the platform's transitions only.
- Invoices: one voucher per invoice (``journalentries?action=book-journal-entries``): the customer's
  sub-ledger account for the total, one line per Moment line on its sales account with the VAT type of
  Moment's code, project as a dimension; ``InvoiceNumber`` and KID (``PaymentID``) on every line; the
  voucher number from the KID, else from the invoice number. Amounts leave as decimal kroner converted
  from Moment's øre with ``Decimal``.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from momentsync.connectors.sparebank1.models import (
    PHONE_TYPE_FAX,
    PHONE_TYPE_PHONE,
    PROJECT_COMPLETED,
    PROJECT_DISCARDED,
    PROJECT_IN_PROGRESS,
    PROJECT_OFFER,
    PROJECT_REGISTERED,
    Address,
    BusinessRelation,
    Customer,
    Email,
    JournalEntry,
    JournalEntryLine,
    JournalEntryLineDraft,
    Phone,
    Project,
    ProjectDimensions,
    VatType,
)
from momentsync.errors import PermanentError
from momentsync.moment.models import Customer as MomentCustomer
from momentsync.moment.models import Invoice as MomentInvoice
from momentsync.moment.models import InvoiceLine as MomentInvoiceLine
from momentsync.moment.models import Project as MomentProject
from momentsync.ports import InvoiceTotals
from momentsync.tenants import MappingSettings

CUSTOMER_NUMBER_RANGE = (100000, 199999)
# JournalEntryNumberNumeric is int32: a KID longer than this cannot be the voucher number.
MAX_VOUCHER_KID_DIGITS = 9
_NAMESPACE = uuid.UUID("0b6f3d2a-9a43-4c4e-8a0f-5b1e0d7c2f61")
CENT = Decimal("0.01")
COUNTRY_NAMES = {
    "NO": "Norge",
    "SE": "Sverige",
    "DK": "Danmark",
    "FI": "Finland",
    "IS": "Island",
    "DE": "Tyskland",
    "GB": "Storbritannia",
    "US": "USA",
    "NL": "Nederland",
    "FR": "Frankrike",
    "ES": "Spania",
    "PL": "Polen",
}


# ---------------------------------------------------------------- Moment's rules
def customer_number(customer: MomentCustomer) -> int:
    low, high = CUSTOMER_NUMBER_RANGE
    value = (customer.customer_number or "").strip()
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise PermanentError(
            f"customer number {value or '(none)'} of customer '{customer.name}' is not allowed in "
            f"SpareBank 1 Regnskap: it must be numeric and between {low} and {high}; change it in Moment"
        )
    return int(value)


def project_number(project: MomentProject) -> int:
    value = (project.project_number or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise PermanentError(
            f"project number {value or '(none)'} of project '{project.name}' is not allowed in SpareBank 1 "
            "Regnskap: it must be numeric (at most 9 digits); change it in Moment"
        )
    return int(value)


def createguid(tenant_id: str, kind: str, moment_id: int, part: str, version: str = "") -> str:
    """The same Moment record (and version) always yields the same ``_createguid``."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}:{kind}:{moment_id}:{part}:{version}"))


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def _digits(value: str | None) -> str | None:
    cleaned = "".join(ch for ch in (value or "") if ch.isdigit())
    return cleaned or None


# ---------------------------------------------------------------- customers
def customer_content(customer: MomentCustomer) -> dict[str, Any]:
    """The fields we own, after Moment's rules (a rule violation raises here, before any call)."""
    code = (_clean(customer.country_code) or "NO").upper()
    return {
        "CustomerNumber": customer_number(customer),
        "Name": customer.name,
        "OrgNumber": _digits(customer.organization_number),
        "EmailAddress": _clean(customer.invoice_email) or _clean(customer.email),
        "WebUrl": _clean(customer.website),
        "Phone": _clean(customer.phone),
        "Fax": _clean(customer.fax),
        "InvoiceAddress": {
            "AddressLine1": _clean(customer.street),
            "AddressLine2": _clean(customer.street2),
            "PostalCode": _clean(customer.post_code),
            "City": _clean(customer.city),
            "CountryCode": code,
            "Country": COUNTRY_NAMES.get(code, code),
        },
        "CurrencyCode": (_clean(customer.currency_code) or "").upper() or None,
        "Active": customer.active,
    }


# InvoiceAddress field -> the Moment customer field it comes from.
_ADDRESS_SOURCES = {
    "AddressLine1": "street",
    "AddressLine2": "street2",
    "PostalCode": "post_code",
    "City": "city",
    "CountryCode": "country_code",
    "Country": "country_code",
}


def customer_body(
    tenant_id: str, customer: MomentCustomer, existing: Customer | None, *, currency_id: int | None
) -> Customer:
    """A new customer (every row with a derived ``_createguid``) or the fetched one with our fields set."""
    owned = customer_content(customer)
    version = customer.last_modified.isoformat() if customer.last_modified else ""

    def guid(part: str) -> str:
        return createguid(tenant_id, "customer", customer.id, part, version)

    target = existing.model_copy(deep=True) if existing else Customer(createguid=guid("customer"))

    def sent(*names: str) -> bool:
        # On an existing customer, a field Moment did not send is unknown, not empty: keep the row's.
        return existing is None or any(customer.was_sent(name) for name in names)

    target.CustomerNumber = owned["CustomerNumber"]
    if sent("organization_number"):
        target.OrgNumber = owned["OrgNumber"]
    if sent("website"):
        target.WebUrl = owned["WebUrl"]
    if currency_id is not None:
        target.CurrencyCodeID = currency_id
    info = target.Info or BusinessRelation(createguid=guid("info"))
    info.Name = customer.name
    if existing is None or customer.was_sent("email") or _clean(customer.invoice_email):
        # ``invoiceEmail or email``: a null invoice e-mail says nothing about the e-mail itself.
        info.DefaultEmail = _row(info.DefaultEmail, Email, guid("email"), EmailAddress=owned["EmailAddress"])
    if sent("phone"):
        info.DefaultPhone = _row(
            info.DefaultPhone, Phone, guid("phone"), Number=owned["Phone"], Type=PHONE_TYPE_PHONE
        )
    address = {key: value for key, value in owned["InvoiceAddress"].items() if sent(_ADDRESS_SOURCES[key])}
    if address:
        info.InvoiceAddress = _row(info.InvoiceAddress, Address, guid("address"), **address)
    fax = next((p for p in info.Phones or [] if p.Type == PHONE_TYPE_FAX), None)
    if not sent("fax"):
        pass
    elif fax is not None:
        fax.Number = owned["Fax"]
    elif owned["Fax"]:
        info.Phones = [
            *(info.Phones or []),
            Phone(createguid=guid("fax"), Number=owned["Fax"], Type=PHONE_TYPE_FAX),
        ]
    # The same rows may also sit in Phones/Emails: keep both copies saying the same thing.
    for default, rows in ((info.DefaultPhone, info.Phones), (info.DefaultEmail, info.Emails)):
        for row in rows or []:
            if default is not None and default.ID and row.ID == default.ID:
                for name, value in default.model_dump(exclude={"ID", "createguid"}).items():
                    setattr(row, name, value)
    target.Info = info
    return target


def _row(existing: Any, model: type, guid: str, **values: Any) -> Any:
    """Update a child row in place (its ID kept), or create it when there is something to say."""
    if existing is not None:
        for name, value in values.items():
            setattr(existing, name, value)
        return existing
    if not any(value for name, value in values.items() if name not in ("Type", "CountryCode", "Country")):
        return None
    return model(createguid=guid, **values)


# ---------------------------------------------------------------- projects
# Moment state (compared loosely) -> the status we steer the platform's project to.
WANTED_PROJECT_STATUS = {
    "potential": PROJECT_OFFER,
    "offer": PROJECT_OFFER,
    "notstarted": PROJECT_REGISTERED,
    "inprogress": PROJECT_IN_PROGRESS,
    "active": PROJECT_IN_PROGRESS,
    "onhold": PROJECT_IN_PROGRESS,
    "completed": PROJECT_COMPLETED,
    "closed": PROJECT_COMPLETED,
    "finished": PROJECT_COMPLETED,
    "done": PROJECT_COMPLETED,
    "cancelled": PROJECT_DISCARDED,
    "canceled": PROJECT_DISCARDED,
}
# action -> (statuses it starts from, status it leads to) (docs/reference/sparebank1.md §5; the graph is
# [INF]).
PROJECT_TRANSITIONS: dict[str, tuple[frozenset[int], int]] = {
    "InitiateProject": (frozenset({PROJECT_REGISTERED}), PROJECT_OFFER),
    "StartProject": (frozenset({PROJECT_REGISTERED, PROJECT_OFFER}), PROJECT_IN_PROGRESS),
    "CompleteProject": (frozenset({PROJECT_IN_PROGRESS}), PROJECT_COMPLETED),
    "DiscardProject": (
        frozenset({PROJECT_REGISTERED, PROJECT_OFFER, PROJECT_IN_PROGRESS}),
        PROJECT_DISCARDED,
    ),
    "ReactivateProject": (frozenset({PROJECT_COMPLETED, PROJECT_DISCARDED}), PROJECT_IN_PROGRESS),
}


def wanted_project_status(project: MomentProject) -> int | None:
    state = "".join(ch for ch in (project.project_state or "").lower() if ch.isalnum())
    return WANTED_PROJECT_STATUS.get(state)


def project_transitions(current: int | None, wanted: int | None) -> list[str] | None:
    """The shortest chain of transitions to ``wanted``: [] when there already, None when impossible."""
    start = current if current is not None else PROJECT_REGISTERED
    if wanted is None or start == wanted:
        return []
    paths: deque[tuple[int, list[str]]] = deque([(start, [])])
    seen = {start}
    while paths:
        status, path = paths.popleft()
        for action, (sources, target) in PROJECT_TRANSITIONS.items():
            if status in sources and target not in seen:
                if target == wanted:
                    return [*path, action]
                seen.add(target)
                paths.append((target, [*path, action]))
    return None


def project_content(project: MomentProject, customer_id: int | None) -> dict[str, Any]:
    return {
        "ProjectNumber": str(project_number(project)),
        "Name": project.name,
        "ProjectCustomerID": customer_id,
        "StartDate": str(project.start_date) if project.start_date else None,
        "EndDate": str(project.end_date) if project.end_date else None,
        "Status": wanted_project_status(project),
    }


def project_body(project: MomentProject, existing: Project | None, customer_id: int | None) -> Project:
    number = project_number(project)
    target = existing.model_copy(deep=True) if existing else Project()
    target.Name = project.name
    target.ProjectNumber = str(number)
    target.ProjectNumberNumeric = number
    target.ProjectCustomerID = customer_id
    target.StartDate = project.start_date
    target.EndDate = project.end_date
    return target


# ---------------------------------------------------------------- invoices
def to_kroner(ore: int) -> Decimal:
    return (Decimal(ore) / 100).quantize(CENT)


def to_ore(kroner: Decimal) -> int:
    return int((kroner * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def voucher_number(invoice: MomentInvoice) -> str:
    """From the KID (Moment's rule), else the invoice number: a KID longer than int32 allows falls back."""
    kid = (invoice.payment_id or "").strip()
    if kid.isascii() and kid.isdigit() and len(kid) <= MAX_VOUCHER_KID_DIGITS and int(kid) > 0:
        return str(int(kid))
    if invoice.invoice_number is None:
        raise PermanentError("the invoice has no invoice number in Moment")
    return str(invoice.invoice_number)


@dataclass(frozen=True)
class SalesLine:
    """One Moment line, classified: the target account number and VAT code, Moment's øre."""

    account_number: str
    vat_code: str | None
    description: str
    net: int
    vat: int


def sales_lines(invoice: MomentInvoice, settings: MappingSettings) -> list[SalesLine]:
    if not invoice.lines:
        raise PermanentError(f"invoice {invoice.invoice_number} has no lines in Moment")
    if invoice.currency_code.upper() != "NOK":
        raise PermanentError(
            f"invoice {invoice.invoice_number} is in {invoice.currency_code}: only NOK invoices are "
            "transferred to SpareBank 1 Regnskap in this release"
        )
    lines = []
    for line in invoice.lines:
        account = line.account_number
        if not account:
            raise PermanentError(
                f"a line of invoice {invoice.invoice_number} has no sales account in Moment "
                f"({line.description!r})"
            )
        code = line.vat_code
        if code is not None:
            code = settings.vat_code_overrides.get(code, code)
        if line.amount_excl_vat_ore == 0 and line.vat_amount_ore == 0:
            continue  # the platform refuses a zero line, and it books nothing
        lines.append(
            SalesLine(
                account_number=settings.account_overrides.get(account, account),
                vat_code=code,
                description=line_text(line),
                net=line.amount_excl_vat_ore,
                vat=line.vat_amount_ore,
            )
        )
    if not lines:
        raise PermanentError(f"invoice {invoice.invoice_number} has only zero lines in Moment")
    return lines


def line_text(line: MomentInvoiceLine) -> str:
    text = (line.description or "").strip() or "Faktura"
    if line.quantity != 1:
        text += f" ({_plain(line.quantity)} x {_plain(line.unit_price)})"
    return text[:500]


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def check_vat(invoice: MomentInvoice, line: SalesLine, vat_type: VatType | None) -> None:
    """The platform splits VAT itself: a line goes only when that split gives Moment's VAT to the øre."""
    dated = vat_type.percent_on(invoice.invoice_date) if vat_type else None
    percent = dated if vat_type and vat_type.OutgoingAccountID else Decimal(0)
    expected = int((Decimal(line.net) * (percent or 0) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if expected != line.vat:
        code = line.vat_code or "(none)"
        raise PermanentError(
            f"invoice {invoice.invoice_number}, line '{line.description}': Moment's VAT "
            f"{to_kroner(line.vat)} does not match VAT code {code} on account {line.account_number} "
            f"({percent or 0} %) in SpareBank 1 Regnskap; make the VAT codes equal in Moment and SpareBank 1"
        )


def invoice_text(invoice: MomentInvoice, customer_name: str | None, credited: str | None) -> str:
    if invoice.is_credit_note:
        text = f"Kreditnota {invoice.invoice_number}"
        if invoice.credited_invoice_number is not None:
            text += f" for faktura {invoice.credited_invoice_number}"
        if credited:
            text += f" (bilag {credited})"
    else:
        text = f"Faktura {invoice.invoice_number}"
    if customer_name:
        text += f" {customer_name}"
    description = (invoice.description or "").strip()
    if description:
        # Moment's invoice description (what the invoice is for) belongs in the voucher text.
        text += f" - {description}"
    # A voucher has no reference fields: Moment's references follow in its text.
    labelled = [
        ("Deres ref.", invoice.your_reference),
        ("Vår ref.", invoice.our_reference),
        ("Kundens ref.", invoice.their_reference),
    ]
    references = ", ".join(f"{label} {value.strip()}" for label, value in labelled if value and value.strip())
    if references:
        text += f" - {references}"
    return text[:200]


def voucher(
    tenant_id: str,
    invoice: MomentInvoice,
    lines: list[SalesLine],
    *,
    customer_account_id: int,
    sales_accounts: dict[str, int],
    vat_types: dict[str, VatType],
    project_id: int | None,
    customer_name: str | None,
    credited_voucher: str | None,
    amounts_include_vat: bool = True,
) -> JournalEntry:
    """One voucher: the receivable (sub-ledger) leg for the total, one sales leg per Moment line.

    Signs: an invoice debits the customer (positive) and credits sales (negative); a credit note, whose
    Moment lines are negative, comes out reversed by the same arithmetic. ``amounts_include_vat``: the
    platform splits a sales leg with an output VAT type into net + VAT [INF, docs/reference/sparebank1.md
    §6.2].
    """
    assert invoice.invoice_date is not None
    financial_date: date = invoice.invoice_date
    number = str(invoice.invoice_number)
    kid = _clean(invoice.payment_id)
    text = invoice_text(invoice, customer_name, credited_voucher)
    total = sum(line.net + line.vat for line in lines)

    def dimensions(index: int) -> ProjectDimensions | None:
        if project_id is None:
            return None
        return ProjectDimensions(
            ProjectID=project_id,
            createguid=createguid(tenant_id, "invoice", invoice.id, f"dimensions-{index}"),
        )

    # A zero total (e.g. +500 / -500) has no receivable: the platform refuses a zero line, and the
    # sales legs balance on their own.
    drafts = (
        []
        if total == 0
        else [
            JournalEntryLineDraft(
                AccountID=customer_account_id,
                Amount=to_kroner(total),
                FinancialDate=financial_date,
                VatDate=financial_date,
                DueDate=invoice.due_date or financial_date,
                InvoiceNumber=number,
                PaymentID=kid,
                Description=text[:500],
                Dimensions=dimensions(0),
            )
        ]
    )
    for index, line in enumerate(lines, start=1):
        vat_type = vat_types.get(line.vat_code) if line.vat_code else None
        amount = line.net + line.vat if amounts_include_vat else line.net
        drafts.append(
            JournalEntryLineDraft(
                AccountID=sales_accounts[line.account_number],
                Amount=-to_kroner(amount),
                FinancialDate=financial_date,
                VatDate=financial_date,
                VatTypeID=vat_type.ID if vat_type else None,
                InvoiceNumber=number,
                PaymentID=kid,
                Description=line.description,
                Dimensions=dimensions(index),
            )
        )
    return JournalEntry(
        JournalEntryNumber=voucher_number(invoice),
        Description=text,
        ExternalReference=external_reference(tenant_id, invoice),
        ExternalSource=EXTERNAL_SOURCE,
        DraftLines=drafts,
    )


# JournalEntry.ExternalReference / ExternalSource (docs/reference/sparebank1.md §8) carry the natural key of a
# booked Moment invoice: the tenant (one Moment company) and Moment's invoice id (the sync state's key too).
EXTERNAL_SOURCE = "momentsync"


def external_reference(tenant_id: str, invoice: MomentInvoice) -> str:
    return f"{tenant_id}:invoice:{invoice.id}"


def credits_invoice(description: str | None, invoice_number: int | None, voucher: str | None = None) -> bool:
    """Whether a receivable line's text (``invoice_text``) is a credit note on the invoice: by Moment's
    invoice number, or by the credited voucher when Moment named no number."""
    text = description or ""
    if not text.startswith("Kreditnota "):
        return False
    if invoice_number is not None and re.match(rf"Kreditnota \d+ for faktura {invoice_number}(?!\d)", text):
        return True
    return bool(voucher) and f"(bilag {voucher})" in text


def voucher_matches(line: JournalEntryLine, number: str) -> bool:
    """``N`` or the platform's ``N-YYYY`` form of our voucher number."""
    stored = (line.JournalEntryNumber or "").strip()
    return stored == number or stored.split("-", 1)[0] == number


def voucher_totals(
    lines: list[JournalEntryLine], vat_account_ids: set[int], vat_codes: dict[int, str] | None = None
) -> InvoiceTotals:
    """Net, VAT and total (øre, Moment's signs) as booked: total on the sub-ledger, VAT on VAT accounts,
    and (net, VAT) per VAT code: sales legs and VAT legs both carry the line's VatTypeID."""
    gross = sum(to_ore(line.Amount or Decimal(0)) for line in lines if line.SubAccountID is not None)
    vat = -sum(to_ore(line.Amount or Decimal(0)) for line in lines if line.AccountID in vat_account_ids)
    groups: dict[str, tuple[int, int]] = {}
    if vat_codes is not None:
        for line in lines:
            if line.SubAccountID is not None:
                continue
            key = _vat_group(vat_codes.get(line.VatTypeID) if line.VatTypeID is not None else None)
            amount = -to_ore(line.Amount or Decimal(0))
            net_part, vat_part = groups.get(key, (0, 0))
            if line.AccountID in vat_account_ids:
                groups[key] = (net_part, vat_part + amount)
            else:
                groups[key] = (net_part + amount, vat_part)
    return InvoiceTotals(net=gross - vat, vat=vat, gross=gross, groups=groups)


def expected_totals(invoice: MomentInvoice, lines: list[SalesLine]) -> InvoiceTotals:
    """Moment's figures per VAT code, grouped as ``voucher_totals`` groups the booked voucher."""
    groups: dict[str, tuple[int, int]] = {}
    for line in lines:
        key = _vat_group(line.vat_code)
        net, vat = groups.get(key, (0, 0))
        groups[key] = (net + line.net, vat + line.vat)
    return InvoiceTotals(
        invoice.total_excl_vat_ore, invoice.total_vat_ore, invoice.total_incl_vat_ore, groups
    )


def _vat_group(code: str | None) -> str:
    return f"VAT code {code or '(none)'}"
