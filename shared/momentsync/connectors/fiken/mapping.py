"""Moment records -> Fiken requests: pure functions that carry the business rules.

- Customers: Fiken assigns ``customerNumber`` itself (read-only), so Moment's customer number
  travels in ``memberNumberString``: filterable, and the key we find the contact by.
- Projects: number, name, dates, customer, completed. Fiken needs a start date and a number.
- Invoices: one Fiken line per (income account, vatType), amounts in integer øre as Moment
  computed them (explicit net, VAT and gross, so Fiken books Moment's figures to the øre).
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from momentsync.connectors.fiken.models import (
    Address,
    Contact,
    ContactLanguage,
    CreditNoteLine,
    FullCreditNoteRequest,
    InvoiceLineRequest,
    InvoiceRequest,
    OrderLine,
    PartialCreditNoteRequest,
    ProjectRequest,
    SaleRequest,
    UpdateProjectRequest,
)
from momentsync.connectors.fiken.vat import VAT_RATE_PERCENT, vat_type_for
from momentsync.errors import PermanentError
from momentsync.moment.models import Customer, Invoice, Project
from momentsync.tenants import MappingSettings

# Fiken's address.country is a country name (the spec's example is "Norway").
COUNTRY_NAMES = {
    "NO": "Norway",
    "SE": "Sweden",
    "DK": "Denmark",
    "FI": "Finland",
    "IS": "Iceland",
    "DE": "Germany",
    "GB": "United Kingdom",
    "UK": "United Kingdom",
    "US": "United States",
    "NL": "Netherlands",
    "FR": "France",
    "ES": "Spain",
    "PL": "Poland",
    "EE": "Estonia",
    "LT": "Lithuania",
    "LV": "Latvia",
}
DEFAULT_COUNTRY = "Norway"
_NAMESPACE = uuid.UUID("6f1c1f7e-4d0c-4e62-9c1b-0c5a3b1d2e77")


def member_number(customer: Customer) -> str:
    """Our link from a Fiken contact back to Moment: the customer number, Moment being master."""
    return customer.customer_number or f"moment-{customer.id}"


def _language(code: str | None) -> ContactLanguage | None:
    value = (code or "").strip().lower()
    if value in {"no", "nb", "nn", "nor", "norwegian", "norsk"}:
        return ContactLanguage.NORWEGIAN
    if value in {"en", "eng", "english"}:
        return ContactLanguage.ENGLISH
    return None


def _address(customer: Customer) -> Address | None:
    if not (customer.street or customer.post_code or customer.city):
        return None
    code = (customer.country_code or "NO").strip().upper()
    return Address(
        street_address=customer.street,
        street_address_line2=customer.street2,
        post_code=customer.post_code,
        city=customer.city,
        country=COUNTRY_NAMES.get(code, code or DEFAULT_COUNTRY),
    )


def _digits(value: str | None) -> str | None:
    cleaned = "".join(ch for ch in (value or "") if ch.isdigit())
    return cleaned or None


def contact_from_customer(customer: Customer) -> Contact:
    """The fields of a Fiken contact that Moment owns (everything else on the contact is Fiken's)."""
    phone = (customer.phone or "").strip() or None
    return Contact(
        name=customer.name,
        email=customer.invoice_email or customer.email,
        organization_number=_digits(customer.organization_number),
        phone_number=phone[:20] if phone else None,
        member_number_string=member_number(customer),
        customer=True,
        currency=(customer.currency_code or "").upper() or None,
        language=_language(customer.language),
        inactive=not customer.active,
        address=_address(customer),
    )


# Contact fields we own -> the Moment fields they come from. On update a field replaces Fiken's
# value (None clears it) only when Moment sent one of its sources: a field Moment did not send is
# unknown, not empty, and must never erase what is in Fiken (PUT replaces the whole contact).
OWNED_CONTACT_FIELDS: dict[str, tuple[str, ...]] = {
    "name": (),  # always (required)
    "email": ("invoice_email", "email"),
    "organization_number": ("organization_number",),
    "phone_number": ("phone",),
    "member_number_string": (),
    "customer": (),
    "currency": ("currency_code",),
    "language": ("language",),
    "inactive": ("customer_state",),
    "address": ("street", "street2", "post_code", "city", "country_code"),
}
_ADDRESS_SOURCES = {
    "street_address": "street",
    "street_address_line2": "street2",
    "post_code": "post_code",
    "city": "city",
    "country": "country_code",
}


def owned_contact_fields(
    contact: Contact, customer: Customer | None = None, existing_address: object | None = None
) -> dict[str, object]:
    """The owned fields to write over Fiken's copy: all of them, or (given the Moment ``customer``)
    only those Moment sent; the address is merged field by field with ``existing_address``."""
    owned: dict[str, object] = {}
    for name, sources in OWNED_CONTACT_FIELDS.items():
        if customer is None or not sources:
            owned[name] = getattr(contact, name)
        elif name == "address":
            if any(customer.was_sent(source) for source in sources):
                owned[name] = _merged_address(contact.address, customer, existing_address)
        elif name == "email":
            # ``invoiceEmail or email``: a null invoice e-mail says nothing about the e-mail itself,
            # so only a value, or the e-mail sent (even as null), replaces Fiken's.
            if email_known(customer):
                owned[name] = contact.email
        elif any(customer.was_sent(source) for source in sources):
            owned[name] = getattr(contact, name)
    return owned


def email_known(customer: Customer) -> bool:
    """Whether Moment told us the contact's e-mail (``invoiceEmail`` with a value, or ``email``)."""
    return customer.was_sent("email") or bool((customer.invoice_email or "").strip())


def _merged_address(wanted: Address | None, customer: Customer, existing: object | None) -> Address | None:
    values = {field: getattr(existing, field, None) for field in _ADDRESS_SOURCES}
    for field, source in _ADDRESS_SOURCES.items():
        if customer.was_sent(source):
            values[field] = getattr(wanted, field, None) if wanted is not None else None
    if customer.was_sent("country_code") and (customer.country_code or "").strip():
        # The country Moment sent, even when the rest of the address came under names we do not read
        # (``wanted`` is None then, and its Norway default must not replace it).
        code = customer.country_code.strip().upper()  # type: ignore[union-attr]
        values["country"] = COUNTRY_NAMES.get(code, code)
    if not any(values[field] for field in ("street_address", "post_code", "city")):
        return None
    return Address(**{**values, "country": values["country"] or DEFAULT_COUNTRY})


def project_request(project: Project, contact_id: int | None) -> ProjectRequest:
    if not project.project_number:
        raise PermanentError(f"project {project.id} has no project number in Moment")
    if project.start_date is None:
        raise PermanentError(f"project {project.project_number} has no start date")
    return ProjectRequest(
        number=project.project_number,
        name=project.name,
        start_date=project.start_date,
        end_date=project.end_date,
        contact_id=contact_id,
        completed=project.completed,
    )


def project_update(request: ProjectRequest) -> UpdateProjectRequest:
    return UpdateProjectRequest(
        name=request.name,
        start_date=request.start_date,
        end_date=request.end_date,
        contact_id=request.contact_id,
        completed=request.completed,
    )


@dataclass(frozen=True)
class LineGroup:
    account: str
    vat_type: str
    net: int
    vat: int
    descriptions: tuple[str, ...]

    @property
    def description(self) -> str:
        text = "; ".join(dict.fromkeys(d for d in self.descriptions if d))
        return text if len(text) <= 200 else text[:197] + "..."


def classify_lines(invoice: Invoice, settings: MappingSettings, *, vat_registered: bool) -> list[tuple]:
    """Each Moment line with its Fiken income account and vatType (permanent errors name the fix)."""
    if not invoice.lines:
        raise PermanentError(f"invoice {invoice.invoice_number} has no lines in Moment")
    classified = []
    for line in invoice.lines:
        moment_account = line.account_number
        if not moment_account:
            raise PermanentError(
                f"a line of invoice {invoice.invoice_number} has no sales account in Moment "
                f"({line.description!r})"
            )
        vat_type = vat_type_for(
            line.vat_code,
            account=moment_account,
            overrides=settings.vat_code_overrides,
            vat_registered=vat_registered,
        )
        classified.append((line, settings.account_overrides.get(moment_account, moment_account), vat_type))
    return classified


def group_lines(invoice: Invoice, settings: MappingSettings, *, vat_registered: bool) -> list[LineGroup]:
    """Moment's lines grouped by (income account, vatType), keeping Moment's own øre amounts.

    Moment rounds VAT line by line; a merged line whose VAT is not what its net gives at the rate
    would book differently if Fiken recomputes VAT from the net (its rules are not documented). So a
    line joins a group only while the group stays consistent (VAT = net × rate, rounded half up);
    otherwise it starts another line on the same account. Usually that is one line per account.
    """
    buckets: OrderedDict[tuple[str, str], list[list]] = OrderedDict()
    for line, account, vat_type in classify_lines(invoice, settings, vat_registered=vat_registered):
        rate = VAT_RATE_PERCENT[vat_type]
        groups = buckets.setdefault((account, vat_type), [])
        for group in groups:
            if _consistent([*group, line], rate, vat_registered):
                group.append(line)
                break
        else:
            groups.append([line])
    return [
        LineGroup(
            account=account,
            vat_type=vat_type,
            net=sum(line.amount_excl_vat_ore for line in lines),
            # A company outside the VAT register charges none, whatever Moment's account says.
            vat=sum(line.vat_amount_ore for line in lines) if vat_registered else 0,
            descriptions=tuple(line.description or "" for line in lines),
        )
        for (account, vat_type), groups in buckets.items()
        for lines in groups
    ]


def _consistent(lines: list, rate: Decimal, vat_registered: bool) -> bool:
    if len(lines) == 1 or not vat_registered:
        return True
    net = sum(line.amount_excl_vat_ore for line in lines)
    vat = sum(line.vat_amount_ore for line in lines)
    return vat == int((Decimal(net) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def invoice_uuid(tenant_id: str, invoice: Invoice) -> uuid.UUID:
    """Deterministic per tenant and Moment invoice: the same invoice always carries the same uuid."""
    return uuid.uuid5(_NAMESPACE, f"{tenant_id}:invoice:{invoice.id}")


def order_reference(invoice: Invoice) -> str:
    """The natural key Fiken can filter invoices by: Moment's invoice number (Moment is master)."""
    return str(invoice.invoice_number)


def references_text(invoice: Invoice, *, with_fields: bool) -> str | None:
    """Moment's references for a document's text. ``with_fields``: the document has yourReference and
    ourReference fields, so only "their reference" (no Fiken field) goes in the text."""
    labelled = [("Kundens ref.", invoice.their_reference)]
    if not with_fields:
        labelled = [("Deres ref.", invoice.your_reference), ("Vår ref.", invoice.our_reference), *labelled]
    parts = [f"{label} {value.strip()}" for label, value in labelled if value and value.strip()]
    return ", ".join(parts) or None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def invoice_text(invoice: Invoice) -> str:
    parts = [f"Moment-faktura {invoice.invoice_number}"]
    if invoice.payment_id:
        parts.append(f"KID {invoice.payment_id}")
    references = references_text(invoice, with_fields=True)
    if references:
        parts.append(references)
    if invoice.description:
        parts.append(invoice.description)
    return _clip(" - ".join(parts), 500)


def credit_note_text(credit_note: Invoice, *, with_fields: bool) -> str:
    """Starts with the marker ``is_credit_note_text_of`` finds the credit note by."""
    text = f"Moment-kreditnota {credit_note.invoice_number}"
    references = references_text(credit_note, with_fields=with_fields)
    return _clip(f"{text} - {references}" if references else text, 500)


def invoice_request(
    tenant_id: str,
    invoice: Invoice,
    groups: list[LineGroup],
    *,
    customer_id: int,
    project_id: int | None,
    bank_account_code: str,
) -> InvoiceRequest:
    return InvoiceRequest(
        uuid=invoice_uuid(tenant_id, invoice),
        issue_date=invoice.invoice_date,
        due_date=invoice.due_date or invoice.invoice_date,
        lines=[
            InvoiceLineRequest(
                quantity=1,
                unit_price=group.net,
                net=group.net,
                vat=group.vat,
                gross=group.net + group.vat,
                vat_type=group.vat_type,
                income_account=group.account,
                description=group.description or None,
            )
            for group in groups
        ],
        your_reference=invoice.your_reference,
        our_reference=invoice.our_reference,
        order_reference=order_reference(invoice),
        customer_id=customer_id,
        bank_account_code=bank_account_code,
        currency=invoice.currency_code.upper(),
        invoice_text=invoice_text(invoice),
        project_id=project_id,
        cash=False,
    )


def sale_request(
    invoice: Invoice, groups: list[LineGroup], *, customer_id: int, project_id: int | None
) -> SaleRequest:
    """Mode ``sale``: Moment's own number, KID and PDF are the document; Fiken books it. A sale has no
    reference or text field: Moment's references lead the first line's description."""
    lines = [_order_line(invoice, group) for group in groups]
    references = references_text(invoice, with_fields=False)
    if references and lines:
        lines[0].description = _clip(f"{references}: {lines[0].description}", 200)
    return SaleRequest(
        sale_number=str(invoice.invoice_number),
        date=invoice.invoice_date,
        due_date=invoice.due_date,
        kind="external_invoice",
        kid=invoice.payment_id,
        currency=invoice.currency_code.upper(),
        customer_id=customer_id,
        project_id=project_id,
        lines=lines,
    )


def _order_line(invoice: Invoice, group: LineGroup) -> OrderLine:
    description = group.description or f"Moment-faktura {invoice.invoice_number}"
    if invoice.currency_code.upper() == "NOK":
        return OrderLine(
            description=description,
            net_price=group.net,
            vat=group.vat,
            vat_type=group.vat_type,
            account=group.account,
        )
    # netPrice/vat are booked in NOK: a EUR amount sent there would be booked as that many NOK.
    # Moment's amounts go in the *InCurrency fields, converted at Moment's rate for the books.
    return OrderLine(
        description=description,
        net_price=to_nok(group.net, invoice.currency_rate),
        vat=to_nok(group.vat, invoice.currency_rate),
        net_price_in_currency=group.net,
        vat_in_currency=group.vat,
        vat_type=group.vat_type,
        account=group.account,
    )


def to_nok(amount: int, rate: Decimal) -> int:
    """Minor units of a foreign currency as øre at ``rate`` (NOK per unit), rounded half away from zero."""
    return int((Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


Split = dict[tuple[str, str], tuple[int, int]]


def split_of(groups: list[LineGroup]) -> Split:
    """(net, VAT) per (income account, vatType), zero groups left out: what a document books."""
    split: dict[tuple[str, str], tuple[int, int]] = {}
    for g in groups:
        net, vat = split.get((g.account, g.vat_type), (0, 0))
        split[(g.account, g.vat_type)] = (net + g.net, vat + g.vat)
    return {key: value for key, value in split.items() if value != (0, 0)}


def mirrors(credit_split: Split, original_split: Split) -> bool:
    """A full credit note books the original's own lines again, negated: only right when Moment's credit
    note has exactly those lines (account, VAT type, net and VAT). A credit at another rate or on another
    account with the same gross is a partial credit note with Moment's lines."""
    return bool(original_split) and credit_split == {
        key: (-net, -vat) for key, (net, vat) in original_split.items()
    }


def full_credit_note(credit_note: Invoice, invoice_id: int) -> FullCreditNoteRequest:
    return FullCreditNoteRequest(
        issue_date=credit_note.invoice_date,
        invoice_id=invoice_id,
        credit_note_text=credit_note_text(credit_note, with_fields=False),
    )


def partial_credit_note(
    credit_note: Invoice,
    settings: MappingSettings,
    *,
    vat_registered: bool,
    invoice_id: int,
    customer_id: int,
    project_id: int | None,
) -> PartialCreditNoteRequest:
    """Line by line, positive amounts (the document itself is the credit). Fiken computes each
    line's VAT from its net, which equals Moment's own per-line VAT; grouping would round differently.
    """
    return PartialCreditNoteRequest(
        issue_date=credit_note.invoice_date,
        invoice_id=invoice_id,
        contact_id=customer_id,
        project=project_id,
        currency=credit_note.currency_code.upper(),
        order_reference=order_reference(credit_note),
        your_reference=credit_note.your_reference,
        our_reference=credit_note.our_reference,
        credit_note_text=credit_note_text(credit_note, with_fields=True),
        lines=[
            CreditNoteLine(
                quantity=1,
                unit_price=-line.amount_excl_vat_ore,
                vat_type=vat_type,
                income_account=account,
                description=(line.description or "")[:200] or None,
            )
            for line, account, vat_type in classify_lines(
                credit_note, settings, vat_registered=vat_registered
            )
        ],
    )


SALE_CREDIT_PREFIX = "Kreditnota for Moment-faktura"


def sale_credit_request(
    credit_note: Invoice,
    groups: list[LineGroup],
    *,
    credited_number: str | None,
    customer_id: int,
    project_id: int | None,
) -> SaleRequest:
    """Sale mode has no credit note endpoint for sales (docs/reference/fiken.md §3.7): Moment's credit note is
    booked as a sale of its own, numbered by Moment, with Moment's negative lines; each line names the sale it
    credits, which is how the credits of a sale are found again (over-crediting)."""
    request = sale_request(credit_note, groups, customer_id=customer_id, project_id=project_id)
    prefix = f"{SALE_CREDIT_PREFIX} {credited_number}"
    for order_line in request.lines:
        order_line.description = f"{prefix}: {order_line.description}"[:200]
    return request


def is_sale_credit_of(descriptions: list[str | None], sale_number: str | None) -> bool:
    """Whether a sale's lines say it credits ``sale_number`` (2 must not match 23)."""
    pattern = re.compile(rf"^{SALE_CREDIT_PREFIX} {re.escape(str(sale_number))}(?!\d)")
    return bool(descriptions) and all(pattern.match(d or "") for d in descriptions)


def is_credit_note_text_of(text: str | None, invoice_number: int | None) -> bool:
    """Whether a Fiken credit note's text names this Moment credit note (2 must not match 23)."""
    return bool(text) and re.search(rf"Moment-kreditnota {invoice_number}(?!\d)", text or "") is not None
